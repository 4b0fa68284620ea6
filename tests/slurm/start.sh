#!/bin/bash
# Starts a single-node Slurm (munged, slurmctld, slurmd on localhost) whose files all live in DIR.
# usage: tests/slurm/start.sh DIR   — then use it with SLURM_CONF=DIR/slurm.conf; stop with stop.sh DIR.
# Needs root and the Debian packages slurm-wlm and munge; installs nothing. Ports: FLOW_SLURM_PORT (6817) and +1.
set -eu
D=$(mkdir -p "$1" && cd "$1" && pwd)
PORT=${FLOW_SLURM_PORT:-6817}
for b in munged slurmctld slurmd; do
  command -v $b >/dev/null 2>&1 || [ -x /usr/sbin/$b ] || { echo "start.sh: $b not found (install slurm-wlm and munge)" >&2; exit 3; }
done
sed -e "s|@DIR@|$D|g" -e "s|@PORT@|$PORT|g" -e "s|@PORT1@|$((PORT + 1))|g" \
  "$(dirname "$0")/slurm.conf.in" > "$D/slurm.conf"
export SLURM_CONF=$D/slurm.conf
mkdir -p "$D/munge" "$D/state" "$D/spool"
chown munge:munge "$D/munge"; chmod 711 "$D/munge"   # 700 fails: munge needs execute permission for all
setsid nohup runuser -u munge -- /usr/sbin/munged --foreground \
  --socket="$D/munge/munge.socket.2" --pid-file="$D/munge/munged.pid" \
  --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" > "$D/munged.out" 2>&1 < /dev/null &
wait_for() { # seconds, command...
  local n=$(( $1 * 20 )); shift
  until "$@" > /dev/null 2>&1; do n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.05; done
}
wait_for 10 munge -n -S "$D/munge/munge.socket.2" || { echo "start.sh: munged did not start; see $D/munge/munged.log" >&2; exit 1; }
setsid nohup /usr/sbin/slurmctld -D -f "$SLURM_CONF" > "$D/slurmctld.out" 2>&1 < /dev/null &
wait_for 20 sh -c 'scontrol ping | grep -q "is UP"' || { echo "start.sh: slurmctld did not start; see $D/slurmctld.log" >&2; exit 1; }
setsid nohup /usr/sbin/slurmd -D -N localhost -f "$SLURM_CONF" > "$D/slurmd.out" 2>&1 < /dev/null &
wait_for 20 sh -c '[ "$(sinfo -h -n localhost -o %T)" = idle ]' || { echo "start.sh: slurmd did not register; see $D/slurmd.log" >&2; exit 1; }
echo "slurm up: SLURM_CONF=$SLURM_CONF"
