"""The review hook as a Lambda function (docs/moderation.md, review hook): one synchronous Invoke per
reviewed comment, within the budget, never retried (a retry would spend the budget twice)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from roomcast.domain.review import ReviewFailed, Verdict, verdict_from_json


def review_client(budget_ms: int, endpoint_url: str | None = None) -> Any:
    """A lambda client whose connect and read timeouts are the budget, and that sends one request."""
    seconds = budget_ms / 1000
    config = Config(
        connect_timeout=seconds, read_timeout=seconds, retries={"mode": "standard", "total_max_attempts": 1}
    )
    return boto3.client("lambda", config=config, endpoint_url=endpoint_url)


class LambdaReviewer:
    """Invokes ``function`` (a name or ARN) with {"roomId", "userId", "text"}; its answer is a verdict."""

    def __init__(self, client: Any, function: str) -> None:
        self.client = client
        self.function = function

    def review(self, room_id: str, user_id: str, text: str) -> Verdict:
        payload = json.dumps({"roomId": room_id, "userId": user_id, "text": text}).encode()
        try:
            response = self.client.invoke(FunctionName=self.function, InvocationType="RequestResponse", Payload=payload)
            body = response["Payload"].read()
        except (BotoCoreError, ClientError) as error:
            # Read and connect timeouts are BotoCoreErrors: the budget is spent.
            raise ReviewFailed(f"{type(error).__name__}: {error}") from error
        if response.get("FunctionError"):
            raise ReviewFailed(f"the review function failed ({response['FunctionError']})")
        try:
            answer = json.loads(body)
        except ValueError as error:
            raise ReviewFailed("the answer is not JSON") from error
        return verdict_from_json(answer)
