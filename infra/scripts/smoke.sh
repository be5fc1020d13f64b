#!/usr/bin/env bash
# `make smoke`: the smoke walk (infra/scripts/smoke.py) against a running Aisle.
#   make smoke STACK=<stack name>   a deployed stack: its outputs are read with the AWS CLI
#                                   (credentials for its account); SHOPPER, SELLER and the
#                                   warehouse's WAREHOUSE_CLIENT_ID/_SECRET (or WAREHOUSE) come
#                                   from the environment (README "Deploying", "Smoke run")
#   make smoke                      the local shop: against a running `make dev` if its
#                                   variables are exported (AISLE, ...), else starts one
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
if [ -n "${STACK:-}" ]; then
  out() { aws cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }
  AISLE="$(out ApiUrl)"; AUTH_DOMAIN="$(out AuthDomain)"
  export AISLE AUTH_DOMAIN
  : "${SHOPPER:?a shopper's token (sign in on the storefront)}" "${SELLER:?a seller's token}"
  exec python3 "$here/smoke.py"
fi
source "$here/env.sh"
if [ -n "${AISLE:-}" ] && [ -n "${SHOPPER:-}" ]; then
  export LOCALSTRIPE="http://127.0.0.1:$AISLE_LOCALSTRIPE_PORT"
  exec python3 "$here/smoke.py"
fi
rm -f "$AISLE_STATE/dev.ready"
setsid "$here/dev.sh" >"$AISLE_STATE/dev.out" 2>&1 &
dev=$!
stop() { kill -- "-$dev" 2>/dev/null || true; wait "$dev" 2>/dev/null || true; }
trap stop EXIT
deadline=$((SECONDS + 600))
until [ -f "$AISLE_STATE/dev.ready" ]; do
  if ! kill -0 "$dev" 2>/dev/null || [ $SECONDS -ge $deadline ]; then cat "$AISLE_STATE/dev.out"; exit 1; fi
  sleep 1
done
eval "$(grep '^export ' "$AISLE_STATE/dev.out")"
export LOCALSTRIPE="http://127.0.0.1:$AISLE_LOCALSTRIPE_PORT"
python3 "$here/smoke.py"
