"""The single table, one module per aggregate; ``base`` is the only place that sees ClientError."""

from __future__ import annotations

from typing import Any

from roomcast.usecases.ports import Store


def dynamodb_store(table_name: str, client: Any | None = None) -> Store:
    """The table by aggregate; ``client`` defaults to the shared, lazily built DynamoDB client."""
    from roomcast.adapters.dynamodb.cleanup import DynamoCleanup
    from roomcast.adapters.dynamodb.comments import DynamoComments
    from roomcast.adapters.dynamodb.connections import DynamoConnections
    from roomcast.adapters.dynamodb.ledger import DynamoLedger
    from roomcast.adapters.dynamodb.moderation import DynamoModeration
    from roomcast.adapters.dynamodb.rooms import DynamoRooms

    return Store(
        rooms=DynamoRooms(table_name, client),
        comments=DynamoComments(table_name, client),
        connections=DynamoConnections(table_name, client),
        cleanup=DynamoCleanup(table_name, client),
        ledger=DynamoLedger(table_name, client),
        moderation=DynamoModeration(table_name, client),
    )
