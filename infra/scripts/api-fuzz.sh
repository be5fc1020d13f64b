#!/usr/bin/env bash
# Schemathesis (PyPI, its own venv ~/.cache/aisle/venv-schemathesis) against the running local
# gateway, once per role (shopper, seller, warehouse token): property-based requests from
# openapi.yaml, each answer checked for no 5xx, a documented status code, a body that matches
# the documented schema and content type. Expects make dev's exports (AISLE, SHOPPER, SELLER,
# WAREHOUSE); e2e.sh calls it after e2e.py, so orders, refunds and parcels exist to be read.
# AISLE_FUZZ_EXAMPLES (default 5) is the number of generated cases per operation and phase;
# the seed is fixed so a failure replays. Requests may take up to 60 s: under cargo lambda
# watch a new function instance starts through `cargo run`, slow on a loaded machine.
# No example database (Hypothesis would write .hypothesis/ into the work tree, and cargo
# lambda watch restarts every function on any change there).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
cd "$AISLE_ROOT"
venv="$AISLE_CACHE/venv-schemathesis"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q '4.32.5'; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
# Run from the state directory: schemathesis keeps a cache (.schemathesis/) in its working
# directory, and a change in the work tree makes cargo lambda watch restart every function.
spec="$AISLE_ROOT/openapi.yaml"
cd "$AISLE_STATE"
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
failed=0
for role in SHOPPER SELLER WAREHOUSE; do
  echo "== schemathesis as the ${role,,} (${AISLE_FUZZ_EXAMPLES:-5} examples per operation)"
  if ! "$venv/bin/schemathesis" run "$spec" --url "$AISLE" \
      -H "Authorization: Bearer ${!role}" --checks "$checks" \
      --max-examples "${AISLE_FUZZ_EXAMPLES:-5}" --seed 20261201 --request-timeout 60 \
      --generation-database none \
      --report junit --report-junit-path "$AISLE_STATE/schemathesis-${role,,}.xml" \
      --no-color 2>&1 | tail -n 25; then
    failed=1
  fi
done
exit $failed
