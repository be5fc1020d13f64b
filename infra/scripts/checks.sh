#!/usr/bin/env bash
# Checkers written by others, each against its accepted baseline (reasons beside each entry):
#   cfn-lint 1.53.3 + cfn-lint-serverless  template.yaml    (venv: ~/.cache/aisle/venv-lint)
#   checkov --skip-download                template.yaml    (venv: ~/.cache/aisle/venv-checkov;
#                                                            baseline infra/checks/checkov.yaml)
#   Spectral (spectral:oas)                openapi.yaml     (npm, ~/.cache/aisle/npm;
#                                                            baseline .spectral.yaml)
# Each tool gets its own environment: checkov and cfn-lint-serverless would otherwise upgrade
# the pinned cfn-lint (newer ones stop expanding SAM). Installs are idempotent.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
cd "$AISLE_ROOT"
pip_quiet=(--quiet --disable-pip-version-check)

lint="$AISLE_CACHE/venv-lint"
if ! "$lint/bin/cfn-lint" --version 2>/dev/null | grep -q '1.53.3' || ! "$lint/bin/python" -c 'import cfn_lint_serverless' 2>/dev/null; then
  python3 -m venv "$lint"
  # cfn-lint-serverless 0.3.5 is the last release that accepts cfn-lint 1.53.3.
  "$lint/bin/pip" install "${pip_quiet[@]}" "cfn-lint==1.53.3" "cfn-lint-serverless==0.3.5"
fi
checkov="$AISLE_CACHE/venv-checkov"
if ! "$checkov/bin/checkov" --version >/dev/null 2>&1; then
  python3 -m venv "$checkov"
  "$checkov/bin/pip" install "${pip_quiet[@]}" "checkov==3.3.30"
fi
spectral="$AISLE_CACHE/npm/node_modules/.bin/spectral"
if ! "$spectral" --version >/dev/null 2>&1; then
  mkdir -p "$AISLE_CACHE/npm"
  # Retried, with npm's own words on failure: a brand-new machine's first install once
  # failed here silently and passed on the next try.
  for attempt in 1 2 3; do
    if npm install --no-audit --no-fund --loglevel=error --prefix "$AISLE_CACHE/npm" \
        "@stoplight/spectral-cli@6.16.3" > "$AISLE_CACHE/npm-install.log" 2>&1 \
        && "$spectral" --version >/dev/null 2>&1; then
      break
    fi
    echo "Spectral install failed (attempt $attempt of 3):"
    tail -20 "$AISLE_CACHE/npm-install.log"
    [ "$attempt" = 3 ] && exit 1
  done
fi

echo "== cfn-lint 1.53.3 + serverless rules"
# Accepted: WS1004 (functions log to the one FunctionLogs group, with retention, through
# Globals.LoggingConfig; the rule looks for a group per function). ES1001 (the rule wants an
# OnFailure destination on every event source mapping; the three flagged are SQS mappings,
# which Lambda does not support it on: their queues' RedrivePolicy DLQs do that job).
# ES6000 on dead-letter queues is accepted per resource in template.yaml (Metadata).
"$lint/bin/cfn-lint" template.yaml -a cfn_lint_serverless.rules --ignore-checks WS1004 ES1001

echo "== checkov (baseline infra/checks/checkov.yaml)"
"$checkov/bin/checkov" -f template.yaml --skip-download --config-file infra/checks/checkov.yaml

echo "== Spectral on openapi.yaml (baseline .spectral.yaml)"
"$spectral" lint openapi.yaml --ruleset .spectral.yaml --fail-severity warn

echo "== fresh account: what a new account or a second stack would refuse (infra/checks/fresh_account.py)"
"$lint/bin/python" infra/checks/fresh_account.py
