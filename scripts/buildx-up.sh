#!/usr/bin/env bash
# Installs buildx as a Docker CLI plugin, built from source through the Go module proxy (no hub,
# no GitHub release downloads needed). The version is pinned; `go install` checks the module
# against the Go checksum database, so no sha256 of our own is kept.
# A cold build takes minutes (~6.5 on 2 cores); Go's module and build caches make a repeat fast.
# Does nothing when `docker buildx version` already reports the pinned version.
#   scripts/buildx-up.sh                # as root: /usr/local/lib/docker/cli-plugins
#   BERTH_PLUGIN_DIR=DIR scripts/buildx-up.sh
set -euo pipefail

version=v0.38.2
module=github.com/docker/buildx
plugin_dir=${BERTH_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}

say() { echo "buildx-up: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# `docker buildx version` prints "github.com/docker/buildx v0.38.2 <revision>".
installed_version() {
  "$1" buildx version 2>/dev/null | awk 'NR == 1 { print $2 }' || true
}

if [ "$(installed_version docker)" = "$version" ]; then
  exit 0
fi

go=$(command -v go || true)
[ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
[ -n "$go" ] || die "Go is needed to build buildx $version: install Go (1.21 or newer; it fetches the 1.26.8 toolchain buildx asks for) or put /usr/local/go/bin on PATH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/buildx.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

say "building buildx $version with $("$go" version | awk '{ print $3 }') (minutes when Go's caches are cold)"
started=$SECONDS
# Without the -X, buildx reports v0.0.0+unknown and this script could never see it installed.
GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -trimpath" CGO_ENABLED=0 \
  "$go" install -ldflags "-s -w -X $module/version.Version=$version -X $module/version.Package=$module" \
  "$module/cmd/buildx@$version" >&2
[ -x "$tmp/buildx" ] || die "go install produced no buildx binary in $tmp"
say "built in $((SECONDS - started))s"

mkdir -p "$plugin_dir"
install -m 755 "$tmp/buildx" "$plugin_dir/docker-buildx"
say "installed buildx $version at $plugin_dir/docker-buildx"

have=$(installed_version docker)
if [ "$have" != "$version" ]; then
  say "docker buildx version: ${have:-none} (expected $version; DOCKER_CONFIG's cli-plugins or another plugin directory may shadow it)"
  exit 1
fi
say "docker buildx version: $have"
