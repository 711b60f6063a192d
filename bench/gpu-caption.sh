#!/bin/bash
# GPU captioning speed, medcap beside PyTorch, in one command (issue #12; docs/PERFORMANCE.md,
# "GPU captioning").
#
#   bash bench/gpu-caption.sh OUTDIR [CARRY]
#
# On the lent GPU machine (CARRY holds gl/*.deb, node.xz and app.tar.xz, made as docs/GPU.md
# says): builds a Qwen2-VL-2B-Instruct-shaped model with random weights and times PyTorch
# generate (bench/gpu_caption_model.py: bf16, sdpa), exports it fp16 in the Transformers.js
# layout, then runs `medcap caption --device webgpu --dtype fp16` on 64 images of 448x448 with
# 64 new tokens per batch size (BENCH_BATCHES), as medcap runs by default ("last"), then the
# BENCH_EXTRA_RUNS (batch:variant, default "8:full"), each with one engine setting back as it
# was: full (MEDCAP_FULL_LOGITS=1), vision-batch (MEDCAP_VISION_PER_IMAGE=0); batch b captions
# BENCH_IMAGES_PER_BATCH x b
# images (4 batches, at most BENCH_IMAGES = 64 images, at least one batch), with MEDCAP_PROFILE=1 for the
# time per stage. Before that, the matrix-product ceiling (bench/gpu_ceiling.py,
# bench/gpu-ceiling.mjs): the same fp16 and 4-bit chains through ONNX Runtime's provider
# and through PyTorch. Runs stop starting once BENCH_DEADLINE_S (default 540) seconds have
# passed. Writes OUTDIR/results.jsonl as it goes and OUTDIR/gpu-DATE.json at the end
# (bench/gpu-caption-summary.mjs).
#
# BENCH_SMOKE=1: the same steps on a CPU with the committed tiny model, a few small images and
# tokens, and no PyTorch unless it is installed (CI runs this; test/e2e/gpu-bench-smoke.test.ts).
set -uo pipefail
OUT=${1:?outdir}
CARRY=${2:-.dev-gpu}
ROOT=$(pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SMOKE=${BENCH_SMOKE:-}
EXTRA_RUNS=${BENCH_EXTRA_RUNS-8:full}
PER_BATCH=${BENCH_IMAGES_PER_BATCH:-4}
DEADLINE=$((SECONDS + ${BENCH_DEADLINE_S:-540}))
W=${BENCH_WORK:-/tmp/gpu-caption-bench}
mkdir -p "$OUT" "$W"
R="$OUT/results.jsonl"
: > "$R"
LOG="$OUT/bench.log"
log() { echo "[$(date +%T)] $*" | tee -a "$LOG"; }

if [ -n "$SMOKE" ]; then
  MEDCAP=("node" "$ROOT/dist/cli/bin.js")
  SHARP="$ROOT/node_modules/sharp"
  DEVICE=cpu DTYPE=auto IMAGES=${BENCH_IMAGES:-4} SIZE=56 NEW=${BENCH_NEW_TOKENS:-4}
  ORT="$ROOT/node_modules/onnxruntime-node"
  MEDCAP_BATCHES=${BENCH_BATCHES:-1 2} TORCH_BATCHES=${BENCH_TORCH_BATCHES:-1,2}
  MODEL="$ROOT/models/tiny-qwen2-vl"
else
  source "$HERE/gpu-setup.sh"
  MEDCAP=("$APP/node" "$APP/dist/cli/bin.js")
  SHARP="$APP/node_modules/sharp"
  DEVICE=${BENCH_DEVICE:-webgpu} DTYPE=fp16 IMAGES=${BENCH_IMAGES:-64} SIZE=448 NEW=${BENCH_NEW_TOKENS:-64}
  MEDCAP_BATCHES=${BENCH_BATCHES:-8 1 32 64} TORCH_BATCHES=${BENCH_TORCH_BATCHES:-1,8,32,64}
  ORT="$APP/node_modules/onnxruntime-node"
  MODEL="$W/model"
fi
GPU=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)
log "node $(node --version 2>/dev/null); device ${GPU:-cpu only}; medcap --device $DEVICE --dtype $DTYPE"
echo "{\"stage\":\"setup\",\"device\":\"${GPU:-cpu}\",\"medcap_device\":\"$DEVICE\",\"images\":$IMAGES,\"image_px\":$SIZE,\"new_tokens\":$NEW}" >> "$R"

if python3 -c 'import torch, transformers' 2>/dev/null; then
  log "PyTorch: build the model, time generate at batch $TORCH_BATCHES"
  if [ -n "$SMOKE" ]; then
    log "PyTorch is installed, but the smoke mode does not build the 2B model; skipped"
  else
    PYTHONUNBUFFERED=1 timeout "${BENCH_TORCH_TIMEOUT:-330}" python3 "$HERE/gpu_caption_model.py" \
      "$ROOT/models/tiny-qwen2-vl" "$MODEL" "$R" "$TORCH_BATCHES" --images "${BENCH_TORCH_IMAGES:-64}" --new-tokens "$NEW" \
      2>&1 | grep -v -i warn | tail -30 | tee -a "$LOG"
  fi
else
  log "PyTorch is not installed here: no PyTorch numbers"
fi
[ -f "$MODEL/config.json" ] || { log "no model at $MODEL, stopping"; exit 1; }

if python3 -c 'import onnx, numpy' 2>/dev/null && [ -z "${BENCH_NO_CEILING:-}" ]; then
  log "ceiling: fp16 and 4-bit matrix-product chains, ONNX Runtime $DEVICE then PyTorch"
  python3 "$HERE/gpu_ceiling.py" build "$W/ceiling" | tee -a "$LOG"
  [ -n "$SMOKE" ] && export BENCH_CEILING_MAX_M=64
  timeout 120 node "$HERE/gpu-ceiling.mjs" "$ORT" "$W/ceiling" "$R" "$DEVICE" | tee -a "$LOG"
  if [ -z "$SMOKE" ] && python3 -c 'import torch' 2>/dev/null; then
    timeout 60 python3 "$HERE/gpu_ceiling.py" torch "$R" | tee -a "$LOG"
  fi
else
  log "no ceiling measured (needs python3 with onnx and numpy)"
fi

log "images: $IMAGES of ${SIZE}x$SIZE"
node -e "
const sharp = require('$SHARP'); const fs = require('fs');
fs.mkdirSync('$W/data/train', { recursive: true });
(async () => {
  const rows = ['ID,Caption'];
  for (let i = 0; i < $IMAGES; i++) {
    const px = Buffer.alloc($SIZE * $SIZE * 3);
    for (let j = 0; j < px.length; j++) px[j] = (j * 7 + i * 131 + (j >> 9) * 3) & 255;
    await sharp(px, { raw: { width: $SIZE, height: $SIZE, channels: 3 } }).jpeg().toFile('$W/data/train/I' + i + '.jpg');
    rows.push('I' + i + ',A caption.');
  }
  fs.writeFileSync('$W/data/train_captions.csv', rows.join('\n') + '\n');
})();" || { log "cannot write the images"; exit 1; }

runs=""
for bs in $MEDCAP_BATCHES; do runs="$runs $bs:last"; done
runs="$runs $EXTRA_RUNS"
for spec in $runs; do
  bs=${spec%%:*} variant=${spec##*:}
  left=$((DEADLINE - SECONDS))
  if [ "$left" -lt 30 ]; then log "batch $bs ($variant): skipped, the time budget is spent"; continue; fi
  n=$((PER_BATCH * bs)); n=$((n > IMAGES ? IMAGES : n)); n=$((n < bs ? bs : n))
  settings=()
  case "$variant" in
    last) ;;
    full) settings=(MEDCAP_FULL_LOGITS=1) ;;
    vision-batch) settings=(MEDCAP_VISION_PER_IMAGE=0) ;;
    *) log "unknown variant $variant"; continue ;;
  esac
  run="$W/out-$bs-$variant"; rm -rf "$run" "$W/cache"
  SMI=
  if [ -n "$GPU" ]; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$run.smi" 2>/dev/null &
    SMI=$!
  fi
  limit=$((left < ${BENCH_CAPTION_TIMEOUT:-200} ? left : ${BENCH_CAPTION_TIMEOUT:-200}))
  t0=$(date +%s.%N)
  # BENCH_CPU_PROFILE=B: a V8 CPU profile of the default run at batch B (OUTDIR/cpu-profile/),
  # for the JavaScript time between the sessions
  node_flags=()
  [ "${BENCH_CPU_PROFILE:-}" = "$bs" ] && [ "$variant" = last ] && node_flags=(--cpu-prof --cpu-prof-dir "$OUT/cpu-profile")
  env "${settings[@]}" MEDCAP_PROFILE=1 MEDCAP_MODEL_CACHE="$W/cache" timeout "$limit" "${MEDCAP[0]}" "${node_flags[@]}" "${MEDCAP[@]:1}" caption \
    --data "$W/data" --format rocov2 --split train --limit "$n" --out "$run" --model "$MODEL" --offline \
    --device "$DEVICE" --dtype "$DTYPE" --batch-size "$bs" --max-new-tokens "$NEW" --image-size "$SIZE" \
    --checkpoint-every 0 > "$run.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  [ -n "$SMI" ] && kill "$SMI" 2>/dev/null
  node "$HERE/gpu-caption-summary.mjs" medcap-run "$R" "$run" "$bs" "$variant" "$rc" "$t0" "$t1" "$NEW" \
    "$(dirname "$(dirname "${MEDCAP[1]}")")" \
    | tee -a "$LOG"
  { grep -i -E "warn|last-position|error" "$run.log" | head -5; tail -3 "$run.log"; } | tee -a "$LOG"
done
node "$HERE/gpu-caption-summary.mjs" summary "$R" "$OUT" | tee -a "$LOG"
