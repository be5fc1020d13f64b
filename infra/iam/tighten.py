#!/usr/bin/env python3
"""Replace the SAM DynamoDB policy templates in template.yaml with exact inline statements.

SAM's DynamoDBReadPolicy grants GetItem, Scan, Query, BatchGetItem and DescribeTable on a table
and on every index of it; DynamoDBWritePolicy grants PutItem, UpdateItem and BatchWriteItem.
Aisle's code issues far fewer. This script reads the local IAM decision logs (`make e2e` writes
.local/iam.jsonl, `make test` .local/iam-tests.jsonl) and, for every function, writes one
inline statement per table in place of its templates, with:

- every action the function was seen to call on that table (tests and e2e), and
- every item-level action of the granted kind (read: GetItem, BatchGetItem, Query on the
  table itself; write: PutItem, UpdateItem) that *any* function was seen to call on that
  table. Scans, index queries and batch writes are whole code paths of their own (a listing,
  a rebuild, a reconciliation), so a function gets those only where it was seen to make them.
  A function that may read a table may always GetItem on it. The functions listed in EXACT
  (simple requests whose every branch the tests drive as that function) get only what they
  were seen to call.

Resources are exactly as called: an index by name, never `/index/*`.

The second part is deliberate: observation alone misses paths no test drives as that function
(for example receive-stock's Idempotency-Key record), and a missing grant is an outage in AWS.
So each function keeps the kinds of access the template gave it, limited to the actions the
code base actually issues on each table. Run it by hand after a full `make test` and
`make e2e`; review the diff; `make iam-report` then shows what each function used.
"""
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem"}
# Functions whose every branch the tests and the e2e drive as that function (one request, a
# few reads and one write): they get what they were seen to call and nothing else.
EXACT = {
    "create-item", "update-item", "configure-sale", "list-seller-items",
    "list-seller-notifications", "get-item", "search-items", "get-cart", "put-cart-item",
    "delete-cart-item", "get-wishlist", "put-wishlist-item", "delete-wishlist-item",
    "move-to-cart", "list-orders", "get-order", "put-default-address", "live-connect",
    "live-disconnect", "live-watch",
}
ORDER = ["GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "BatchWriteItem",
         "DeleteItem", "ConditionCheckItem"]


def table_of(resource):
    """`arn:...:table/<prefix>-Name[/index/idx]` -> (Name, idx or None)."""
    m = re.search(r":table/[^/]*?-([A-Za-z]+Table)(?:/index/([^/]+))?$", resource)
    return (m.group(1), m.group(2)) if m else (None, None)


def observed():
    by_function = defaultdict(set)
    by_table = defaultdict(set)
    for log in [ROOT / ".local/iam.jsonl", ROOT / ".local/iam-tests.jsonl"]:
        if not log.exists():
            sys.exit(f"{log} is missing: run make test and make e2e first")
        for line in log.open():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if not d.get("action", "").startswith("dynamodb:") or d.get("decision") != "Allowed":
                continue
            table, index = table_of(d["resource"])
            if table:
                by_function[d["function"]].add((table, index, d["action"]))
                by_table[table].add((index, d["action"]))
    return by_function, by_table


def main():
    by_function, by_table = observed()
    text = (ROOT / "template.yaml").read_text()
    lines = text.split("\n")
    out = []
    i = 0
    binary = None
    changed = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^        Binary: (\S+)", line)
        if m:
            binary = m.group(1)
        if re.match(r"^      Policies:\s*$", line) and binary:
            out.append(line)
            i += 1
            grants = defaultdict(set)  # table -> {"read", "write"}
            kept = []
            notes = []
            first_at = None
            while i < len(lines) and (lines[i].startswith("        ") or lines[i].strip() == ""):
                m = re.match(r"^        - DynamoDB(Read|Write|Crud)Policy: \{ TableName: !Ref (\w+) \}\s*$", lines[i])
                if m:
                    # A comment written for a template line now speaks for the statement.
                    moved = []
                    while kept and kept[-1].lstrip().startswith("#"):
                        moved.insert(0, kept.pop())
                    notes += moved
                    kinds = {"Read": {"read"}, "Write": {"write"}, "Crud": {"read", "write"}}[m.group(1)]
                    grants[m.group(2)] |= kinds
                    if first_at is None:
                        first_at = len(kept)
                else:
                    kept.append(lines[i])
                i += 1
            if grants:
                changed += 1
                block = ["        # DynamoDB: the calls this code makes on each table it reads or writes",
                         "        # (infra/iam/tighten.py; `make iam-report` shows which ran as this function).",
                         "        - Statement:"]
                for table in sorted(grants):
                    wanted = defaultdict(set)  # index -> actions
                    for (t, index, action) in by_function.get(binary, set()):
                        if t == table:
                            wanted[index].add(action)
                    for (index, action) in by_table.get(table, set()):
                        if binary in EXACT or index is not None:
                            continue
                        if ("read" in grants[table] and action in READ) or \
                           ("write" in grants[table] and action in WRITE):
                            wanted[index].add(action)
                    if "read" in grants[table] and binary not in EXACT:
                        # A point read is what any read path starts with (a lookup of one
                        # item or site), seen or not.
                        wanted[None].add("dynamodb:GetItem")
                    if not wanted:
                        print(f"warning: {binary} is granted {table} but nothing was seen to "
                              "use it: no statement written (add a test that runs the path)")
                    for index in sorted(wanted, key=lambda x: (x is not None, x or "")):
                        actions = sorted(wanted[index], key=lambda a: ORDER.index(a.split(":")[1]) if a.split(":")[1] in ORDER else 99)
                        resource = f"!GetAtt {table}.Arn" if index is None else f'!Sub "${{{table}.Arn}}/index/{index}"'
                        block += ["            - Effect: Allow",
                                  f"              Action: [{', '.join(actions)}]",
                                  f"              Resource: {resource}"]
                kept[first_at:first_at] = notes + block
            out.extend(kept)
            continue
        out.append(line)
        i += 1
    (ROOT / "template.yaml").write_text("\n".join(out))
    print(f"{changed} functions' DynamoDB policy templates replaced by exact statements")


if __name__ == "__main__":
    main()
