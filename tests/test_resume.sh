#!/bin/sh
# Kill and resume, for real: an experiment script run with --checkpoint and
# --resume is killed with SIGKILL at random moments, restarted each time, and
# must end with results identical to an unbroken run (every table, minus the
# columns and header lines that are timings or dates). Also: a killed run
# leaves no torn checkpoint (each one loads) and no stale temporaries.
# Usage: tests/test_resume.sh [TRIALS] (default 3 per script). Kill moments are
# seeded fractions of the unbroken run's time (RESUME_SEED=N for others).
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
TRIALS=${1:-3}
SEED=${RESUME_SEED:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
cat >"$tmp/load.lua" <<'EOF'
package.cpath = "./?.so;" .. package.cpath
local m, e = require("vae").load(arg[1])
if not m then print(e) os.exit(1) end
io.write(e.epoch, " ")
EOF
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }

# The tables of a result folder without timings and dates, one stream.
normalise() {
    for f in "$1"/*.tsv; do
        echo "== $(basename "$f")"
        awk -F '\t' -v OFS='\t' '
            /^# date:/ { next }
            /^#/ { print; next }
            !hdr { hdr = 1; for (i = 1; i <= NF; i++) drop[i] = ($i ~ /seconds|peak_rss/) }
            { line = ""; for (i = 1; i <= NF; i++) if (!drop[i]) line = line $i OFS; print line }' "$f"
    done
}

# random delays in seconds, from a seeded generator
delays() { awk -v s="$1" -v n="$2" -v lo="$3" -v hi="$4" \
    'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%.2f\n", lo + rand() * (hi - lo) }'; }

# trial NAME ARGS...: the unbroken run, then runs killed at random delays and
# resumed until one finishes; compares.
trial() {
    name=$1; lo=$2; hi=$3; shift 3
    t0=$(date +%s.%N)
    "$LUA" "$@" --quiet --no-charts --out "$tmp/ref-$name" >/dev/null 2>&1 ||
        { not_ok "$name: the unbroken run failed"; return; }
    # kill moments: fractions lo..hi of the unbroken run's time, so they land
    # whatever the machine's load
    took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    lo=$(awk -v f="$lo" -v t="$took" 'BEGIN { printf "%.2f", f * t }')
    hi=$(awk -v f="$hi" -v t="$took" 'BEGIN { printf "%.2f", f * t }')
    normalise "$tmp/ref-$name" >"$tmp/ref-$name.txt"
    t=1
    while [ "$t" -le "$TRIALS" ]; do
        ck="$tmp/$name-$t.ckpt"
        out="$tmp/$name-$t"
        kills=0
        torn=0
        at=""
        for d in $(delays $((SEED * 100 + t)) 4 "$lo" "$hi"); do
            timeout -s KILL "$d" "$LUA" "$@" --quiet --no-charts --out "$out" \
                --checkpoint "$ck" --resume >/dev/null 2>&1
            rc=$?
            [ "$rc" -eq 0 ] && break
            kills=$((kills + 1))
            if [ -e "$ck" ]; then
                e=$("$LUA" "$tmp/load.lua" "$ck") || torn=$((torn + 1))
                at="$at$e"
            else
                at="${at}none "
            fi
        done
        # the last go runs to the end
        "$LUA" "$@" --quiet --no-charts --out "$out" --checkpoint "$ck" --resume >/dev/null 2>"$tmp/err" ||
            { not_ok "$name trial $t: the final resume failed: $(cat "$tmp/err")"; t=$((t + 1)); continue; }
        normalise "$out" >"$out.txt"
        stale=$(find "$tmp" -name '*.tmp*' | wc -l)
        if [ "$torn" -eq 0 ] && [ "$stale" -eq 0 ] && cmp -s "$tmp/ref-$name.txt" "$out.txt"; then
            if [ "$kills" -eq 0 ]; then
                ok "$name trial $t: no kill landed (the run finished first); results identical"
            else
                ok "$name trial $t: $kills SIGKILLs, resumed to results identical to the unbroken run"
            fi
        else
            not_ok "$name trial $t: $kills kills, $torn torn checkpoints, $stale temporaries left"
            diff "$tmp/ref-$name.txt" "$out.txt" | head -5
        fi
        echo "# $name trial $t: killed at $(delays $((SEED * 100 + t)) "$kills" "$lo" "$hi" | tr '\n' ' ')s; checkpoint epochs then: $at"
        t=$((t + 1))
    done
}

trial scurve 0.15 0.9 experiments/scurve.lua --config A --epochs 250
if [ -f data/mnist/train-images-idx3-ubyte ]; then
    trial mnist 0.3 0.9 experiments/mnist.lua --train 1000 --test 500 --epochs 12 --k 10 --threads 1
else
    echo "# skipped MNIST: data/mnist is not there (make mnist)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
