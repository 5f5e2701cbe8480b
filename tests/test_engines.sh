#!/bin/sh
# The sweep engines for real: a small sweep (4 s-curve jobs of 20 epochs) run
# locally, through `--list | parallel -j 2` and as a Slurm job array on a
# single-node cluster this test starts (munged, slurmctld, slurmd on localhost
# with a scratch config, stopped again by their pid files); each merged
# configs.tsv must equal the local run's. The Slurm test prints "# SKIP" with
# the reason only when the daemons cannot start here.
# usage: sh tests/test_engines.sh   (ends with "N passed, N failed")
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
passed=0
failed=0
T=$(mktemp -d)
chmod 755 "$T" # munged runs as the munge user and must reach its folder
D=$T/slurm

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; echo "#   $2"; failed=$((failed + 1)); }

stop_pidfile() { # stops the process of a pid file this test wrote, waits for it
    [ -s "$1" ] || return 0
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || return 0
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null
    return 0
}
cleanup() {
    stop_pidfile "$D/slurmd.pid"
    stop_pidfile "$D/slurmctld.pid"
    stop_pidfile "$D/munge/munged.pid"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cat >"$T/small.lua" <<'EOF'
return {
  experiment = "scurve", seeds = 2,
  options = { epochs = 20, ["no-charts"] = true },
  configs = { { name = "A", config = "A" }, { name = "H", config = "H" } },
  metrics = { "train_loss", "val_loss", "recon_mse", "val_kl", "spearman_abs", "nn_agreement" },
}
EOF
body() { grep -v '^#' "$1"; }
same() { # same NAME DIR: DIR's merged configs.tsv equals the local run's (past the # lines)
    if [ ! -f "$2/configs.tsv" ]; then
        not_ok "$1" "no $2/configs.tsv"
        return
    fi
    body "$2/configs.tsv" >"$2/configs.body"
    if cmp -s "$T/local/configs.body" "$2/configs.body"; then
        ok "$1"
    else
        not_ok "$1" "configs.tsv differs from the local run's: $(diff "$T/local/configs.body" "$2/configs.body" | head -5 | tr '\n' ' ')"
    fi
}

if $LUA experiments/sweep.lua "$T/small.lua" --out "$T/local" --no-charts >"$T/local.log" 2>&1; then
    body "$T/local/configs.tsv" >"$T/local/configs.body"
    ok "local run of the small sweep"
else
    not_ok "local run of the small sweep" "$(tail -3 "$T/local.log" | tr '\n' ' ')"
fi

# ---------- GNU parallel ----------
if ! command -v parallel >/dev/null 2>&1; then
    not_ok "GNU parallel runs the --list commands" "parallel is not installed (./setup.sh installs it)"
else
    $LUA experiments/sweep.lua "$T/small.lua" --out "$T/par" --list >"$T/commands"
    n=$(wc -l <"$T/commands")
    if parallel --will-cite -j 2 <"$T/commands" >"$T/par.log" 2>&1 &&
        $LUA experiments/sweep.lua "$T/small.lua" --out "$T/par" --merge --no-charts >>"$T/par.log" 2>&1; then
        [ "$n" -eq 4 ] && ok "--list prints one command per job (4)" || not_ok "--list prints one command per job" "got $n lines"
        same "GNU parallel: the merged table equals the local run's" "$T/par"
    else
        not_ok "GNU parallel runs the --list commands" "$(tail -3 "$T/par.log" | tr '\n' ' ')"
    fi
fi

# ---------- Slurm ----------
skip() { echo "ok - Slurm job array # SKIP $1"; passed=$((passed + 1)); }
start_slurm() {
    for c in munged slurmctld slurmd sbatch sinfo; do
        command -v $c >/dev/null 2>&1 || { echo "$c is not installed (./setup.sh installs slurm-wlm and munge)"; return 1; }
    done
    [ -r /etc/munge/munge.key ] || { echo "no /etc/munge/munge.key"; return 1; }
    mkdir -p "$D/state" "$D/spool" "$D/munge" || return 1
    chown munge:munge "$D/munge" && chmod 711 "$D/munge" || { echo "cannot give $D/munge to the munge user"; return 1; }
    # a socket of our own: no other munged on this machine is touched
    runuser -u munge -- munged --socket="$D/munge/socket" --pid-file="$D/munge/munged.pid" \
        --log-file="$D/munge/munged.log" --seed-file="$D/munge/seed" >"$D/munged.out" 2>&1 ||
        { echo "munged did not start: $(tail -2 "$D/munged.out" "$D/munge/munged.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
    host=$(hostname -s)
    port=$((20000 + $$ % 10000 * 2))
    cat >"$D/slurm.conf" <<EOF
ClusterName=vaetest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$D/slurm.conf"
    slurmctld -f "$D/slurm.conf" >"$D/ctld.out" 2>&1 || { echo "slurmctld did not start: $(tail -2 "$D/slurmctld.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
    slurmd -f "$D/slurm.conf" >"$D/slurmd.out" 2>&1 || { echo "slurmd did not start: $(tail -2 "$D/slurmd.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
    i=0
    while [ $i -lt 100 ]; do
        state=$(sinfo -h -o %t 2>/dev/null | head -n 1)
        case $state in idle*|mix*|alloc*) return 0 ;; esac
        sleep 0.2
        i=$((i + 1))
    done
    echo "the node did not come up in 20 s (sinfo: '$state'; $(tail -2 "$D/slurmd.log" 2>/dev/null | tr '\n' ' '))"
    return 1
}
if why=$(start_slurm); then
    export SLURM_CONF="$D/slurm.conf"
    $LUA experiments/sweep.lua "$T/small.lua" --out "$T/slurm-out" --slurm >"$T/slurm.log" 2>&1
    if grep -q '^#SBATCH --array=1-4$' "$T/slurm-out/slurm.sh" &&
        timeout 120 sbatch --wait "$T/slurm-out/slurm.sh" >>"$T/slurm.log" 2>&1 &&
        $LUA experiments/sweep.lua "$T/small.lua" --out "$T/slurm-out" --merge --no-charts >>"$T/slurm.log" 2>&1; then
        ok "sbatch --wait runs the 4-task array"
        same "Slurm: the merged table equals the local run's" "$T/slurm-out"
    else
        not_ok "sbatch --wait runs the 4-task array" "$(tail -4 "$T/slurm.log" | tr '\n' ' ') $(cat "$T"/slurm-out/slurm/*.log 2>/dev/null | tail -3 | tr '\n' ' ')"
    fi
else
    skip "$why"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
