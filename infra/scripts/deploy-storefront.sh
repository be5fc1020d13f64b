#!/usr/bin/env bash
# Upload the storefront to a deployed stack (after `sam deploy`): writes config.js from the
# stack's outputs (API URL, Cognito hosted UI, the storefront's app client, Stripe's
# publishable key), syncs storefront/ to StorefrontBucket and invalidates CloudFront.
#   infra/scripts/deploy-storefront.sh <stack-name> <stripe-publishable-key>
# Needs the AWS CLI with credentials for the stack's account. Not run by CI (no AWS here).
set -euo pipefail
stack="${1:?stack name}"; stripe_key="${2:?Stripe publishable key (pk_live_... or pk_test_...)}"
out() { aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }
api="$(out ApiUrl)"; bucket="$(out StorefrontBucketName)"; distribution="$(out StorefrontDistributionId)"
domain="$(out AuthDomain)"; client="$(out StorefrontClientId)"; site="$(out StorefrontUrl)"; live="$(out LiveUrl)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
staging="$(mktemp -d)"; trap 'rm -rf "$staging"' EXIT
cp "$root"/storefront/* "$staging/"
python3 - "$staging/config.js" "$api" "$domain" "$client" "$stripe_key" "$live" <<'PY'
import json, sys
path, api, domain, client, key, live = sys.argv[1:]
config = {"api": api, "signIn": "cognito", "cognitoDomain": domain, "clientId": client, "stripeKey": key, "liveUrl": live}
open(path, "w").write("window.AISLE_CONFIG = " + json.dumps(config) + ";\n")
PY
# Stripe.js itself is loaded from Stripe (card data goes from the browser to Stripe only).
sed -i 's#<script src="config.js"></script>#<script src="https://js.stripe.com/v3/"></script>\n  <script src="config.js"></script>#' "$staging/index.html"
aws s3 sync "$staging/" "s3://$bucket/" --delete
aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" >/dev/null
echo "storefront: $site  (add it to the StorefrontOrigins parameter if it is not there yet)"
