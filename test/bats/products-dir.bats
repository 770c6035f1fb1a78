#!/usr/bin/env bats
# A products directory outside the checkout, as on a VM (/etc/berth/products), through the entries
# as operators type them: its files import defineProduct by the stable name 'berth'.

# shellcheck disable=SC2154 # output and stderr are set by bats' run
bats_require_minimum_version 1.5.0

load common

setup() {
  berth_setup
  cd "${ROOT}" || return 1
  export BERTH_PRODUCTS_DIR="${BATS_TEST_TMPDIR}/etc/berth/products"
  mkdir -p "${BERTH_PRODUCTS_DIR}"
  [[ "${BERTH_PRODUCTS_DIR}" != "${ROOT}"* ]]
}

product() { # name, import line
  printf '%s\nexport default defineProduct({ name: '"'%s'"', repo: '"'/nonexistent/%s'"', composeFiles: ['"'compose.yaml'"'], services: { web: { kind: '"'http'"' } } });\n' \
    "$2" "$1" "$1" >"${BERTH_PRODUCTS_DIR}/$1.mts"
}

@test "a product file importing 'berth' loads and is validated from a directory outside the checkout" {
  product acme "import { defineProduct } from 'berth';"
  run -2 --separate-stderr npx --no-install zx scripts/deploy.mts acme --tag v1
  # Past loading: what stops it is the repo, which is not on this machine.
  [[ "${stderr##*$'\n'}" == "error: ${BERTH_PRODUCTS_DIR}/acme.mts is invalid: repo: /nonexistent/acme does not exist"* ]]
}

@test "an import berth cannot resolve is named as such, not as syntax" {
  product acme "import { defineProduct } from '../lib/config/define.mts';"
  run -2 --separate-stderr npx --no-install zx scripts/deploy.mts acme --tag v1
  [ "${stderr##*$'\n'}" = "error: ${BERTH_PRODUCTS_DIR}/acme.mts imports '../lib/config/define.mts', which berth cannot resolve (expected ${BATS_TEST_TMPDIR}/etc/berth/lib/config/define.mts): import { defineProduct } from 'berth' instead; berth resolves that name wherever the file lives" ]
}
