#!/usr/bin/env bash
# Onboard one warehouse's system onto a deployed Aisle stack: the one command an operator
# runs (locally, `aisle-local onboard-warehouse <id>` does the same against the local stack).
#
#   infra/scripts/onboard-warehouse.sh --stack aisle --warehouse wh-1000 [--trust-account 111122223333]
#
# It makes, idempotently:
#   1. a Cognito app client `warehouse-<id>` of the OAuth 2.0 client-credentials grant, allowed
#      only the scope aisle/warehouse (the template's WarehouseApiScope resource server)
#      https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-define-resource-servers.html
#      https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html
#   2. an IAM role `<stack>-warehouse-<id>` that the warehouse's AWS account may assume
#      (default: this account), with the template's WarehouseSenderPolicy (SendMessage on the
#      updates queue) and nothing else;
#   3. the bindings `client#<client id>` and `iam#<role id>` -> <id> in the stack's
#      WarehouseIdentitiesTable. The role id (AROA...) is what SQS names as the sender of each
#      message (SenderId = "<role id>:<session name>",
#      https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html);
#      IAM never reuses a unique id, so a role deleted and made again is not bound
#      (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids);
#   4. the client id added to the stack parameter WarehouseClientIds, which the HTTP API's JWT
#      authorizer takes as audiences (API Gateway checks an access token's client_id against
#      them: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html),
#      by a stack update on the previous template.
# The client secret is printed once, for the warehouse; nothing else is.
set -euo pipefail
stack="" warehouse="" trust=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack="$2"; shift 2 ;;
    --warehouse) warehouse="$2"; shift 2 ;;
    --trust-account) trust="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$stack" ] && [ -n "$warehouse" ] || { echo "usage: $0 --stack NAME --warehouse ID [--trust-account ACCOUNT]" >&2; exit 2; }
[[ "$warehouse" =~ ^[a-z0-9-]{1,40}$ ]] || { echo "warehouse ids are lowercase letters, digits and -" >&2; exit 2; }

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
pool="$(output UserPoolId)"
table="$(output WarehouseIdentitiesTableName)"
policy="$(output WarehouseSenderPolicyArn)"
queue="$(output WarehouseUpdatesQueueUrl)"
domain="$(output AuthDomain)"
account="$(aws sts get-caller-identity --query Account --output text)"
trust="${trust:-$account}"

# 1. The app client (found by name when it exists already; its secret is not shown again).
name="warehouse-$warehouse"
client_id="$(aws cognito-idp list-user-pool-clients --user-pool-id "$pool" --max-results 60 \
  --query "UserPoolClients[?ClientName=='$name'].ClientId | [0]" --output text)"
secret=""
if [ "$client_id" = "None" ] || [ -z "$client_id" ]; then
  created="$(aws cognito-idp create-user-pool-client --user-pool-id "$pool" --client-name "$name" \
    --generate-secret --allowed-o-auth-flows client_credentials --allowed-o-auth-flows-user-pool-client \
    --allowed-o-auth-scopes aisle/warehouse --output json)"
  client_id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["UserPoolClient"]["ClientId"])' <<<"$created")"
  secret="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["UserPoolClient"]["ClientSecret"])' <<<"$created")"
fi

# 2. The role.
role="$stack-warehouse-$warehouse"
if ! aws iam get-role --role-name "$role" >/dev/null 2>&1; then
  trust_policy="$(printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}' "$trust")"
  aws iam create-role --role-name "$role" --assume-role-policy-document "$trust_policy" \
    --tags "Key=aisle:warehouse,Value=$warehouse" >/dev/null
fi
aws iam attach-role-policy --role-name "$role" --policy-arn "$policy"
role_id="$(aws iam get-role --role-name "$role" --query Role.RoleId --output text)"

# 3. The bindings.
for identity in "client#$client_id" "iam#$role_id"; do
  aws dynamodb put-item --table-name "$table" \
    --item "{\"identity\":{\"S\":\"$identity\"},\"warehouseId\":{\"S\":\"$warehouse\"}}"
done

# 4. The authorizer's audiences: every other parameter keeps its value.
params="$(aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Parameters" --output json)"
update="$(python3 - "$client_id" "$params" <<'PY'
import json, sys
client = sys.argv[1]
out = []
for p in json.loads(sys.argv[2]):
    if p["ParameterKey"] == "WarehouseClientIds":
        ids = [i for i in p.get("ParameterValue", "").split(",") if i]
        if client not in ids:
            ids.append(client)
        out.append({"ParameterKey": "WarehouseClientIds", "ParameterValue": ",".join(ids)})
    else:
        out.append({"ParameterKey": p["ParameterKey"], "UsePreviousValue": True})
print(json.dumps(out))
PY
)"
if python3 -c 'import json,sys; sys.exit(0 if any(p.get("ParameterKey")=="WarehouseClientIds" and sys.argv[1] in p.get("ParameterValue","").split(",") for p in json.loads(sys.argv[2])) else 1)' "$client_id" "$params"; then
  echo "[onboard] $client_id is already an audience of the API"
else
  aws cloudformation update-stack --stack-name "$stack" --use-previous-template \
    --parameters "$update" --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND >/dev/null
  aws cloudformation wait stack-update-complete --stack-name "$stack"
fi

cat <<MSG
[onboard] $warehouse onboarded on $stack.
  HTTP:  client id $client_id${secret:+, client secret $secret (shown once)}
         token: POST $domain/oauth2/token  grant_type=client_credentials&scope=aisle/warehouse
                (HTTP basic auth with the client id and secret)
  Queue: assume arn:aws:iam::$account:role/$role (role id $role_id), then SendMessage to
         $queue
MSG
