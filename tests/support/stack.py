"""A provisioned copy of template.yaml's tables and queues on one backend, for integration tests."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.models import Command
from roomcast.usecases.ports import Store
from roomcast_local import invoke as local_invoke
from roomcast_local import template
from roomcast_local.sqs_source import Invoke, SqsEventSource, lambda_record
from roomcast_local.stream_mapping import StreamSourceConfig
from roomcast_local.stream_source import StreamEventSource
from support import fifo


@dataclass
class Stack:
    backend: str
    prefix: str
    provisioned: template.Provisioned

    @classmethod
    def provision(cls, backend: str) -> Stack:
        local_invoke.reset_caches()
        prefix = f"t{uuid.uuid4().hex[:8]}"
        provisioned = template.provision(
            prefix, boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("secretsmanager")
        )
        return cls(backend, prefix, provisioned)

    def teardown(self) -> None:
        dynamodb = boto3.client("dynamodb")
        for logical in template.resources(template.load(), "AWS::DynamoDB::Table"):
            dynamodb.delete_table(TableName=self.provisioned.refs[logical])

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    @property
    def dynamodb(self) -> Any:
        return boto3.client("dynamodb")

    @property
    def table_name(self) -> str:
        return self.provisioned.refs["ChatTable"]

    @property
    def store(self) -> Store:
        return dynamodb_store(self.table_name)

    def url(self, logical_id: str) -> str:
        return self.provisioned.refs[logical_id]

    def spec(self, logical_id: str) -> template.FunctionSpec:
        return template.function_spec(logical_id, self.provisioned)

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return local_invoke.invoke(self.spec(logical_id), event)

    # ---- the command path ----------------------------------------------------------

    def send(self, *commands: Command | str, fresh: bool = False) -> list[str]:
        """Put commands (models, or raw bodies for poison tests) on the command queue; returns message ids.
        ``fresh``: a new deduplication id each, so SQS delivers a command sent again once more."""
        ids = []
        for command in commands:
            sent = fifo.message(command, uuid.uuid4().hex if fresh else None)
            ids.append(self.sqs.send_message(QueueUrl=self.url("CommandQueue"), **sent)["MessageId"])
        return ids

    def receive_event(self, count: int) -> dict[str, Any]:
        """Receive ``count`` messages and shape them as one Lambda SQS event."""
        messages: list[dict[str, Any]] = []
        while len(messages) < count:
            batch = self.sqs.receive_message(
                QueueUrl=self.url("CommandQueue"),
                MaxNumberOfMessages=min(10, count - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            assert batch, f"expected {count} messages, got {len(messages)}"
            messages.extend(batch)
        # Out of the queue at once: a FIFO group stays locked while its messages are in flight, and
        # these are handed to the function by the test, not by an event source that would delete them.
        for start in range(0, len(messages), 10):
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages[start:][:10])]
            self.sqs.delete_message_batch(QueueUrl=self.url("CommandQueue"), Entries=entries)
        arn = self.provisioned.attrs[("CommandQueue", "Arn")]
        return {"Records": [lambda_record(m, arn, "eu-west-1") for m in messages]}

    def command_source(self) -> SqsEventSource:
        return SqsEventSource(
            self.sqs,
            self.url("CommandQueue"),
            self.provisioned.attrs[("CommandQueue", "Arn")],
            lambda event: self.invoke("CommandFunction", event),
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(
            QueueUrl=self.url("CommandDeadLetterQueue"),
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        return messages

    # ---- the live path -------------------------------------------------------------

    def stream_source(
        self, invoke: Invoke, config: StreamSourceConfig | None = None, **options: Any
    ) -> StreamEventSource:
        """The chat table's stream feeding ``invoke``, with the StreamFunction's TableStream settings by default."""
        if config is None:
            function = template.load()["Resources"]["StreamFunction"]["Properties"]
            config = StreamSourceConfig.from_template(function["Events"]["TableStream"]["Properties"], self.provisioned)
        return StreamEventSource(
            boto3.client("dynamodbstreams"),
            self.provisioned.attrs[("ChatTable", "StreamArn")],
            invoke,
            config,
            sqs_client=self.sqs,
            **options,
        )

    def items(self) -> list[dict[str, Any]]:
        """Every item of the chat table (tests only: a Scan)."""
        table = boto3.resource("dynamodb").Table(self.table_name)
        return table.scan(ConsistentRead=True)["Items"]


def body_of(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(message["Body"])
