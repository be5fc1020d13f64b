#!/usr/bin/env python3
"""What a fresh AWS account (or a second stack in the same account) would refuse in template.yaml.

cfn-lint, checkov and the SAM transform check a template against the resource specification;
none of them knows the account it lands in. This check reads the template (with cfn-lint's
own YAML loader, so intrinsic functions parse as CloudFormation reads them) and flags what a
first `sam deploy` on a new account, or a second stack beside the first, fails on:

1. **Account-level settings a stage needs.** A WebSocket or REST stage with access logging
   needs the account's API Gateway CloudWatch Logs role (`AWS::ApiGateway::Account`
   `CloudWatchRoleArn`), which a new account lacks: the stage fails to create and the stack
   rolls back. https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
   (HTTP API stages need no such role.) The template must create it, or let the deployer
   say the account has one (a condition on a parameter).
2. **Reserved concurrency.** Lambda keeps at least 100 concurrent executions unreserved, and
   new accounts can start with a total of 10: any unconditional
   `ReservedConcurrentExecutions` is refused there.
   https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
3. **More than two readers on a stream.** "No more than two processes at most should be
   reading from the same streams shard at the same time"; a third is throttled.
   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
4. **Names that collide across stacks.** A literal (or account- and Region-only) name for a
   resource whose names are unique per account and Region: a second stack fails to create it.
5. **A function in no error alarm.** Every function's `Errors` must reach an alarm.

Prints each finding and exits 1 if there is any. `make checks` runs it.
"""
import json
import sys
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]

# Properties that name a resource uniquely per account and Region (or globally).
NAMED = {
    "AWS::Cognito::UserPoolDomain": "Domain",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::EventBus": "Name",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::OpenSearchService::Domain": "DomainName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Alarm": "AlarmName",
}


def refs(value):
    """Every Ref / GetAtt / Sub variable name inside `value`."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                import re
                found.update(v.split(".")[0] for v in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(inner, list) and len(inner) > 1:
                    found |= refs(inner[1])
            else:
                found |= refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= refs(inner)
    return found


def stack_unique(value):
    """Whether a name depends on something unique to this stack."""
    names = refs(value)
    return bool(names & {"AWS::StackName", "AWS::StackId"}) or any(
        not n.startswith("AWS::") for n in names
    )


def conditional(value):
    """Whether a property is chosen by a condition (`Fn::If`)."""
    return isinstance(value, dict) and "Fn::If" in value


def main():
    template, matches = decode(str(ROOT / "template.yaml"))
    if matches:
        print("template.yaml does not parse:", matches)
        return 1
    resources = template["Resources"]
    parameters = template.get("Parameters", {})
    findings = []

    # 1. Stages that need the account's API Gateway CloudWatch role.
    has_account = any(r["Type"] == "AWS::ApiGateway::Account" for r in resources.values())
    for name, r in resources.items():
        props = r.get("Properties", {})
        logged = "AccessLogSettings" in props or "AccessLogSetting" in props
        if r["Type"] == "AWS::ApiGatewayV2::Stage" and logged:
            api = resources.get(next(iter(refs(props.get("ApiId"))), ""), {})
            if api.get("Properties", {}).get("ProtocolType") != "WEBSOCKET":
                continue
        elif r["Type"] in ("AWS::ApiGateway::Stage", "AWS::Serverless::Api") and logged:
            pass
        else:
            continue
        if not has_account:
            findings.append(
                f"{name}: access logging on a WebSocket/REST stage needs the account's API "
                "Gateway CloudWatch Logs role, and nothing here sets it (AWS::ApiGateway::Account)"
            )
        else:
            accounts = {n for n, x in resources.items() if x["Type"] == "AWS::ApiGateway::Account"}
            depends = r.get("DependsOn", [])
            depends = {depends} if isinstance(depends, str) else set(depends)
            if not (depends | refs(props)) & accounts:
                findings.append(
                    f"{name}: must depend on the AWS::ApiGateway::Account resource (DependsOn or "
                    "a reference), or it may be created before the role is set"
                )

    # 2. Unconditional reserved concurrency.
    for name, r in resources.items():
        value = r.get("Properties", {}).get("ReservedConcurrentExecutions")
        if value is not None and not conditional(value):
            findings.append(
                f"{name}: ReservedConcurrentExecutions {value} is refused on an account whose "
                "concurrency quota leaves less than 100 unreserved (new accounts: 10); make it "
                "a parameter, off by default"
            )

    # 3. Readers per stream.
    readers = {}
    for name, r in resources.items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        for event in (r["Properties"].get("Events") or {}).values():
            if event.get("Type") == "DynamoDB":
                table = next(iter(refs(event["Properties"]["Stream"])), "?")
                readers.setdefault(table, []).append(name)
        # A plain event source mapping reads too.
    for name, r in resources.items():
        if r["Type"] == "AWS::Lambda::EventSourceMapping":
            source = refs(r["Properties"].get("EventSourceArn"))
            for table in source & set(resources):
                if resources[table]["Type"] == "AWS::DynamoDB::Table":
                    readers.setdefault(table, []).append(name)
    for table, functions in sorted(readers.items()):
        if len(functions) > 2:
            findings.append(
                f"{table}: its stream has {len(functions)} readers ({', '.join(sorted(functions))}); "
                "DynamoDB Streams documents at most two per shard"
            )

    # 4. Names unique per account and Region that do not depend on the stack.
    for name, r in resources.items():
        prop = NAMED.get(r["Type"])
        value = r.get("Properties", {}).get(prop) if prop else None
        if value is None:
            continue
        if isinstance(value, str) or not stack_unique(value):
            findings.append(
                f"{name}: {prop} {json.dumps(value, default=str)} is the same for every stack "
                "in the account and Region; a second stack collides"
            )

    # 5. Functions in no error alarm.
    alarmed = set()
    for r in resources.values():
        if r["Type"] == "AWS::CloudWatch::Alarm":
            alarmed |= refs(r.get("Properties", {}))
    for name, r in resources.items():
        if r["Type"] == "AWS::Serverless::Function" and name not in alarmed:
            findings.append(f"{name}: in no error alarm")

    for finding in findings:
        print(f"fresh-account: {finding}")
    print(f"fresh-account: {len(findings)} finding(s) over {len(resources)} resources")
    _ = parameters
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
