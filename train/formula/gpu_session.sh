#!/usr/bin/env bash
# One lent-GPU session of formula training, as run through the device tool:
#   carry gpu_carry/ (rapidfuzz wheel for the machine's Python + data.tgz made with
#   `generate.py --clean`), then: bash train/formula/gpu_session.sh MINUTES [STEPS]
# Writes the exported ONNX files to $OUT/onnx (split below the 16 MiB transfer limit).
set -euo pipefail
minutes=${1:-6}
steps=${2:-200000}
python3 -m pip install -q --no-index gpu_carry/*.whl
mkdir -p /tmp/fml && tar xzf gpu_carry/data.tgz -C /tmp/fml
# one labels file over the generator's part folders
: > /tmp/fml/labels.jsonl
for part in /tmp/fml/p*/; do
  name=$(basename "$part")
  sed "s#\"images/#\"$name/images/#" "$part/labels.jsonl" >> /tmp/fml/labels.jsonl
done
wc -l /tmp/fml/labels.jsonl
export PYTHONPATH=src
nvidia-smi --query-gpu=name --format=csv,noheader
python3 train/formula/train.py --data /tmp/fml --out /tmp/run --device cuda --augment \
  --workers "$(( $(nproc) - 2 ))" --max-minutes "$minutes" --steps "$steps" --warmup 500 \
  --val-every 2000 --val 200 --batch 64
ck=/tmp/run/best.pt; [ -f "$ck" ] || ck=/tmp/run/last.pt
python3 train/formula/export_onnx.py "$ck" --out "$OUT/onnx"
cd "$OUT/onnx"
for f in *; do
  if [ "$(stat -c %s "$f")" -gt $((15 * 1024 * 1024)) ]; then split -b 15m "$f" "$f.part-" && rm "$f"; fi
done
ls -la
