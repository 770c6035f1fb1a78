#!/usr/bin/env bats
# What runs berth's repair at boot: the systemd unit and the cron @reboot line, both through
# scripts/when-engine-answers.sh, which waits for the engine before it runs the command.

# shellcheck disable=SC2154 # output, status and stderr are set by bats' run
bats_require_minimum_version 1.5.0

load common

setup() {
  berth_setup
  cd "${ROOT}" || return 1
}

REPAIR='scripts/when-engine-answers.sh npx zx scripts/repair.mts'

@test "the systemd unit starts after the engine, requires it, and runs repair once it answers" {
  unit=scripts/cron/berth-repair.service
  grep -qx 'After=docker.service network-online.target' "${unit}"
  grep -qx 'Requires=docker.service' "${unit}"
  grep -qx 'Type=oneshot' "${unit}"
  grep -qx "ExecStart=/bin/sh ${REPAIR}" "${unit}"
  grep -qx 'WantedBy=multi-user.target' "${unit}"
  # systemd's own parser, where there is one, with the checkout as its working directory.
  if command -v systemd-analyze >/dev/null; then
    sed "s#/srv/berth#${ROOT}#" "${unit}" >"${BATS_TEST_TMPDIR}/berth-repair.service"
    run -0 systemd-analyze verify "${BATS_TEST_TMPDIR}/berth-repair.service"
    [ -z "${output}" ] || { echo "${output}"; return 1; }
  fi
}

@test "the cron file has one @reboot line for root that runs the same repair, and only settings besides" {
  file=scripts/cron/berth-repair
  [[ "${file}" != *.* ]]
  grep -qx "@reboot root cd /srv/berth && ${REPAIR} >>/var/log/berth-repair.log 2>&1" "${file}"
  while IFS= read -r line; do
    case "${line}" in
      '' | '#'* | [A-Z]*=*) ;;
      '@reboot root '*) ;;
      *) echo "not a cron.d line: ${line}"; return 1 ;;
    esac
  done <"${file}"
  [ "$(grep -c '^@reboot ' "${file}")" -eq 1 ]
}

@test "when-engine-answers.sh runs the command once the engine answers, and gives up with one error line" {
  [ -x scripts/when-engine-answers.sh ]
  run -1 --separate-stderr env DOCKER_HOST=unix:///nonexistent/docker.sock BERTH_ENGINE_WAIT=1 scripts/when-engine-answers.sh echo ran
  [ -z "${output}" ]
  [[ "${stderr}" == "error: the Docker engine did not answer within 1s; not running echo ran: start it"* ]]
  run -2 --separate-stderr scripts/when-engine-answers.sh
  if docker info >/dev/null 2>&1; then
    run -0 scripts/when-engine-answers.sh echo ran
    [ "${output}" = ran ]
  fi
}
