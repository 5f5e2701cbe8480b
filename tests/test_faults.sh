#!/bin/sh
# Faults a run meets on a real machine: a full disk (a 512 KiB tmpfs the test
# mounts; skipped, saying so, where mounting is not allowed), SIGKILL while the
# charts are drawn, and a memory limit. Each must end with a clear error (or a
# whole result), the previous results intact and no temporaries left.
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
tmp=$(mktemp -d)
passed=0
failed=0
cleanup() { umount "$tmp/disk" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
sums() { (cd "$1" && find . -type f ! -name '*.ckpt' | sort | xargs sha256sum); }
run="$LUA experiments/scurve.lua --config A --epochs 3 --quiet"

# ---- a full disk
mkdir -p "$tmp/disk"
if mount -t tmpfs -o size=512k tmpfs "$tmp/disk" 2>/dev/null; then
    if $run --no-charts --out "$tmp/disk/run" --checkpoint "$tmp/disk/a.ckpt" >/dev/null 2>&1; then
        sums "$tmp/disk/run" >"$tmp/before"
        ck_before=$(sha256sum <"$tmp/disk/a.ckpt")
        dd if=/dev/zero of="$tmp/disk/filler" bs=4k >/dev/null 2>&1 # until the disk is full
        $run --no-charts --seed 3 --out "$tmp/run3" --checkpoint "$tmp/disk/a.ckpt" >"$tmp/log" 2>&1
        rc=$?
        if [ "$rc" -eq 1 ] && grep -q "checkpoint '.*a.ckpt': writing failed: No space left on device" "$tmp/log" &&
            [ "$(sha256sum <"$tmp/disk/a.ckpt")" = "$ck_before" ] &&
            [ "$(find "$tmp/disk" -name '*.tmp*' | wc -l)" -eq 0 ]; then
            ok "full disk: a checkpoint fails naming the file (exit 1); the previous checkpoint stays whole"
        else
            not_ok "full disk checkpoint: exit $rc: $(cat "$tmp/log")"
        fi
        # first completely full: refused before training, by the probe
        $run --no-charts --seed 2 --out "$tmp/disk/run" >"$tmp/log" 2>&1
        rc=$?
        if [ "$rc" -eq 1 ] && grep -q "cannot write to the output folder .*disk/run" "$tmp/log"; then
            ok "full disk: refused before training (exit 1, the folder named)"
        else
            not_ok "full disk before training: exit $rc: $(cat "$tmp/log")"
        fi
        truncate -s -24K "$tmp/disk/filler" # room for the probe, not for the tables
        $run --no-charts --seed 2 --out "$tmp/disk/run" >"$tmp/log" 2>&1
        rc=$?
        sums "$tmp/disk/run" >"$tmp/after"
        left=$(find "$tmp/disk" -name '*.tmp*' | wc -l)
        if [ "$rc" -eq 1 ] && grep -q "No space left on device" "$tmp/log" &&
            grep -q "cannot write.*disk/run/" "$tmp/log" && cmp -s "$tmp/before" "$tmp/after" &&
            [ "$left" -eq 0 ] && [ -f "$tmp/disk/run/MANIFEST" ]; then
            ok "full disk: result tables fail naming the file (exit 1); the previous run stays whole"
        else
            not_ok "full disk: exit $rc, $left temporaries: $(cat "$tmp/log")"
        fi
    else
        not_ok "full disk: the first run did not fit in 512 KiB"
    fi
    umount "$tmp/disk"
else
    echo "# skipped the full-disk tests: cannot mount a tmpfs here (not root?)"
fi

# ---- SIGKILL while charts are drawn: every file there is whole, and the next
# run removes what the killed one left
if command -v gnuplot >/dev/null 2>&1; then
    torn=0
    for d in 0.5 0.6 0.7 0.8 0.9 1.0 1.2; do
        timeout -s KILL "$d" $run --out "$tmp/charts" >/dev/null 2>&1
        for png in "$tmp"/charts/*.png; do
            [ -f "$png" ] || continue
            tail -c 12 "$png" | grep -q IEND || torn=$((torn + 1))
        done
    done
    $run --out "$tmp/charts" >/dev/null 2>&1
    left=$(find "$tmp/charts" -name '*.tmp*' | wc -l)
    if [ "$torn" -eq 0 ] && [ "$left" -eq 0 ] && [ -f "$tmp/charts/MANIFEST" ]; then
        ok "SIGKILL at 7 moments while drawing: no torn PNG; the next run leaves no temporaries"
    else
        not_ok "SIGKILL while drawing: $torn torn PNGs, $left temporaries left: $(find "$tmp/charts" -name '*.tmp*')"
    fi
fi

# ---- divergence: lr = 0.5 on config A turns NaN in epoch 3; the checkpoint of
# epoch 2 loads, and resuming from it meets the same divergence at the same step
div="$LUA experiments/scurve.lua --config A --epochs 20 --quiet --no-charts --set lr=0.5"
$div --out "$tmp/div" --checkpoint "$tmp/div.ckpt" >"$tmp/log" 2>&1
rc=$?
msg=$(grep -o 'training stopped at epoch [0-9]*, step [0-9]*' "$tmp/log")
at=$(echo 'package.cpath = "./?.so;" .. package.cpath
    local m, i = require("vae").load(arg[1]) io.write(m and i.epoch or "none")' | "$LUA" - "$tmp/div.ckpt" 2>&1)
$div --out "$tmp/div" --checkpoint "$tmp/div.ckpt" --resume >"$tmp/log2" 2>&1
rc2=$?
if [ "$rc" -eq 1 ] && [ -n "$msg" ] && [ "$at" = 2 ] && [ "$rc2" -eq 1 ] && grep -q "$msg" "$tmp/log2"; then
    ok "divergence: '$msg' (exit 1); the epoch-$at checkpoint loads and resumes to the same step"
else
    not_ok "divergence: exit $rc/$rc2, '$msg', checkpoint epoch $at: $(cat "$tmp/log" "$tmp/log2")"
fi

# ---- a memory limit: OpenBLAS's thread pool spins forever on a failing
# allocation under ulimit -v (an OpenBLAS bug), at load time and when threads
# start. The scripts refuse at once under a limit unless OPENBLAS_NUM_THREADS=1
# (and then use one thread): an error instead of a hang, and a run that works.
(ulimit -v 204800; exec timeout -s KILL 30 $run --no-charts --out "$tmp/ulimit") >"$tmp/log" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "OPENBLAS_NUM_THREADS=1 and --threads 1" "$tmp/log"; then
    ok "ulimit -v 200 MB: the script exits at once with an error saying what to do (no hang)"
else
    not_ok "ulimit -v 200 MB: exit $rc: $(cat "$tmp/log")"
fi
(ulimit -v 204800; OPENBLAS_NUM_THREADS=1 exec timeout -s KILL 30 $run --no-charts --out "$tmp/ulimit") >"$tmp/log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ -f "$tmp/ulimit/MANIFEST" ]; then
    ok "ulimit -v 200 MB with OPENBLAS_NUM_THREADS=1: the run completes on one thread"
else
    not_ok "ulimit -v 200 MB with OPENBLAS_NUM_THREADS=1: exit $rc: $(cat "$tmp/log")"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
