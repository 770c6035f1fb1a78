# shellcheck shell=bash
# Shared setup for the bats files: a berth that loads the example product without touching any
# engine or registry, and ignores a developer's own settings.
berth_setup() {
  # shellcheck disable=SC2034 # ROOT is read by the test files that load this one
  ROOT="$(cd "${BATS_TEST_DIRNAME}/../.." && pwd)"
  # The example product needs a registry to load; nothing ever connects to it.
  export BERTH_REGISTRY=127.0.0.1:5999
  export BERTH_STATE_DIR="${BATS_TEST_TMPDIR}/state"
  # A developer's .env or settings must not change what these tests see.
  export BERTH_ENV_FILE="${BATS_TEST_TMPDIR}/absent.env"
  unset BERTH_PRODUCTS_DIR BERTH_WORKSPACE VERBOSE
  # A clone owned by another user (CI copies, containers) makes git refuse the repository; these
  # tests read it and never write, so trust it rather than skip what they check.
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'
}
