#!/usr/bin/env bash
# Samples the resident memory of `baynet console` over an accelerated run (BENCHMARKS.md,
# "Console memory over an accelerated run").
#
#   BIN=target/debug/baynet DURATION=600 SPEED=60 benches/console_rss.sh [OUT.tsv]
#
# Runs the console in a detached 200x60 tmux pane with a fresh HOME / XDG_DATA_HOME (so the
# curated knowledge is embedded at start-up, as on a first run), the knowledge base on, and
# writes one line every INTERVAL seconds: elapsed seconds, VmRSS and VmHWM in kB. Prints a
# summary (mean / max RSS, samples at or above LIMIT_MB, VmHWM) at the end.
#
# Environment: BIN (the binary), DURATION (s, default 600), SPEED (default 60), INTERVAL (s,
# default 5), LIMIT_MB (default 200), BAYNET_MODEL_DIR (default ~/.cache/baynet/models/
# all-MiniLM-L6-v2), EXTRA (more console arguments, e.g. `--no-kb`), WRAP (a command put in
# front of the binary, e.g. `valgrind --tool=massif`; heaptrack sees nothing, the binary's
# allocator is mimalloc).
set -euo pipefail

BIN=$(realpath "${BIN:-target/debug/baynet}")
DURATION=${DURATION:-600}
SPEED=${SPEED:-60}
INTERVAL=${INTERVAL:-5}
LIMIT_MB=${LIMIT_MB:-200}
MODEL=${BAYNET_MODEL_DIR:-$HOME/.cache/baynet/models/all-MiniLM-L6-v2}
OUT=${1:-/tmp/console_rss.$$.tsv}
EXTRA=${EXTRA:-}
WRAP=${WRAP:-}

work=$(mktemp -d /tmp/console_rss.XXXXXX)
mkdir -p "$work/home" "$work/data" "$work/config"
session="rss$$"
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
}
trap cleanup EXIT

tmux new-session -d -s "$session" -x 200 -y 60 \
    "env HOME=$work/home XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config \
     BAYNET_MODEL_DIR=$MODEL BAYNET_KB_EMBEDDER=${BAYNET_KB_EMBEDDER:-auto} \
     $WRAP $BIN console --speed $SPEED $EXTRA; sleep 5"

# The console process: the binary itself (not the tmux shell, not a wrapper), and the one of
# this run (its environment names this run's data directory; other consoles may be running).
pid=""
for _ in $(seq 1 100); do
    for candidate in $(pgrep -f "^$BIN console" || true); do
        if tr '\0' '\n' <"/proc/$candidate/environ" 2>/dev/null | grep -qx "XDG_DATA_HOME=$work/data"; then
            pid=$candidate
        fi
    done
    [ -n "$pid" ] && break
    sleep 0.1
done
if [ -z "$pid" ]; then
    echo "console did not start" >&2
    exit 1
fi

printf 'secs\trss_kb\thwm_kb\n' >"$OUT"
start=$(date +%s)
while :; do
    now=$(( $(date +%s) - start ))
    [ -r "/proc/$pid/status" ] || { echo "console exited after ${now}s" >&2; break; }
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    printf '%s\t%s\t%s\n' "$now" "$rss" "$hwm" >>"$OUT"
    [ "$now" -ge "$DURATION" ] && break
    sleep "$INTERVAL"
done
tmux send-keys -t "$session" q 2>/dev/null || true
sleep 2

awk -v limit=$((LIMIT_MB * 1000)) 'NR > 1 {
        n++; sum += $2; if ($2 > max) max = $2; if ($2 >= limit) over++; hwm = $3
    }
    END {
        printf "samples %d, RSS mean %.0f MB, max %.0f MB, %d at or above %d MB, VmHWM %.0f MB\n",
            n, sum / n / 1000, max / 1000, over, limit / 1000, hwm / 1000
    }' "$OUT"
echo "samples in $OUT; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$work"
