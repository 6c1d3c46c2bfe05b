#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine for the SLURM tests (idempotent), as
# scripts/postgres-local.sh starts PostgreSQL. Debian/Ubuntu, as root (or with sudo):
# installs `slurm-wlm`, `munge`, `slurmdbd` and `mariadb-server` when missing, writes
# /etc/slurm/slurm.conf for this host (its CPUs and memory as the machine reports them, no
# GPUs, no cgroups: processes tracked by /proc, one partition `debug`), starts MariaDB,
# munged, slurmdbd, slurmctld and slurmd, and waits until `sinfo` shows the node idle.
# The accounting daemon is there because submitit (Hydra's SLURM launcher) reads every
# job's state with `sacct`: without it a cancelled job is never seen to end. A requeued
# job waits cred_expire (30 s here, SLURM's default 120 s) before it starts again.
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
started=$(date +%s)
missing=()
for pair in slurmctld:slurm-wlm slurmd:slurm-wlm munged:munge slurmdbd:slurmdbd \
  mariadbd:mariadb-server; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
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
AuthInfo=cred_expire=30
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
SchedulerParameters=sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
KillWait=10
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
)

dbd_conf=$(cat <<EOF
# Written by scripts/slurm-local.sh: accounting (sacct) in the local MariaDB.
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
EOF
)

$sudo mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm \
  /run/munge
changed=0
if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$conf" ]; then
  printf '%s\n' "$conf" | $sudo tee /etc/slurm/slurm.conf >/dev/null
  changed=1
fi
if [ "$($sudo cat /etc/slurm/slurmdbd.conf 2>/dev/null)" != "$dbd_conf" ]; then
  printf '%s\n' "$dbd_conf" | $sudo tee /etc/slurm/slurmdbd.conf >/dev/null
  changed=1
fi
$sudo chmod 600 /etc/slurm/slurmdbd.conf  # slurmdbd refuses a readable one

# MariaDB for the accounting: root over the local socket (unix_socket auth, no password).
if ! $sudo mariadb -e 'SELECT 1' >/dev/null 2>&1; then
  $sudo /etc/init.d/mariadb start >/dev/null
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

running() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }
stop() {  # the daemon whose pid file is $1, when the configuration changed
  if running "$1"; then
    $sudo kill "$(cat "$1")"
    for _ in $(seq 50); do running "$1" || break; sleep 0.2; done
  fi
}
if [ "$changed" -eq 1 ]; then
  stop /run/slurmd.pid
  stop /run/slurmctld.pid
  stop /run/slurmdbd.pid
fi
running /run/slurmdbd.pid || $sudo slurmdbd
for _ in $(seq 30); do  # slurmctld registers the cluster with slurmdbd when it starts
  sacctmgr -n list cluster >/dev/null 2>&1 && break
  sleep 1
done
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
for _ in $(seq 30); do  # sacct answers once slurmctld has registered with slurmdbd
  sacct -n -X -S now >/dev/null 2>&1 && break
  sleep 1
done
echo "SLURM $(sinfo --version | awk '{print $2}'): partition debug, node $node" \
  "($cpus CPUs, $mem_mb MB, no GPUs) $state; ready in $(($(date +%s) - started)) s"
