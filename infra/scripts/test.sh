#!/usr/bin/env bash
# The test command (`make test`): start the local stack if it is not running, run every test
# in the workspace against it, and stop only what this script started.
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
cargo test --workspace "$@"
