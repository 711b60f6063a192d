#!/bin/bash
# The rate and accuracy of roberta-large-shaped matrix products through ONNX Runtime's WebGPU
# provider on the lent GPU machine, in fp32, fp16, and 8-bit and 4-bit MatMulNBits weights
# (docs/PERFORMANCE.md, "8-bit weights"). From the repository root, with the carried folder
# that bench/gpu-carry.sh makes:
#
#   bash bench/gpu-matmul-probe.sh OUTDIR [CARRY]      # device tool, carry [CARRY]
#
# Writes OUTDIR/probe.jsonl: per graph and M the time and TFLOP/s, which WebGPU programs ran
# (from ONNX Runtime's profile), and each precision's relative error on one product against
# a float64 reference.
set -uo pipefail
OUT=${1:?outdir}
CARRY=${2:-.dev-gpu}
export CARRY
source "$(dirname "$0")/gpu-setup.sh"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/gpu.txt"
timeout 120 python3 "$(dirname "$0")/gpu_matmul_probe.py" /tmp/matmul-probe > "$OUT/build.log" 2>&1
timeout 300 node "$(dirname "$0")/gpu-matmul-probe.mjs" "$APP/node_modules/onnxruntime-node" /tmp/matmul-probe "$OUT/probe.jsonl"
