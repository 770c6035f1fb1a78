#!/bin/sh
# busybox httpd ignores SIGTERM as PID 1, so this shell owns PID 1 and turns TERM into a prompt exit.
mkdir -p /www
# /version: the commit this image was built from (BERTH_SHA at build time); a reused image keeps its own.
echo "${APP_VERSION:-$(cat /app/VERSION)}" > /www/version
echo "<h1>example $(cat /www/version)</h1>" > /www/index.html
# A release built with BERTH_SHA=*-broken never becomes healthy: used to prove failed releases stop.
case "$(cat /www/version)" in *-broken) ;; *) echo ok > /www/healthz ;; esac
httpd -f -p "${PORT:-8080}" -h /www &
pid=$!
trap 'kill "$pid"; exit 0' TERM INT
wait "$pid"
