#!/usr/bin/env bash
# Makes sure a Docker engine answers. If `docker info` already works, does nothing and prints
# nothing. Otherwise starts dockerd in the background and prints the path of a file holding its
# PID, so the caller (e.g. .ci/run) can stop exactly that process later:
#   pidfile=$(scripts/engine-up.sh); ...; [ -n "$pidfile" ] && kill "$(cat "$pidfile")"
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "engine-up: docker info fails and dockerd is not installed (apt-get install docker.io)" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-engine.XXXXXX")
log="$dir/dockerd.log"
pidfile="$dir/dockerd.pid"
# All three streams redirected: a caller capturing our stdout with $(...) must not wait on dockerd.
dockerd >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"
echo "engine-up: started dockerd (pid $pid, log $log)" >&2

for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    echo "$pidfile"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    break
  fi
  sleep 1
done

echo "engine-up: dockerd exited or did not answer within 60 s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
kill "$pid" 2>/dev/null || true
exit 1
