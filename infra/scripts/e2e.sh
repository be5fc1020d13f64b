#!/usr/bin/env bash
# End-to-end test over HTTP: start the whole local shop (make dev, with 30-second holds so
# expiry is observable in the run, yet longer than a function instance takes to start under
# `cargo lambda watch`, which spawns each instance through `cargo run` on first use: with
# 8-second holds a slow machine saw a hold expire before its first submit answered), run
# infra/scripts/e2e.py and the deploy smoke walk (smoke.py) against the gateway, the storefront in a browser (browser.sh,
# lighthouse.sh), then
# schemathesis (api-fuzz.sh), stop everything.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
rm -f "$AISLE_STATE/dev.ready"
AISLE_HOLD_SECONDS=30 setsid "$here/dev.sh" >"$AISLE_STATE/dev.out" 2>&1 &
dev=$!
stop() { kill -- "-$dev" 2>/dev/null || true; wait "$dev" 2>/dev/null || true; }
trap stop EXIT
deadline=$((SECONDS + 600))
until [ -f "$AISLE_STATE/dev.ready" ]; do
  if ! kill -0 "$dev" 2>/dev/null || [ $SECONDS -ge $deadline ]; then cat "$AISLE_STATE/dev.out"; exit 1; fi
  sleep 1
done
eval "$(grep '^export ' "$AISLE_STATE/dev.out")"
export AISLE_STATE
python3 "$here/e2e.py"
# The smoke walk a deployer runs against a stack (make smoke STACK=...), here against make dev.
python3 "$here/smoke.py"
# The storefront in headless Chromium: a seller's listing and a shopper's whole flow, with
# axe-core on every page it shows; then Lighthouse on home, search and an item page.
"$here/browser.sh"
"$here/lighthouse.sh"
# The same running shop, fuzzed from openapi.yaml: no 5xx, documented statuses and bodies.
"$here/api-fuzz.sh"
