#!/bin/sh
# Runs a command once the Docker engine answers: at boot, docker.service counts as started (and
# cron's @reboot runs) before the engine takes requests, and berth's repair needs it.
# usage: scripts/when-engine-answers.sh <command> [args...]
# Waits up to BERTH_ENGINE_WAIT seconds (default 300), then exits 1 saying so.
set -u
[ "$#" -gt 0 ] || { echo "usage: $0 <command> [args...]" >&2; exit 2; }
limit="${BERTH_ENGINE_WAIT:-300}"
waited=0
until docker info >/dev/null 2>&1; do
  if [ "$waited" -ge "$limit" ]; then
    echo "error: the Docker engine did not answer within ${limit}s; not running $*: start it (systemctl start docker), then run $* again" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
exec "$@"
