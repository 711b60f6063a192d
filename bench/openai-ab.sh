#!/usr/bin/env bash
# Two builds of the `openai` client, alternating, against one instant local server:
#
#   bash bench/openai-ab.sh OLD_DIST NEW_DIST DATA [ROUNDS] [IMAGES]
#
# OLD_DIST / NEW_DIST: `dist` folders of two builds (e.g. a `git worktree` of the older
# commit, built); DATA: a ROCOv2-layout folder of IMAGES JPEGs (bench/openai.ts makes one
# under $TMPDIR/medcap-bench-openai/). Prints one line per run: whole-CLI wall, images/s and
# the load average; `--concurrency 32 --checkpoint-every 0`, as bench/openai.ts's first case.
set -euo pipefail
OLD=$1 NEW=$2 DATA=$3 ROUNDS=${4:-3} IMAGES=${5:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d)
PORT_FILE="$OUT/port"
node --import tsx "$ROOT/bench/openai-server.ts" --delay-ms 0 >"$PORT_FILE" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER; rm -rf "$OUT"' EXIT
until [ -s "$PORT_FILE" ]; do sleep 0.2; done
PORT=$(head -1 "$PORT_FILE")
for round in $(seq 1 "$ROUNDS"); do
  for build in old new; do
    dist=$NEW
    [ "$build" = old ] && dist=$OLD
    rm -rf "$OUT/run"
    start=$(date +%s.%N)
    node "$dist/cli/bin.js" caption --data "$DATA" --out "$OUT/run" --limit "$IMAGES" \
      --engine openai --endpoint "http://127.0.0.1:$PORT/v1" --concurrency 32 \
      --checkpoint-every 0 >/dev/null 2>"$OUT/stderr-$build"
    end=$(date +%s.%N)
    echo "round $round $build wall=$(echo "$end - $start" | bc) img/s=$(echo "$IMAGES / ($end - $start)" | bc) load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
