#!/usr/bin/env bats
# The entries as the old muscle memory types them: `npx zx scripts/<entry>.mts …`. zx leaves its
# own path and the script's in argv; berth must see only the operator's arguments.

# shellcheck disable=SC2154 # output and stderr are set by bats' run
bats_require_minimum_version 1.5.0

load common

setup() {
  berth_setup
  cd "${ROOT}" || return 1
}

@test "npx zx scripts/deploy.mts passes only the operator's arguments" {
  run -2 --separate-stderr npx --no-install zx scripts/deploy.mts example --tag 0123abc --only "x y"
  [ "${stderr##*$'\n'}" = "error: unknown service x y in --only for example: use proxy, web, worker" ]
}

@test "npx zx works for the per-product entry, deploy-all, rollback, status, report and hygiene --help" {
  for entry in deploy-example deploy-all rollback status report hygiene build; do
    run -0 --separate-stderr npx --no-install zx "scripts/${entry}.mts" --help
    [[ "${output}" == "usage: "* ]] || { echo "${entry}: ${output}"; return 1; }
  done
}

@test "an unknown product through npx zx exits 2 naming the known ones" {
  run -2 --separate-stderr npx --no-install zx scripts/deploy.mts nosuch
  [[ "${stderr##*$'\n'}" == "error: unknown product 'nosuch': use one of clock, common_plat, dashboard, example, invttrdg, notes"* ]]
}
