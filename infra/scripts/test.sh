#!/usr/bin/env bash
# The test command (`make test`): start the local stack if it is not running, run every test
# in the workspace against it, stop only what this script started, and end with one summary
# line ("N passed, N failed") over all test binaries.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
started=0
if ! "$here/stack.sh" status | grep -q "dynamodb: running"; then
  "$here/stack.sh" up --no-resources
  started=1
fi
trap '[ $started = 1 ] && AISLE_SEARCH=opensearch "$here/stack.sh" down' EXIT
cd "$AISLE_ROOT"
log="$AISLE_STATE/test-output.log"
set +e
cargo test --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# The search contract again on a real OpenSearch node (infra/opensearch, built with Maven
# on first use): one contract, two engines. Skipped when only some tests were asked for.
if [ $# -eq 0 ] && [ "${AISLE_SKIP_OPENSEARCH:-}" != 1 ]; then
  opensearch_started=0
  if ! AISLE_SEARCH=opensearch "$here/stack.sh" status | grep -q "opensearch: running"; then
    AISLE_SEARCH=opensearch "$here/stack.sh" up --no-resources
    opensearch_started=1
  fi
  echo "== the search tests on OpenSearch (AISLE_SEARCH=opensearch)" | tee -a "$log"
  set +e
  AISLE_SEARCH=opensearch cargo test -p aisle-suite -- search:: 2>&1 | tee -a "$log"
  opensearch_status=${PIPESTATUS[0]}
  set -e
  [ "$status" = 0 ] && status=$opensearch_status
  if [ $opensearch_started = 1 ] && [ $started = 0 ]; then
    kill "$(cat "$AISLE_STATE/opensearch.pid")" 2>/dev/null || true
    rm -f "$AISLE_STATE/opensearch.pid"
  fi
fi
if [ $started = 1 ]; then
  AISLE_SEARCH=opensearch "$here/stack.sh" down
  started=0
fi
echo
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
