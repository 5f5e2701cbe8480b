#!/bin/sh
# make fuzz: runs each target in turn for at most SECONDS or RUNS executions,
# over its committed seeds and a working corpus in build/fuzz/; a crashing
# input lands in tests/fuzz/<target>/regress/ (make test replays those).
# Prints one line per target: executions, coverage, findings.
cd "$(dirname "$0")/../.." || exit 1
secs=$1; runs=$2; shift 2
status=0
for t in "$@"; do
    mkdir -p "build/fuzz/corpus-$t" "tests/fuzz/$t/regress" "tests/fuzz/$t/seed"
    log="build/fuzz/$t.log"
    before=$(ls "tests/fuzz/$t/regress" | wc -l)
    "build/fuzz/fuzz_$t" -runs="$runs" -max_total_time="$secs" -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="tests/fuzz/$t/regress/" \
        "build/fuzz/corpus-$t" "tests/fuzz/$t/seed" >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
    after=$(ls "tests/fuzz/$t/regress" | wc -l)
    echo "fuzz $t: ${execs:-?} executions, ${cov:-no coverage line}, $((after - before)) new crashing inputs (exit $rc; log $log)"
    [ "$rc" -ne 0 ] && status=1
done
exit $status
