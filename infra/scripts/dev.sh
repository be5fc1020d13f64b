#!/usr/bin/env bash
# `make dev`: the whole shop on this machine, wired from template.yaml only.
#   1. DynamoDB Local + moto, with the template's tables, queues and bus;
#   2. demo data (warehouse sites);
#   3. every function under `cargo lambda watch` (:9000), with the functions' environment
#      derived from the template (`aisle-local env`);
#   4. IAM per function (`aisle-local iam-proxy`, AISLE_IAM=enforce|audit|off) in front of
#      DynamoDB Local and moto: a call the template does not grant is AccessDeniedException;
#   5. the local gateway (:3000 by default, AISLE_PORT): HTTP routes, JWT authorizer
#      emulation, stream/SQS/schedule event sources;
#   6. the storefront (:3001, AISLE_STOREFRONT_PORT): static pages, dev sign-in; the
#      live-stock WebSocket API on :3002 (AISLE_LIVE_PORT), run by the gateway;
#   7. payments through the Stripe adapter against localstripe (:8420, behind
#      aisle-local stripe-proxy on :8421), whose webhooks are delivered to the gateway.
# Prints the base URL and ready-made tokens. Ctrl-C stops every child.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
: "${AISLE_PORT:=3000}"
command -v cargo-lambda >/dev/null || python3 -m pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2
"$here/stack.sh" up
cd "$AISLE_ROOT"
cargo build --quiet -p aisle-local --bins
# Exactly what `cargo lambda watch` builds when it starts an instance (`cargo run -p
# aisle-functions --bin <name>`): a workspace-wide build unifies features differently, so
# each function's first instance would otherwise recompile the library, one at a time,
# while its first request waits (tens of seconds each on a loaded machine).
cargo build --quiet -p aisle-functions --bins
local_cli="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/aisle-local"
"$local_cli" seed
# AISLE_SEARCH=opensearch: the real node stack.sh started serves search; its index and alias
# exist before the indexer writes, as a deploy's first rebuild makes them.
if [ "$AISLE_SEARCH" = opensearch ]; then "$local_cli" search rebuild; fi
# The demo warehouse's system, onboarded as a deployer onboards one (its app client and IAM
# role bound to wh-1000): the WAREHOUSE token below and `aisle-local warehouse wh-1000 ...`.
"$local_cli" onboard-warehouse wh-1000 >/dev/null
# The functions reach DynamoDB Local and moto only through the IAM proxies (AISLE_IAM=audit
# logs denials without refusing them; AISLE_IAM=off talks to the stand-ins directly).
: "${AISLE_IAM:=enforce}"
opensearch="http://127.0.0.1:$AISLE_OPENSEARCH_PORT"
if [ "$AISLE_IAM" = off ]; then
  ddb="$AWS_ENDPOINT_URL_DYNAMODB"; moto="$AWS_ENDPOINT_URL_SQS"
else
  ddb="http://127.0.0.1:$AISLE_IAM_DDB_PORT"; moto="http://127.0.0.1:$AISLE_IAM_MOTO_PORT"
  [ "$AISLE_SEARCH" = opensearch ] && opensearch="http://127.0.0.1:$AISLE_IAM_OPENSEARCH_PORT"
fi
{
  # AISLE_LOCAL_TIMEOUTS (name=seconds,...) replaces the template's timeouts, to watch a
  # function being stopped at its deadline by hand (README, "Deploying").
  if [ -n "${AISLE_LOCAL_TIMEOUTS:-}" ]; then
    "$local_cli" env | grep -v '^AISLE_LOCAL_TIMEOUTS='
    echo "AISLE_LOCAL_TIMEOUTS='$AISLE_LOCAL_TIMEOUTS'"
  else
    "$local_cli" env
  fi | grep -v '^OPENSEARCH_ENDPOINT='
  # AISLE_SEARCH=opensearch: the node, through its IAM proxy (the template's es grants).
  [ "$AISLE_SEARCH" = opensearch ] && echo "OPENSEARCH_ENDPOINT=$opensearch"
  [ -n "${AISLE_HOLD_SECONDS:-}" ] && echo "HOLD_SECONDS=$AISLE_HOLD_SECONDS"
  # AISLE_ARCHIVE_AFTER_SECONDS: archive final orders after seconds, not 90 days (demos).
  [ -n "${AISLE_ARCHIVE_AFTER_SECONDS:-}" ] && echo "ARCHIVE_AFTER_SECONDS=$AISLE_ARCHIVE_AFTER_SECONDS"
  env | grep -E '^(AWS_REGION|AWS_EC2_METADATA_DISABLED|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)='
  echo "AWS_ENDPOINT_URL_DYNAMODB=$ddb"
  echo "AWS_ENDPOINT_URL_DYNAMODB_STREAMS=$ddb"
  echo "AWS_ENDPOINT_URL_SQS=$moto"
  echo "AWS_ENDPOINT_URL_EVENTBRIDGE=$moto"
  echo "AWS_ENDPOINT_URL_SECRETS_MANAGER=$moto"
  echo "AWS_ENDPOINT_URL_SESV2=$moto"
  echo "AWS_ENDPOINT_URL_S3=$moto"
} > "$AISLE_STATE/functions.env"

pids=()
: > "$AISLE_STATE/iam-proxy.log"
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  "$here/stack.sh" down
}
trap cleanup EXIT INT TERM

if [ "$AISLE_IAM" != off ]; then
  audit=(); [ "$AISLE_IAM" = audit ] && audit=(--audit)
  : > "$AISLE_STATE/iam.jsonl"
  proxies=("$AISLE_IAM_DDB_PORT $AWS_ENDPOINT_URL_DYNAMODB" "$AISLE_IAM_MOTO_PORT $AWS_ENDPOINT_URL_SQS")
  [ "$AISLE_SEARCH" = opensearch ] && proxies+=("$AISLE_IAM_OPENSEARCH_PORT http://127.0.0.1:$AISLE_OPENSEARCH_PORT")
  for pair in "${proxies[@]}"; do
    set -- $pair
    AISLE_IAM_LOG="$AISLE_STATE/iam.jsonl" setsid "$local_cli" iam-proxy --port "$1" --upstream "$2" "${audit[@]}" >>"$AISLE_STATE/iam-proxy.log" 2>&1 &
    pids+=($!)
  done
  until [ "$(grep -c '"iam":"ready"' "$AISLE_STATE/iam-proxy.log" 2>/dev/null)" -ge "${#proxies[@]}" ]; do sleep 0.2; done
fi

# Several instances of one function at once, as Lambda scales out (AISLE_CONCURRENCY, default 8).
setsid cargo lambda watch -p aisle-functions --concurrency "${AISLE_CONCURRENCY:-8}" --env-file "$AISLE_STATE/functions.env" >"$AISLE_STATE/lambda.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 120))
until (exec 3<>/dev/tcp/127.0.0.1/9000) 2>/dev/null; do
  [ $SECONDS -ge $deadline ] && { echo "cargo lambda watch did not start; see $AISLE_STATE/lambda.log"; exit 1; }
  sleep 0.3
done
setsid "$local_cli" gateway --port "$AISLE_PORT" >"$AISLE_STATE/gateway.log" 2>&1 &
pids+=($!)
until grep -q '"gateway":"ready"' "$AISLE_STATE/gateway.log" 2>/dev/null; do
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$AISLE_STATE/gateway.log"; exit 1; }
  sleep 0.2
done

# The storefront (static pages + dev sign-in), calling the gateway from its own origin, as a
# deployed storefront calls the HTTP API from CloudFront's (CORS: StorefrontOrigins).
: "${AISLE_STOREFRONT_PORT:=3001}"
setsid "$local_cli" storefront --port "$AISLE_STOREFRONT_PORT" --api "http://127.0.0.1:$AISLE_PORT" >"$AISLE_STATE/storefront.log" 2>&1 &
pids+=($!)
until grep -q '"storefront":"ready"' "$AISLE_STATE/storefront.log" 2>/dev/null; do
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$AISLE_STATE/storefront.log"; exit 1; }
  sleep 0.2
done

# localstripe delivers its events (signed with the local webhook secret that create-resources
# stored for the functions) to the webhook route, as Stripe delivers to a deployed stack.
curl -sf -o /dev/null -X POST "http://127.0.0.1:$AISLE_LOCALSTRIPE_PORT/_config/webhooks/aisle" \
  -d "url=http://127.0.0.1:$AISLE_PORT/v1/payments/webhook" -d "secret=whsec_aisle_local"

# People get ID tokens, as the deployed storefront keeps after Cognito's sign-in: they carry
# the verified address the shop mails.
shopper="$("$local_cli" token --user demo-shopper --kind id)"
# A second shopper (e2e's waiting room: the shopper behind the first).
shopper2="$("$local_cli" token --user demo-shopper-2 --kind id)"
seller="$("$local_cli" token --user demo-seller --groups sellers --kind id)"
# wh-1000's system: a client-credentials access token of its app client (scope aisle/warehouse).
warehouse="$("$local_cli" token --warehouse wh-1000)"
cat <<MSG
[dev] Aisle is up: http://127.0.0.1:$AISLE_PORT   (logs: $AISLE_STATE/gateway.log, lambda.log)
[dev] Storefront: http://127.0.0.1:$AISLE_STOREFRONT_PORT/   (sign in with any name, as shopper or seller)
[dev] Live stock: ws://127.0.0.1:${AISLE_LIVE_PORT:-3002}/   (send {"action":"watch","items":["<itemId>"]})
export AISLE=http://127.0.0.1:$AISLE_PORT
export STOREFRONT=http://127.0.0.1:$AISLE_STOREFRONT_PORT
export LIVE=ws://127.0.0.1:${AISLE_LIVE_PORT:-3002}/
export SHOPPER=$shopper
export SHOPPER2=$shopper2
export SELLER=$seller
export WAREHOUSE=$warehouse
export AISLE_LOCAL=$local_cli
export LOCALSTRIPE=http://127.0.0.1:$AISLE_LOCALSTRIPE_PORT
[dev] Pay with a PaymentMethod made as Stripe.js would make it, e.g.
      curl -s -u sk_test_aisle_local: \$LOCALSTRIPE/v1/payment_methods -d type=card \\
        -d card[number]=4242424242424242 -d card[exp_month]=12 -d card[exp_year]=2034 -d card[cvc]=123
      (4000000000000341 is declined, 4000002500003155 asks for 3-D Secure)
[dev] Ctrl-C stops everything.
MSG
echo "ready" > "$AISLE_STATE/dev.ready"
wait "${pids[@]}"
