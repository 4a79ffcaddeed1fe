.PHONY: setup setup-serve serve test lint
# .venv: the package with its test and vlm extras (tests, lint, benchmarks)
setup:
	bash scripts/setup.sh

# .venv-serve: the runtime only (torch only when a local VLM engine is configured)
setup-serve:
	bash scripts/setup.sh serve

serve: setup-serve
	.venv-serve/bin/ocrgate serve

test: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy
