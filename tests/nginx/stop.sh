#!/bin/bash
# Stops the nginx started by start.sh DIR and waits for it to go.
# usage: tests/nginx/stop.sh DIR
set -u
D=$1
[ -f "$D/nginx.pid" ] || exit 0
pid=$(cat "$D/nginx.pid")
kill -QUIT "$pid" 2>/dev/null
# A master started with SIGQUIT blocked (a parent's signal mask is inherited) ignores it: SIGKILL
# after 5 s, to the master and its workers.
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.05; done
pkill -KILL -P "$pid" 2>/dev/null
kill -KILL "$pid" 2>/dev/null
exit 0
