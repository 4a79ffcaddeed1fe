.PHONY: setup serve test lint
setup:
	bash scripts/setup.sh

serve: setup
	.venv/bin/ocrgate serve

test: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy
