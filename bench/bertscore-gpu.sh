#!/bin/bash
# BERTScore at scale on the lent GPU machine, in one command (docs/PERFORMANCE.md, "BERTScore
# at scale"). Run from the repository root with the carried folder CARRY holding gl/*.deb (the
# Vulkan loader), node.xz, app.tar.xz (medcap built, with its production node_modules),
# pairs60k.jsonl.xz (npx tsx bench/metrics.ts 60000 --dump ...); see docs/GPU.md for how those
# are made (bench/gpu-carry.sh makes the first three). tools/bertscore_bench.py comes from the
# checkout.
#
#   bash bench/bertscore-gpu.sh OUTDIR [CARRY] [PAIRS] [MEDCAP_BUDGET_S]
#
# Stages: build the roberta-large-shaped encoder; medcap on 2,000 pairs per dtype
# (calibration, also writes the pruned layer-17 copy once per dtype); medcap on PAIRS pairs
# once per BENCH_MEDCAP_RUNS entry (dtype:batch, dtype one of fp32, fp16, q8; default "fp32:64", or dtype:batch:REV to run
# the build of commit REV that bench/gpu-carry.sh carried beside the app; PAIRS is cut if the
# calibration says the first run would take longer than MEDCAP_BUDGET_S); the bert_score
# computation in PyTorch, fp16 and fp32, batch 64, on the same pairs; the values compared.
# Each stage has its own time limit, and what is done is written to OUTDIR as it goes.
set -uo pipefail
OUT=${1:?outdir}
CARRY=${2:-.dev-gpu}
WANT=${3:-60000}
BUDGET=${4:-150}
CAL=${BENCH_CALIBRATION_PAIRS:-2000}
DEVICE=${BENCH_DEVICE:-webgpu}
RUNS=${BENCH_MEDCAP_RUNS:-fp32:64}
FIRST=${RUNS%% *}
DTYPE=${FIRST%%:*}
TOOLS=${BENCH_TOOLS:-tools}
SMALL=${BENCH_SMALL:+--small} # a hidden-64 encoder, to try this script on a CPU
export CARRY
W=/tmp/bertscore-bench
mkdir -p "$OUT" "$W"
LOG="$OUT/bench.log"
log() { echo "[$(date +%T)] $*" | tee -a "$LOG"; }
now() { date +%s.%N; }
secs() { python3 -c "print(round($2 - $1, 2))"; }

source "$(dirname "$0")/gpu-setup.sh"
xz -dc "$CARRY/pairs60k.jsonl.xz" > "$W/pairs.jsonl"
GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
log "node $("$APP/node" --version); GPU: $GPU; CPU cores: $(nproc)"

MODEL="$W/model/roberta-large"
# A second call on the same (still warm) machine picks up where a cut-off one stopped: the
# model, the calibration, each medcap run and each PyTorch run are reused once complete.
if [ -f "$W/model/built" ]; then
  log "build: reusing $W/model"
else
  log "build: roberta-large-shaped random encoder"
  t=$(now)
  PYTHONUNBUFFERED=1 timeout 180 python3 "$TOOLS/bertscore_bench.py" build --out "$W/model" $SMALL \
    --tokenizer-corpus "$W/pairs.jsonl" 2>&1 | tee -a "$LOG"
  log "build took $(secs "$t" "$(now)") s"
  [ -f "$MODEL/model.onnx" ] && touch "$W/model/built"
fi
[ -f "$MODEL/model.onnx" ] || { log "no model, stopping"; exit 1; }

medcap() { # PAIRS_FILE OUTDIR LOGFILE [DTYPE [BATCH [APP_DIR]]]
  # shellcheck disable=SC2086 # BENCH_NODE_FLAGS: node's own flags, word-split on purpose
  MEDCAP_MODEL_CACHE="$W/cache" HF_HUB_OFFLINE=1 "$APP/node" ${BENCH_NODE_FLAGS:-} "${6:-$APP}/dist/cli/bin.js" evaluate \
    --captions "$1" --out "$2" --metrics bertscore --bertscore-model "$MODEL" \
    --bertscore-device "$DEVICE" --bertscore-dtype "${4:-$DTYPE}" --bertscore-batch-size "${5:-64}" \
    --bertscore-layer 17 --bootstrap 0 > "$3" 2>&1
}

export W APP MODEL DEVICE DTYPE
head -"$CAL" "$W/pairs.jsonl" > "$W/pcal.jsonl"
if [ -f "$W/calibration.env" ]; then
  source "$W/calibration.env"
  log "calibration: reusing (wall $CAL_WALL s, scoring ${CAL_SCORED:-?} s)"
else
log "medcap calibration, $CAL pairs (writes the pruned copy once)"
t=$(now); timeout 150 bash -c "$(declare -f medcap); medcap $W/pcal.jsonl $W/ocal $OUT/medcap-calibration.log"
CAL_RC=$?
CAL_WALL=$(secs "$t" "$(now)"); tee -a "$LOG" < "$OUT/medcap-calibration.log"
if [ "$CAL_RC" != 0 ] && [ -d "$W/model/tiny-tokenizer" ] && grep -qi tokeniz "$OUT/medcap-calibration.log"; then
  log "calibration failed (exit $CAL_RC): back to the tiny tokenizer, once more"
  cp "$W/model/tiny-tokenizer/"* "$MODEL/" && cp "$W/model/tiny-tokenizer/"* "$W/model/torch/"
  t=$(now); timeout 150 bash -c "$(declare -f medcap); medcap $W/pcal.jsonl $W/ocal $OUT/medcap-calibration.log"
  CAL_WALL=$(secs "$t" "$(now)"); tee -a "$LOG" < "$OUT/medcap-calibration.log"
fi
CAL_SCORED=$(grep -o 'scored in [0-9.]*' "$OUT/medcap-calibration.log" | grep -o '[0-9.]*$')
log "calibration: wall $CAL_WALL s, scoring ${CAL_SCORED:-?} s"
[ -n "${CAL_SCORED:-}" ] && echo "CAL_WALL=$CAL_WALL CAL_SCORED=$CAL_SCORED" > "$W/calibration.env"
fi
N=$(python3 -c "
s=float('${CAL_SCORED:-0}' or 0); w=float('$CAL_WALL'); want=$WANT; budget=$BUDGET; cal=$CAL
if s<=0: print(cal)
else:
  load=max(0.0,w-s); rate=cal/s
  n=int(min(want, max(cal, (budget-load)*rate))); print(n - n % 1000 if n>=4000 else n)")
log "full run: $N pairs (wanted $WANT; budget $BUDGET s)"
head -"$N" "$W/pairs.jsonl" > "$W/pN.jsonl"

# The other dtypes write their own pruned copy now, outside the timed runs.
for spec in $RUNS; do
  d=${spec%%:*}
  [ -d "$W/cal-$d" ] || [ "$d" = "$DTYPE" ] && continue
  mkdir -p "$W/cal-$d"
  head -200 "$W/pcal.jsonl" > "$W/cal-$d/p.jsonl"
  timeout 150 bash -c "$(declare -f medcap); medcap $W/cal-$d/p.jsonl $W/cal-$d/o $OUT/medcap-prepare-$d.log $d"
  log "prepared the $d copy (exit $?)"
done

for spec in $RUNS; do
  IFS=: read -r d b rev <<< "$spec"
  app=$APP tag=$d-$b
  [ -n "$rev" ] && app=$APP-$rev tag=$d-$b-$rev
  if grep -q "\"dtype\": \"$d\", \"batch\": $b, \"app\": \"${rev:-carried}\", .*\"exit\": 0" "$W/medcap-runs.jsonl" 2>/dev/null; then
    log "medcap $tag: reusing the completed run"
    continue
  fi
  nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader,nounits -lms 500 > "$W/smi-$tag.csv" 2>/dev/null &
  SMI=$!
  flags=
  # BENCH_CPU_PROFILE=dtype:batch: V8 CPU profiles of that run, each thread's (OUTDIR/cpu-profile/)
  [ "${BENCH_CPU_PROFILE:-}" = "$spec" ] && flags="--cpu-prof --cpu-prof-dir $OUT/cpu-profile"
  t=$(now); BENCH_NODE_FLAGS=$flags timeout $((BUDGET + 120)) bash -c "$(declare -f medcap); medcap $W/pN.jsonl $W/oN-$tag $OUT/medcap-$tag.log $d $b $app"
  rc=$?
  wall=$(secs "$t" "$(now)")
  kill "$SMI" 2>/dev/null
  tail -3 "$OUT/medcap-$tag.log" | tee -a "$LOG"
  echo "{\"dtype\": \"$d\", \"batch\": $b, \"app\": \"${rev:-carried}\", \"wall_s\": $wall, \"exit\": $rc}" >> "$W/medcap-runs.jsonl"
  log "medcap $tag: $N pairs, wall $wall s (exit $rc)"
done

cat > "$W/summarize.py" <<'EOF'
import json, os, sys, datetime
out, n, cwall, cscored, gpu, w, cal, device, tools = sys.argv[1:10]
sys.path.insert(0, tools)
n = int(n)
runs = [json.loads(l) for l in open(os.path.join(w, "medcap-runs.jsonl")) if l.strip()]
# medcap_s is the carried app's; builds of other commits are baselines beside it.
carried = [r for r in runs if r.get("app", "carried") == "carried"] or runs
ok = [r for r in carried if r["exit"] == 0] or carried
best = min(ok, key=lambda r: r["wall_s"])
res = {"pairs": n, "medcap_s": best["wall_s"], "medcap_best": best, "medcap_runs": runs, "device": gpu,
       "medcap_device": device + " (ONNX Runtime 1.30 through Transformers.js)",
       "calibration": {"pairs": int(cal), "wall_s": float(cwall), "scoring_s": float(cscored)},
       "date": datetime.date.today().isoformat(), "layer": 17, "pytorch_batch_size": 64, "idf": False,
       "pytorch_s": {}}
for dt in ("fp16", "fp32"):
    p = os.path.join(w, f"torch-{dt}.json")
    if os.path.exists(p):
        r = json.load(open(p))
        res["pytorch_s"][dt] = round(r["wall_s"], 2)
        res.setdefault("pytorch_detail", {})[dt] = {k: r[k] for k in ("load_s", "embed_s", "match_s", "sentences", "tokens", "torch", "gpu")}
        res["pytorch_detail"][dt]["process_s"] = float(open(os.path.join(w, f"torch-{dt}.process_s")).read())
if res["pytorch_s"]:
    res["ratio"] = {dt: round(s / res["medcap_s"], 3) for dt, s in res["pytorch_s"].items()}
    # Both whole processes: PyTorch's imports and CUDA start against medcap's start and load.
    res["ratio_per_process"] = {dt: round(d["process_s"] / res["medcap_s"], 3)
                                for dt, d in res.get("pytorch_detail", {}).items()}
for r in runs:
    tag = f"{r['dtype']}-{r['batch']}" + ("" if r.get("app", "carried") == "carried" else f"-{r['app']}")
    r["ratio"] = {dt: round(s / r["wall_s"], 3) for dt, s in res["pytorch_s"].items()}
    try:
        import bertscore_bench as bb
        csv_path = os.path.join(w, f"oN-{tag}", "medical_train_detailed.csv")
        for dt in ("fp32", "fp16"):
            ref = os.path.join(w, f"torch-{dt}.json")
            if os.path.exists(csv_path) and os.path.exists(ref):
                r[f"values_vs_pytorch_{dt}"] = bb.compare(csv_path, ref)
    except Exception as e:
        r["compare_error"] = repr(e)
    try:
        rows = [l.split(",") for l in open(os.path.join(w, f"smi-{tag}.csv")) if l.strip() and l[0].isdigit()]
        r["gpu_memory_peak_mib"] = max(float(x[0]) for x in rows) if rows else None
        r["gpu_util_mean_pct"] = round(sum(float(x[1]) for x in rows) / len(rows), 1) if rows else None
    except Exception as e:
        r["smi_error"] = repr(e)
json.dump(res, open(os.path.join(out, "bertscore-result.json"), "w"), indent=1)
print(json.dumps({k: v for k, v in res.items() if k != "pytorch_detail"}, indent=1))
EOF
summarize() { python3 - "$OUT" "$N" "$CAL_WALL" "${CAL_SCORED:-0}" "$GPU" "$W" "$CAL" "$DEVICE" "$TOOLS" < "$W/summarize.py" 2>&1 | tee -a "$LOG"; }
# BENCH_TORCH_DTYPES: the PyTorch runs, in this order; the result JSON is rewritten after each.
for dtype in ${BENCH_TORCH_DTYPES:-fp16 fp32}; do
  if [ -f "$W/torch-$dtype.json" ] && [ -f "$W/torch-$dtype.process_s" ]; then
    log "pytorch $dtype: reusing the completed run"
    continue
  fi
  log "pytorch $dtype, $N pairs"
  t=$(now)
  PYTHONUNBUFFERED=1 timeout $((BUDGET + 120)) python3 "$TOOLS/bertscore_bench.py" score --model "$W/model" \
    --pairs "$W/pN.jsonl" --dtype $dtype --out "$W/torch-$dtype.json" 2>&1 | tee -a "$LOG"
  secs "$t" "$(now)" > "$W/torch-$dtype.process_s"
  log "pytorch $dtype process wall (imports and CUDA start included) $(cat "$W/torch-$dtype.process_s") s"
  summarize > /dev/null
done
summarize
