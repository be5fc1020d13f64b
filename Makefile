# Aisle's commands. Everything local runs on loopback with dummy credentials (infra/scripts/env.sh).
SHELL := /bin/bash
.PHONY: test e2e smoke browser lighthouse package api-fuzz stack-up stack-down seed dev lint build fmt bench bench-search bench-assign bench-recommendations bench-flash bench-init iam-report checks

## Run every test against DynamoDB Local and moto (starts and stops them as needed).
test:
	infra/scripts/test.sh

## The whole shop over HTTP: make dev with short holds, then infra/scripts/e2e.py against it.
e2e:
	infra/scripts/e2e.sh

## Start DynamoDB Local + moto and create the template's tables, queues and bus.
stack-up:
	infra/scripts/stack.sh up

## Stop what stack-up started.
stack-down:
	infra/scripts/stack.sh down

## The smoke walk (seller lists, warehouse stocks, shopper searches, pays in Stripe test mode,
## the order reaches assignment, is cancelled and refunded) over the public API: against a
## deployed stack with STACK=<name> (README "Deploying"), else against make dev.
smoke:
	infra/scripts/smoke.sh

## The storefront in headless Chromium against a running `make dev` (screenshots in .local/screenshots/),
## axe-core (WCAG 2.2 AA) on every page it shows.
browser:
	infra/scripts/browser.sh

## Lighthouse (performance, accessibility) on home, search and an item page of a running `make dev`.
lighthouse:
	infra/scripts/lighthouse.sh

## Load demo data (warehouse sites).
seed:
	source infra/scripts/env.sh && cargo run -q -p aisle-local -- seed

## Run the shop locally: stack, tables, seed, then every function under `cargo lambda watch`.
dev:
	infra/scripts/dev.sh

## Lint the SAM template with the pinned cfn-lint.
lint:
	cfn-lint template.yaml

## Release build of every Lambda for arm64 (bootstrap files under target/lambda/<name>/).
build:
	cargo lambda build --release --arm64 -p aisle-functions

## Checkout benchmark against the running local stack (make stack-up first): holds/s under
## 50-way contention, DynamoDB calls and consumed capacity per begin-checkout and per order.
bench:
	source infra/scripts/env.sh && cargo run -q -p aisle-local -- bench checkout

## Product image renditions: time to check and render one upload (a 12-megapixel phone photo
## and a small one) into 160/400/800 px JPEG and WebP, and the renditions' sizes. No stack.
bench-images:
	cargo run -q --profile bench -p aisle-local -- bench images --runs 5

## Recommendation quality (no stack): hit rate at 10 of "also bought" and "for you" on a
## generated purchase history with a held-out last purchase, against the popularity baseline.
bench-recommendations:
	cargo run -q --profile bench -p aisle-local -- bench recommendations --shoppers $${SHOPPERS:-20000}

## Assignment benchmark against the running local stack (make stack-up first): orders
## assigned per second by one worker, DynamoDB calls and capacity per assigned order.
bench-assign:
	source infra/scripts/env.sh && cargo run -q -p aisle-local -- bench assign --orders 300

## Flash-sale benchmark: one item with 1,000 units, 5,000 begin-checkout attempts a second
## for 3 s (RATE, DURATION), unsharded and then 8 shards + waiting room in the same run; holds/s,
## answer latency, peak write units per second on one partition key (from the requests sent),
## TransactionConflict retries (5 % of tries conflicted, injected). Starts the stack if needed.
bench-flash:
	source infra/scripts/env.sh && started=0 && \
	  if ! infra/scripts/stack.sh status | grep -q "dynamodb: running"; then infra/scripts/stack.sh up --no-resources && started=1; fi; \
	  cargo run -q --release --bin aisle-local -- bench flash --rate $${RATE:-5000} --seconds $${DURATION:-3}; rc=$$?; \
	  if [ $$started = 1 ]; then infra/scripts/stack.sh down; fi; exit $$rc

## Search benchmark, both engines side by side: index 100,000 and 1,000,000 generated
## products in the embedded index and in the local OpenSearch node (as a rebuild does), run a
## 2,000-query mix (engine alone: build time, memory, p50/p95/p99), then the handler's path
## (engine + live stock read from DynamoDB Local + delivery promise) without and with `zip`.
## Starts the stack with OpenSearch (1 GB heap) if it is not running, and stops it after.
## About 15 minutes; cargo's bench profile.
bench-search:
	source infra/scripts/env.sh && started=0 && \
	  if ! infra/scripts/stack.sh status | grep -q "opensearch: running"; then AISLE_SEARCH=opensearch AISLE_OPENSEARCH_HEAP=$${AISLE_OPENSEARCH_HEAP:-1g} infra/scripts/stack.sh up --no-resources && started=1; fi; \
	  cargo run -q --profile bench --bin aisle-local -- bench search --items $${ITEMS:-100000,1000000}; rc=$$?; \
	  if [ $$started = 1 ]; then infra/scripts/stack.sh down; fi; exit $$rc

## Cold start (release profile, as deployed): process start to the first poll of a local
## Runtime API, for get-item (HTTP) and hold-timer (SQS) against a hello-world lambda_http
## function (functions/examples/hello.rs) built with the same profile, in the same run.
bench-init:
	source infra/scripts/env.sh && \
	  cargo build -q --release -p aisle-functions --bin get-item --bin hold-timer --example hello && \
	  t="$$(cargo metadata -q --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release" && \
	  cargo run -q -p aisle-local -- bench init "$$t/examples/hello" "$$t/get-item" "$$t/hold-timer" --runs 30

## `sam build` of template.yaml as a deployer runs it (arm64, cargo-lambda via SAM's
## rust-cargolambda builder): installs aws-sam-cli in its own venv, prints time and sizes.
package:
	infra/scripts/package.sh

## Schemathesis against a running make dev (run from the shell that has make dev's exports):
## shopper, seller and warehouse tokens; no 5xx, documented statuses and schemas.
api-fuzz:
	infra/scripts/api-fuzz.sh

## Others' checkers against their commented baselines: cfn-lint 1.53.3 with the serverless
## rules, checkov (--skip-download), Spectral on openapi.yaml. Installs each in its own env.
checks:
	infra/scripts/checks.sh

## Per function: the AWS actions it used under make dev / make e2e (or make test, with
## AISLE_IAM_LOG=.local/iam-tests.jsonl) against those template.yaml grants it.
iam-report:
	source infra/scripts/env.sh && cargo run -q -p aisle-local -- iam-report

fmt:
	cargo fmt --all
