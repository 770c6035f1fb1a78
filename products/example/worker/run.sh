#!/bin/sh
# A worker with no HTTP: it ticks, and exits promptly on TERM.
trap 'exit 0' TERM INT
while :; do
  echo "worker $(cat /app/VERSION) tick $(date +%T)"
  sleep 5 &
  wait $!
done
