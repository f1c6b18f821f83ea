#!/usr/bin/env bash
# Install (if needed) and start a one-node SLURM cluster on localhost, for the tests of
# jobs/*.sbatch: Debian's slurm-wlm + munge, slurmctld + slurmd, no cgroups.
# Idempotent: exits 0 at once when `sinfo` already answers. Needs root (apt-get).
set -euo pipefail
CPUS=${SLURM_TEST_CPUS:-4}

if command -v sinfo >/dev/null && timeout 5 sinfo -h >/dev/null 2>&1; then
  exit 0
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: a key and a running daemon
mkdir -p /etc/munge /var/log/munge /var/lib/munge /run/munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown -R munge:munge /etc/munge /var/log/munge /var/lib/munge /run/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c "munged --force" 2>/dev/null || munged --force

HOST=$(hostname -s)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=perctest
SlurmctldHost=${HOST}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=5
MinJobAge=60
InactiveLimit=0
NodeName=${HOST} CPUs=${CPUS} State=UNKNOWN
PartitionName=debug Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
CONF
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
  if timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE "idle|mix|alloc"; then
    exit 0
  fi
  scontrol update nodename="${HOST}" state=resume >/dev/null 2>&1 || true
  sleep 1
done
echo "start-slurm.sh: SLURM did not come up; see /var/log/slurm/" >&2
exit 1
