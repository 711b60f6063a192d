#!/bin/bash
# fp32 greedy tokens, medcap on WebGPU against PyTorch, on the full-size random Qwen2-VL-2B
# (issue #12 §3; docs/PERFORMANCE.md, "GPU captioning"). On the lent GPU machine, from the
# repository root, CARRY made by bench/gpu-carry.sh:
#
#   bash bench/gpu-fp32-parity.sh OUTDIR [CARRY]
#
# bench/gpu_fp32_parity.py builds the model, runs PyTorch fp32 `generate` on 4 images with 32
# new tokens and exports the model fp32; then `medcap caption --device webgpu --dtype fp32`
# captions the same PNGs, and the captions are compared image by image (OUTDIR/parity.json).
set -uo pipefail
OUT=${1:?outdir}
CARRY=${2:-.dev-gpu}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(pwd)
W=${BENCH_WORK:-/tmp/gpu-parity}
IMAGES=${BENCH_IMAGES:-4} NEW=${BENCH_NEW_TOKENS:-32}
PROMPT='Describe this medical image in one concise sentence, as a radiology figure caption: the imaging modality, the body region and the main finding.'
mkdir -p "$OUT" "$W"
source "$HERE/gpu-setup.sh"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/parity.log"; }
log "GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
PYTHONUNBUFFERED=1 timeout 400 python3 "$HERE/gpu_fp32_parity.py" prepare "$ROOT/models/tiny-qwen2-vl" \
  "$W/model" "$W/data" "$OUT/pytorch.json" --images "$IMAGES" --new-tokens "$NEW" --prompt "$PROMPT" 2>&1 \
  | grep -v -i warn | tail -20 | tee -a "$OUT/parity.log"
cp "$OUT/pytorch.json.export.jsonl" "$OUT/" 2>/dev/null
log "medcap fp32 on webgpu"
MEDCAP_MODEL_CACHE="$W/cache" timeout 150 "$APP/node" "$APP/dist/cli/bin.js" caption --data "$W/data" \
  --format folder --out "$W/out" --model "$W/model" --offline --device webgpu --dtype fp32 \
  --batch-size "$IMAGES" --max-new-tokens "$NEW" --prompt "$PROMPT" --checkpoint-every 0 2>&1 \
  | tail -6 | tee -a "$OUT/parity.log"
cp "$W/out/medical_captions_train.csv" "$OUT/medcap-captions.csv" 2>/dev/null
python3 "$HERE/gpu_fp32_parity.py" compare "$OUT/pytorch.json" "$W/out/medical_captions_train.csv" "$W/model" \
  | tee "$OUT/parity.json" | tee -a "$OUT/parity.log"
