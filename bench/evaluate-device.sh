#!/usr/bin/env bash
# `medcap evaluate` on a many-core machine without Node (the lent GPU machine's CPU): two
# builds (three with the carry's mid) interleaved, on all cores and on two, and pycocoevalcap + NLTK back to back (#10 §4).
#
#   bash bench/evaluate-device.sh DIR ROUNDS      (from the repository root, results in $OUT)
#
# DIR (made by bench/evaluate-device-carry.sh on the development machine) holds:
#   node.xz         the Node.js binary
#   eval.tar.xz     base/dist and new/dist (the two builds), node_modules (what `evaluate`
#                   loads, WordNet's dict included) and corpus/{pairs,tokens}-60000.jsonl
#   py.tar.xz       py/: pycocoevalcap (bleu, rouge, cider from its git repository) and NLTK
#                   with its pure-Python dependencies (Debian's); `regex` is the machine's own
# Each round times the toolkits (tools/parity/time_reference.py --tokens --meteor, as
# bench/evaluate-vs-toolkits.sh does), then each build twice on all cores and once on
# cores 0-1 (taskset), alternating (CORES="all all 0-1" by default; TOOLKITS=0 skips them). One JSON object a line in
# $OUT/rounds.jsonl. PROFILE=1 adds a CPU profile of each build ($OUT/profiles.tar.gz).
set -euo pipefail
DIR=${1:?dir}
ROUNDS=${2:-3}
ROOT=$(pwd)
OUT=${OUT:-/tmp/evaluate-device-out}
mkdir -p "$OUT"
W=$(mktemp -d)
xz -dc "$DIR/node.xz" > "$W/node" && chmod +x "$W/node"
tar -xJf "$DIR/eval.tar.xz" -C "$W"
tar -xJf "$DIR/py.tar.xz" -C "$W"
# base, new, and mid between them when the carry has it (MID=REV there).
BUILDS="base $([ -d "$W/mid" ] && echo mid || true) new"
for build in $BUILDS; do ln -s "$W/node_modules" "$W/$build/node_modules"; done
# tools/parity reads WordNet from the repository's node_modules, as on the development machine.
[ -e "$ROOT/node_modules" ] || ln -s "$W/node_modules" "$ROOT/node_modules"
# ... and from assets/wordnet-3.0, which a device call may come without (docs/GPU.md: the
# working tree is carried with WordNet taken out of the index): the carried build's copy.
if [ ! -e "$ROOT/assets/wordnet-3.0/index.noun" ]; then
  rm -rf "$ROOT/assets/wordnet-3.0"
  mkdir -p "$ROOT/assets"
  ln -s "$W/new/assets/wordnet-3.0" "$ROOT/assets/wordnet-3.0"
fi
{
  nproc
  grep -m1 'model name' /proc/cpuinfo
  python3 --version
  "$W/node" --version
  "$W/node" -p "'availableParallelism ' + require('os').availableParallelism()"
  echo "cpu.max: $(cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || echo none)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

# Runs a command; prints {"wall_s", "user_s", "sys_s", "max_rss_mib"} of it (its own
# rusage: children included, the largest resident set of one process).
timed() {
  python3 - "$@" <<'PY'
import json, os, subprocess, sys, tempfile, time
with tempfile.TemporaryFile() as err:
    start = time.perf_counter()
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err.seek(0)
        sys.stderr.write(err.read().decode()[-2000:])
        sys.exit(1)
print(json.dumps({"wall_s": round(wall, 3), "user_s": round(usage.ru_utime, 3),
                  "sys_s": round(usage.ru_stime, 3), "max_rss_mib": round(usage.ru_maxrss / 1024)}))
PY
}

evaluate() { # build, cores ("all" or a taskset list)
  local cli=("$W/node" "$W/$1/dist/cli/bin.js" evaluate --captions "$W/corpus/pairs-60000.jsonl" --out "$W/out-$1")
  if [ "$2" = all ]; then timed "${cli[@]}"
  elif command -v taskset > /dev/null; then timed taskset -c "$2" "${cli[@]}"
  else echo '{"skipped": "no taskset"}'; fi
}

for round in $(seq 1 "$ROUNDS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  toolkits=null
  [ "${TOOLKITS:-1}" = 0 ] || toolkits=$(cd "$ROOT/tools/parity" && PYTHONPATH="$W/py" python3 \
    time_reference.py "$W/corpus/tokens-60000.jsonl" --tokens --meteor --json)
  runs=()
  for cores in ${CORES:-all all 0-1}; do
    for build in $BUILDS; do
      runs+=("{\"build\": \"$build\", \"cores\": \"$cores\", \"time\": $(evaluate "$build" "$cores")}")
    done
  done
  line="{\"round\": $round, \"load_average_before\": $load, \"toolkits\": $toolkits, \"medcap_evaluate\": [$(IFS=,; echo "${runs[*]}")]}"
  echo "$line"
  echo "$line" >> "$OUT/rounds.jsonl"
done
# PROFILE=1: one CPU profile of each build on all cores (every thread), in $OUT/prof-<build>.
if [ "${PROFILE:-0}" = 1 ]; then
  for build in $BUILDS; do
    "$W/node" --cpu-prof --cpu-prof-dir="$OUT/prof-$build" "$W/$build/dist/cli/bin.js" evaluate \
      --captions "$W/corpus/pairs-60000.jsonl" --out "$W/prof-out-$build" > /dev/null 2>&1
  done
  # One file: the device tool brings back only a few files per command.
  (cd "$OUT" && tar -czf profiles.tar.gz prof-* && rm -rf prof-*)
fi
# Every build's outputs must be the base's bytes.
for build in $BUILDS; do
  for f in "$W"/out-base/*; do cmp "$f" "$W/out-$build/$(basename "$f")" || echo "DIFFERENT: $build $(basename "$f")"; done
done | tee "$OUT/outputs-compared.txt"
