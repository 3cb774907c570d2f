#!/usr/bin/env bash
# `baynet embed` against sentence-transformers on the same 1,000 log lines, whole commands as a
# user runs them (model load included), each with its default settings, alternating, on a quiet
# machine and beside two kinds of background load. Prints one line per run; BENCHMARKS.md
# ("Embedding: whole commands") records the figures.
#
#   cargo build --release && python3 -m venv /work/venv-st && /work/venv-st/bin/pip install sentence-transformers
#   ST_PYTHON=/work/venv-st/bin/python benches/embed_compare.sh [ROUNDS]
#
# Loads: `nice19` = one `nice -n 19` busy loop per core (a low-priority build in the
# background); `core` = one busy loop at normal priority (another process wants a whole core).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2}"
baynet="${BAYNET:-target/release/baynet}"
st_python="${ST_PYTHON:-python3}"
model="${BAYNET_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/baynet/models/all-MiniLM-L6-v2}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# 1,000 lines spread over a simulated experiment's logs (Envoy access lines, service logs).
"$baynet" sim run --scenario 08 --seed 3 --out "$work/sim" >/dev/null
python3 - "$work/sim/logs.json" "$work/lines.txt" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
responses = data if isinstance(data, list) else [data]
lines = sorted((ts, line) for r in responses for s in r["data"]["result"] for ts, line in s["values"])
step = max(1, len(lines) // 1000)
picked = [line.replace("\n", " ") for _, line in lines[::step][:1000]]
open(sys.argv[2], "w").write("\n".join(picked) + "\n")
PY

run() { # label, command...
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" < "$work/lines.txt" > /dev/null 2>&1
  end=$(date +%s.%N)
  printf '%-8s %-32s %6.1f s   (load %s)\n' "$condition" "$label" "$(echo "$end - $start" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
}

load_pids=()
start_load() {
  case $1 in
    quiet) ;;
    nice19) for _ in $(seq "$(nproc)"); do nice -n 19 sh -c 'while :; do :; done' & load_pids+=($!); done ;;
    core) sh -c 'while :; do :; done' & load_pids+=($!) ;;
  esac
  sleep 2
}
stop_load() { for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done; load_pids=(); sleep 2; }

echo "lines: $(wc -l < "$work/lines.txt"), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for condition in quiet nice19 core; do
  start_load "$condition"
  for _ in $(seq "$rounds"); do
    run "baynet embed" "$baynet" embed --model-dir "$model"
    run "baynet embed, 1 thread" env RAYON_NUM_THREADS=1 "$baynet" embed --model-dir "$model"
    run "sentence-transformers" "$st_python" benches/python/st_embed_lines.py "$model"
  done
  stop_load
done
