#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine for the SLURM tests (idempotent), as
# scripts/postgres-local.sh starts PostgreSQL. Debian/Ubuntu, as root (or with sudo):
# installs `slurm-wlm` and `munge` when missing, writes /etc/slurm/slurm.conf for this
# host (its CPUs and memory as the machine reports them, no GPUs, no cgroups: processes
# tracked by /proc, one partition `debug`), starts munged, slurmctld and slurmd, and waits
# until `sinfo` shows the node idle. No accounting daemon: a finished job's state and exit
# code are read with `scontrol show job <id>` (kept MinJobAge=3600 s), not `sacct`.
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
started=$(date +%s)
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
  || ! command -v munged >/dev/null; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq slurm-wlm munge >/dev/null
fi

node=$(hostname -s)
cpus=$(nproc)  # what this process may use (a container's share, not the host's cores)
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo max)
if [ "$limit" != max ]; then mem_mb=$((mem_mb < limit / 1048576 ? mem_mb : limit / 1048576)); fi
mem_mb=$((mem_mb * 9 / 10))  # leave the daemons and the system a tenth

conf=$(cat <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster for the orchestrator's tests.
ClusterName=local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
KillWait=10
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
)

$sudo mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm \
  /run/munge
changed=0
if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$conf" ]; then
  printf '%s\n' "$conf" | $sudo tee /etc/slurm/slurm.conf >/dev/null
  changed=1
fi

# munge: the key the package made, its daemon as the munge user.
$sudo chown munge:munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  $sudo dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  $sudo chown munge:munge /etc/munge/munge.key
  $sudo chmod 400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ -z "$sudo" ]; then runuser -u munge -- munged; else sudo -u munge munged; fi
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {  # the daemon whose pid file is $1, when the configuration changed
  if running "$1"; then
    $sudo kill "$(cat "$1")"
    for _ in $(seq 50); do running "$1" || break; sleep 0.2; done
  fi
}
if [ "$changed" -eq 1 ]; then
  stop /run/slurmd.pid
  stop /run/slurmctld.pid
fi
running /run/slurmctld.pid || $sudo slurmctld
running /run/slurmd.pid || $sudo slurmd

state=""
for _ in $(seq 60); do
  state=$(sinfo -h -N -n "$node" -o %t 2>/dev/null || true)
  case "$state" in
    idle | mix | alloc) break ;;
    down* | drain* | drng*) $sudo scontrol update nodename="$node" state=resume 2>/dev/null || true ;;
  esac
  sleep 1
done
case "$state" in
  idle | mix | alloc) ;;
  *)
    echo "error: SLURM node $node is '${state:-not answering}' after 60 s; see" \
      "/var/log/slurm/slurmctld.log and /var/log/slurm/slurmd.log" >&2
    exit 1
    ;;
esac
echo "SLURM $(sinfo --version | awk '{print $2}'): partition debug, node $node" \
  "($cpus CPUs, $mem_mb MB, no GPUs) $state; ready in $(($(date +%s) - started)) s"
