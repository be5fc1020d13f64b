# Sourced by every local script: loopback endpoints, a region and dummy credentials, so the
# AWS SDK never probes instance metadata or leaves this machine.
# Ports and paths can be overridden from the environment.
: "${AISLE_DDB_PORT:=8000}"
: "${AISLE_MOTO_PORT:=5000}"
# The IAM proxies (`aisle-local iam-proxy`) the functions of `make dev` talk through.
: "${AISLE_IAM_DDB_PORT:=8001}"
: "${AISLE_IAM_MOTO_PORT:=5001}"
: "${AISLE_LOCALSTRIPE_PORT:=8420}"
# Stripe's API as the functions see it: aisle-local stripe-proxy in front of localstripe.
: "${AISLE_STRIPE_PORT:=8421}"
# stripe-mock: Stripe's API description as a server, for checking the adapter's requests.
: "${AISLE_STRIPE_MOCK_PORT:=12111}"
# A real OpenSearch node (infra/opensearch), started only with AISLE_SEARCH=opensearch.
: "${AISLE_OPENSEARCH_PORT:=9200}"
: "${AISLE_IAM_OPENSEARCH_PORT:=9201}"
: "${AISLE_SEARCH:=embedded}"
: "${AISLE_CACHE:=$HOME/.cache/aisle}"
: "${AISLE_TABLE_PREFIX:=aisle-}"
AISLE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${AISLE_STATE:=$AISLE_ROOT/.local}"
export AISLE_OPENSEARCH_PORT AISLE_IAM_OPENSEARCH_PORT AISLE_SEARCH AISLE_DDB_PORT AISLE_MOTO_PORT AISLE_LOCALSTRIPE_PORT AISLE_STRIPE_PORT AISLE_STRIPE_MOCK_PORT AISLE_IAM_DDB_PORT AISLE_IAM_MOTO_PORT AISLE_CACHE AISLE_STATE AISLE_ROOT AISLE_TABLE_PREFIX

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$AISLE_DDB_PORT"
export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="http://127.0.0.1:$AISLE_DDB_PORT"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$AISLE_MOTO_PORT"
export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$AISLE_MOTO_PORT"
export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$AISLE_MOTO_PORT"
export AWS_ENDPOINT_URL_SESV2="http://127.0.0.1:$AISLE_MOTO_PORT"
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$AISLE_MOTO_PORT"
