#!/bin/bash
# Stops the Slurm started by start.sh DIR (slurmd, slurmctld, then munged) and waits for them to go.
# usage: tests/slurm/stop.sh DIR
set -u
D=$1
pids=""
for f in "$D/slurmd.pid" "$D/slurmctld.pid"; do [ -f "$f" ] && pids="$pids $(cat "$f")"; done
[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
[ -f "$D/munge/munged.pid" ] && pids="$pids $(cat "$D/munge/munged.pid")" && kill -TERM "$(cat "$D/munge/munged.pid")" 2>/dev/null
# Daemons started with SIGTERM blocked (a parent's signal mask is inherited) ignore it: SIGKILL after 5 s.
for _ in $(seq 100); do alive=0; for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done; [ $alive = 0 ] && exit 0; sleep 0.05; done
kill -KILL $pids 2>/dev/null
exit 0
