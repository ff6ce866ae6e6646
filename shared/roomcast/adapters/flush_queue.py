"""SqsFlushQueue: a paced room's window flush onto the flush queue (standard), delayed to the window's end."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from roomcast.domain.errors import TransientError


class SqsFlushQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

    def send_delayed(self, body: str, delay_seconds: int) -> None:
        """SendMessage with DelaySeconds (whole seconds, 0 to 900); any failure is TransientError."""
        try:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body, DelaySeconds=delay_seconds)
        except (ClientError, BotoCoreError) as error:
            raise TransientError(f"flush message not sent: {error}") from error
