#!/usr/bin/env bats
# The generated shims as operators, cron and the dashboard call them. No engine is needed: every
# case stops at --help or at argument/product validation, before anything touches the VM.

# shellcheck disable=SC2154 # output and stderr are set by bats' run
bats_require_minimum_version 1.5.0

load common

setup() {
  berth_setup
  # --tag keeps these from asking git for HEAD, so they pass in an exported tree too.
  TAG=0123abc
}

@test "an argument with spaces and quotes reaches berth unchanged" {
  cd "${ROOT}"
  run -2 --separate-stderr ./deploy-example.sh --tag "${TAG}" --only "a b'c"
  [ "${output}" = "" ]
  [ "${stderr}" = "error: unknown service a b'c in --only for example: use proxy, web, worker" ]
}

@test "nothing in an argument is expanded or split: \$, *, backslash, double quote, --flag=value" {
  cd "${ROOT}"
  # shellcheck disable=SC2016 # the unexpanded $HOME is the point
  run -2 --separate-stderr ./deploy-example.sh --tag="${TAG}" '--only=$HOME * \n "q"'
  # shellcheck disable=SC2016 # same literal, as berth must echo it
  [ "${stderr}" = 'error: unknown service $HOME * \n "q" in --only for example: use proxy, web, worker' ]
}

@test "the default release comes from git when --tag is absent (as operators type it)" {
  git -C "${ROOT}" rev-parse --verify HEAD >/dev/null || { echo "berth's checkout has no HEAD git can read"; return 1; }
  cd "${ROOT}"
  run -2 --separate-stderr ./deploy-example.sh --only "a b'c"
  [[ "${stderr}" == "error: unknown service a b'c in --only for example:"* ]]
}

@test "deploy.sh takes the product as its first argument and propagates exit code 2 for an unknown one" {
  run -2 --separate-stderr "${ROOT}/shims/deploy.sh" nosuch --tag "${TAG}"
  [[ "${stderr}" == "error: unknown product 'nosuch': use one of "*clock*example*invttrdg* ]]

  run -2 --separate-stderr "${ROOT}/shims/deploy.sh" example --tag "${TAG}" --only "x y"
  [[ "${stderr}" == "error: unknown service x y in --only for example:"* ]]

  run -2 --separate-stderr "${ROOT}/shims/deploy.sh"
  [[ "${stderr}" == "error: deploy takes exactly one product"* ]]
}

@test "a bad flag exits 2 through a product shim" {
  run -2 --separate-stderr "${ROOT}/shims/deploy-notes.sh" --no-such-flag
  [[ "${stderr}" == error:*no-such-flag* ]]
}

@test "--help works through every shim: exit 0, usage on stdout, stderr empty" {
  local shim
  for shim in "${ROOT}"/shims/*.sh; do
    run -0 --separate-stderr "${shim}" --help
    [ "${stderr}" = "" ] || { echo "${shim} wrote to stderr: ${stderr}"; return 1; }
    [[ "${output}" == usage:* ]] || { echo "${shim}: ${output}"; return 1; }
  done
}

@test "works from another directory" {
  cd /tmp
  run -0 --separate-stderr "${ROOT}/deploy-invttrdg.sh" --help
  [[ "${output}" == usage:* ]]
  run -2 --separate-stderr "${ROOT}/deploy-example.sh" --tag "${TAG}" --only "a b'c"
  [[ "${stderr}" == "error: unknown service a b'c in --only"* ]]
}

@test "every product has a root symlink into shims/ that runs as typed" {
  cd "${ROOT}"
  local product name
  for product in products/*.mts; do
    name="$(basename "${product}" .mts)"
    # edge.mts says where the VM's shared Caddy runs: not a product, so no shim.
    [ "${name}" = edge ] && { [ ! -e "deploy-edge.sh" ] || { echo "deploy-edge.sh exists"; return 1; }; continue; }
    [ -L "deploy-${name}.sh" ] || { echo "deploy-${name}.sh is not a symlink"; return 1; }
    [ "$(readlink "deploy-${name}.sh")" = "shims/deploy-${name}.sh" ]
    [ -x "shims/deploy-${name}.sh" ]
  done
  [ "$(readlink deploy-all.sh)" = "shims/deploy-all.sh" ]
  run -0 --separate-stderr ./deploy-all.sh --help
  [[ "${output}" == usage:* ]]
}

@test "a symlink from elsewhere (the dashboard's deploy.sh) run with sh finds the berth root" {
  mkdir -p "${BATS_TEST_TMPDIR}/dashboard"
  ln -s "${ROOT}/shims/deploy.sh" "${BATS_TEST_TMPDIR}/dashboard/deploy.sh"
  cd "${BATS_TEST_TMPDIR}"
  run -2 --separate-stderr sh dashboard/deploy.sh example --tag "${TAG}" --only "a b'c"
  [ "${stderr}" = "error: unknown service a b'c in --only for example: use proxy, web, worker" ]
}

@test "a berth root whose path has a space" {
  local spaced="${BATS_TEST_TMPDIR}/my berth"
  mkdir -p "${spaced}"
  local entry
  for entry in lib scripts products node_modules package.json; do ln -s "${ROOT}/${entry}" "${spaced}/${entry}"; done
  cp -R "${ROOT}/shims" "${spaced}/shims"
  ln -s shims/deploy-example.sh "${spaced}/deploy-example.sh"
  cd "${spaced}"
  run -2 --separate-stderr ./deploy-example.sh --tag "${TAG}" --only "a b'c"
  [ "${stderr}" = "error: unknown service a b'c in --only for example: use proxy, web, worker" ]
}

@test "--rollback [sha] through a product shim is the rollback: a SHA with spaces, no SHA, deploy flags" {
  cd "${ROOT}"
  run -2 --separate-stderr ./deploy-example.sh --rollback "a b"
  [ "${output}" = "" ]
  [ "${stderr}" = "error: a b is not a recorded release of example: example has no successful release recorded yet" ]

  run -2 --separate-stderr ./deploy-example.sh --rollback
  [ "${stderr}" = "error: example has no release before the first one to roll back to: deploy example first" ]

  run -2 --separate-stderr ./deploy-example.sh --rollback --tag "${TAG}"
  [ "${stderr}" = "error: --rollback takes no --tag: run --rollback [sha] with --dry-run, --wait or --json only" ]

  run -2 --separate-stderr "${ROOT}/shims/deploy.sh" example --rollback a b
  [[ "${stderr}" == "error: unexpected argument b:"* ]]
}
