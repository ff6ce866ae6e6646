"""The roles of the functions that read or change a room's subscriptions allow every request they make on
``Subs:*`` keys: IAM is not emulated locally (moto answers whatever the role), so it is read from the template.

Readers (``all_subscribers``): the shards' heads in one BatchGetItem, then Queries. Writers: the
subscription items, then the shards' heads, by BatchWriteItem (``put_items``, ``delete_keys``).
"""

from __future__ import annotations

from typing import Any

import pytest

from roomcast_local import template

READERS = ["StreamFunctionRole", "FanoutFunctionRole"]
WRITERS = ["StreamFunctionRole", "FanoutFunctionRole", "MessageFunctionRole", "DisconnectFunctionRole"]


def allowed_on_subscriptions(role: str) -> set[str]:
    """The DynamoDB actions the role allows on the chat table for a ``Subs:`` partition key."""
    found: set[str] = set()
    for policy in template.load()["Resources"][role]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow" or not _covers_subscriptions(statement):
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            found |= {action.removeprefix("dynamodb:") for action in actions if action.startswith("dynamodb:")}
    return found


def _covers_subscriptions(statement: dict[str, Any]) -> bool:
    leading = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
    return leading is None or "Subs:*" in leading


@pytest.mark.parametrize("role", READERS)
def test_every_reader_may_read_the_heads_and_query_the_shards(role: str) -> None:
    assert {"BatchGetItem", "Query"} <= allowed_on_subscriptions(role)


@pytest.mark.parametrize("role", WRITERS)
def test_every_writer_may_put_the_heads(role: str) -> None:
    assert "BatchWriteItem" in allowed_on_subscriptions(role)


def test_the_stream_function_may_renew_the_heads_after_a_leave() -> None:
    assert "UpdateItem" in allowed_on_subscriptions("StreamFunctionRole")
