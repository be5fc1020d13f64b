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
trap '[ $started = 1 ] && "$here/stack.sh" down' EXIT
cd "$AISLE_ROOT"
log="$AISLE_STATE/test-output.log"
set +e
cargo test --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ $started = 1 ]; then
  "$here/stack.sh" down
  started=0
fi
echo
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
