#!/usr/bin/env bash
# `npm test`: every stage runs even after one fails, so the closing line counts what did not pass
# instead of hiding the stages that never ran. Ends with "N passed, N failed, N skipped"; under CI
# (CI=true/1) a skipped test is a failure: a green CI must mean every test ran.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

ci=false
case "${CI:-}" in [Tt][Rr][Uu][Ee] | 1) ci=true ;; esac
logs=$(mktemp -d "${TMPDIR:-/tmp}/berth-test.XXXXXX")
passed=0 failed=0 skipped=0 any_failed=0
table=()

# Counts from a vitest log ("Tests  1 failed | 20 passed | 2 skipped (23)") or bats TAP lines.
count_log() {
  sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1" | awk '
    function n(line, word) { return match(line, "[0-9]+ " word) ? substr(line, RSTART, RLENGTH) + 0 : 0 }
    /^[[:space:]]*Tests[[:space:]]+[0-9]/ { p += n($0, "passed"); f += n($0, "failed"); s += n($0, "skipped") + n($0, "todo"); next }
    /^not ok [0-9]+/ { f++; next }
    /^ok [0-9]+.*# [Ss][Kk][Ii][Pp]/ { s++; next }
    /^ok [0-9]+/ { p++ }
    END { print p + 0, f + 0, s + 0 }'
}

# stage NAME KIND COMMAND...: KIND is "tests" (counted from its output) or "check" (one pass/fail).
stage() {
  local name=$1 kind=$2 log status start p f s
  shift 2
  log="$logs/$name.log"
  echo "==> $name: $*"
  start=$(date +%s)
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  if [ "$kind" = tests ]; then
    read -r p f s < <(count_log "$log")
    # A file that could not load fails the stage without a failed test line: count it.
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  elif [ "$status" -eq 0 ]; then p=1 f=0 s=0; else p=0 f=1 s=0; fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  [ "$status" -ne 0 ] && any_failed=1
  table+=("$(printf '%-18s %-6s %4ss  %s passed, %s failed, %s skipped' "$name" "$([ "$status" -eq 0 ] && echo ok || echo FAILED)" "$(($(date +%s) - start))" "$p" "$f" "$s")")
}

have_v1() { command -v docker-compose >/dev/null 2>&1; }
have_v2() { docker compose version >/dev/null 2>&1; }

stage typecheck check npx tsc --noEmit
stage format check npx prettier --check --log-level warn .
stage shellcheck check shellcheck shims/*.sh scripts/*.sh .ci/run
stage drift check node scripts/drift.mts
stage unit tests npx vitest run --project unit
stage bats tests bats --formatter tap test/bats
# Both Compose flavours berth supports: the whole integration suite on v1, and on v2 every file
# whose outcome depends on Compose. Locally a missing flavour is skipped with a line; CI has both.
if have_v1 || [ "$ci" = true ]; then
  # CI's machine has no buildx on the default path: the build test there must take BuildKit's
  # `docker build`, and the bake stage below must take bake.
  expect_builder=
  [ "$ci" = true ] && expect_builder=buildkit
  stage integration-v1 tests env BERTH_COMPOSE=v1 BERTH_EXPECT_BUILDER="$expect_builder" npx vitest run --project integration
else
  echo "==> integration-v1: skipped, no docker-compose (v1) here"
fi
if have_v2 || [ "$ci" = true ]; then
  stage integration-v2 tests env BERTH_COMPOSE=v2 npx vitest run --project integration-v2
else
  echo "==> integration-v2: skipped, no docker compose (v2) plugin here (scripts/compose-v2-up.sh installs it)"
fi
# The build test once more with buildx visible, so bake runs for real beside the fallback above.
# .ci/run builds buildx into a docker config of its own (BERTH_BUILDX_DOCKER_CONFIG).
if [ -n "${BERTH_BUILDX_DOCKER_CONFIG:-}" ] || [ "$ci" = true ]; then
  stage integration-bake tests env DOCKER_CONFIG="${BERTH_BUILDX_DOCKER_CONFIG:-}" BERTH_COMPOSE=v2 BERTH_EXPECT_BUILDER=bake \
    npx vitest run --project integration test/integration/build.test.mts
else
  echo "==> integration-bake: skipped, set BERTH_BUILDX_DOCKER_CONFIG to a docker config with buildx (scripts/buildx-up.sh)"
fi

# CI keeps only the tail of a long log: name what failed here, with the first lines of each error.
if [ "$any_failed" -ne 0 ]; then
  echo
  echo "what failed:"
  for log in "$logs"/*.log; do
    sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$log" | awk -v stage="$(basename "$log" .log)" '
      /^ FAIL / { print "  " stage ":" substr($0, 6); shown = 0; grab = 1; next }
      /^not ok [0-9]+/ { print "  " stage ": " $0; next }
      grab && NF && shown < 6 && !/^[⎯ ]*$/ { print "      " $0; shown++ }
      shown >= 6 { grab = 0 }'
  done | head -60
fi

echo
echo "stage              result  time  tests"
printf '%s\n' "${table[@]}"
if [ "$ci" = true ] && [ "$skipped" -gt 0 ]; then
  echo "CI: $skipped test(s) skipped; under CI every test must run, so each counts as failed"
  failed=$((failed + skipped))
  any_failed=1
fi
rm -rf "$logs"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$any_failed"
