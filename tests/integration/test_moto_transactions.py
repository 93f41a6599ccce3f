"""The local stack's journaled TransactWriteItems (local/moto_transactions.py) leaves the table and
its stream exactly as moto's own table-copying one does, for committed and cancelled transactions
alike: the same script runs in two fresh processes, one with the journal installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT

SCRIPT = r"""
import json, sys, boto3
from botocore.exceptions import ClientError
from moto import mock_aws
if sys.argv[1] == "journal":
    from local import moto_transactions
    moto_transactions.install()

def put(pk, sk, **extra):
    item = {"PK": {"S": pk}, "SK": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}
    return {"Put": {"TableName": "t", "Item": item}}

def absent(entry):
    entry["Put"]["ConditionExpression"] = "attribute_not_exists(PK)"
    return entry

outcomes = []
with mock_aws():
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    batches = [
        [put("a", "1", v="x"), put("b", "1", v="y")],                       # commits
        [put("c", "1", v="new"), absent(put("a", "1", v="clobber"))],      # condition fails
        [put("a", "1", v="z"), {"Delete": {"TableName": "t", "Key": {"PK": {"S": "b"}, "SK": {"S": "1"}}}},
         {"Update": {"TableName": "t", "Key": {"PK": {"S": "d"}, "SK": {"S": "1"}},
                     "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"S": "u"}},
                     "ConditionExpression": "attribute_exists(PK)"}}],      # update's condition fails
        [put("e", "1", v="one"), put("e", "1", v="two")],                  # same item twice
        [put("f", "1", v="kept"), put("g", "1", v="x") | {}],              # commits
        [put("h", "1", v="lost"), {"Put": {"TableName": "missing", "Item": {"PK": {"S": "x"}}}}],
        [{"Update": {"TableName": "t", "Key": {"PK": {"S": "a"}, "SK": {"S": "1"}},
                     "UpdateExpression": "SET w = :w", "ExpressionAttributeValues": {":w": {"S": "w"}}}},
         {"Delete": {"TableName": "t", "Key": {"PK": {"S": "f"}, "SK": {"S": "1"}}}}],  # commits
    ]
    for batch in batches:
        try:
            client.transact_write_items(TransactItems=batch)
            outcomes.append("committed")
        except ClientError as error:
            reasons = error.response.get("CancellationReasons")
            outcomes.append(error.response["Error"]["Code"] + ": " + str(reasons))
    items = sorted(json.dumps(i, sort_keys=True) for i in client.scan(TableName="t")["Items"])
    # moto in-process serves no stream API: read the shard the stream API would read.
    from moto.dynamodb.models import dynamodb_backends
    shard = dynamodb_backends["123456789012"]["us-east-1"].tables["t"].stream_shard
    records = []
    for record in shard.get(shard.starting_sequence_number, 1000):
        change = record["dynamodb"]
        keys = json.dumps(change.get("Keys"), sort_keys=True)
        records.append((record["eventName"], keys, change["SequenceNumber"]))
print(json.dumps({"outcomes": outcomes, "items": items, "stream": records}))
"""


def _run(mode: str) -> dict[str, object]:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared" / "python")]),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    command = [sys.executable, "-c", SCRIPT, mode]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_journal_leaves_table_and_stream_as_moto_does_for_committed_and_cancelled_transactions() -> None:
    stock, journal = _run("stock"), _run("journal")
    assert stock["outcomes"].count("committed") == 3  # type: ignore[attr-defined]
    assert journal == stock
