"""`make run`: every events/ sample through its function, against an embedded moto built from template.yaml."""

from __future__ import annotations

import json
import os
import sys

import boto3
from moto import mock_aws

from roomcast.queries import history
from roomcast.repository import ChatRepository
from roomcast_local import events, template
from roomcast_local.invoke import invoke


def main() -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "local")
    with mock_aws():
        provisioned = template.provision(
            "roomcast", boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("secretsmanager")
        )
        print(f"embedded moto: tables and queues of template.yaml created: {sorted(provisioned.refs)}")
        for path in events.samples("command-"):
            function = events.function_for(path)
            print(f"\n== {path.relative_to(template.ROOT)} -> {function}", flush=True)
            response = invoke(template.function_spec(function, provisioned), events.load(path))
            print(f"<- {json.dumps(response)}", flush=True)
        repo = ChatRepository(provisioned.refs["ChatTable"])
        print("\n== history of room 'music' (created by the poison sample's good records)")
        for comment in history(repo, "music").comments:
            print(f"   {comment.position} {comment.user_id}: {comment.text}")
        print("== dead-letter queue")
        dead = boto3.client("sqs").receive_message(
            QueueUrl=provisioned.refs["CommandDeadLetterQueue"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        for message in dead.get("Messages", []):
            reason = message["MessageAttributes"]["ErrorMessage"]["StringValue"]
            print(f"   {message['Body']!r}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
