#!/usr/bin/env bash
# `make dev`: the shop on this machine. Starts DynamoDB Local and moto, creates the template's
# resources, seeds demo data, then serves every function with `cargo lambda watch` (port
# 9000), with the functions' environment derived from template.yaml. Ctrl-C stops it all.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
command -v cargo-lambda >/dev/null || python3 -m pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2
"$here/stack.sh" up
trap '"$here/stack.sh" down' EXIT
cd "$AISLE_ROOT"
cargo run -q -p aisle-local -- seed
{
  cargo run -q -p aisle-local -- env
  env | grep -E '^(AWS_REGION|AWS_EC2_METADATA_DISABLED|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_ENDPOINT_URL_[A-Z_]+)='
} > "$AISLE_STATE/functions.env"
echo "[dev] functions on http://127.0.0.1:9000 (invoke API: /2015-03-31/functions/<name>/invocations)"
cargo lambda watch -p aisle-functions --env-file "$AISLE_STATE/functions.env"
