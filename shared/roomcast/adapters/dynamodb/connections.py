"""Connections and subscriptions: each subscription on both sides, the connection's and the room's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.base import Item, Table, translated
from roomcast.adapters.dynamodb.rooms import join_check, room_check
from roomcast.domain.chat import Connection, Room, Subscription, not_a_member, room_feed, room_missing


class DynamoConnections(Table):
    def put_connection(self, connection: Connection) -> None:
        with translated():
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "PK": keys.connection_pk(connection.connection_id),
                    "SK": keys.META,
                    "UserID": connection.user_id,
                    "ExpiresAt": connection.expires_at,
                },
            )

    def add_subscription(self, room: Room, subscription: Subscription) -> None:
        """Subscribe if, atomically, the room incarnation and the subscriber's membership hold."""
        feed = room_feed(room.room_id, room.incarnation)
        attributes = items.subscription_attributes(subscription)
        self.transact(
            [
                room_check(room),
                join_check(room, subscription.user_id),
                {"Put": {"Item": {**items.subscriber_key(feed, subscription.connection_id), **attributes}}},
                {"Put": {"Item": {**items.subscription_key(subscription.connection_id, feed), **attributes}}},
            ],
            on_condition_failed=[
                lambda: room_missing(room.room_id),
                lambda: not_a_member(room.room_id, subscription.user_id),
            ],
        )

    def subscribers(
        self, feed: str, start: str | None = None, limit: int | None = None, consistent: bool = False
    ) -> tuple[list[Subscription], str | None]:
        """One page of the connections subscribed to a feed; ``start`` is the previous page's last connection id."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": keys.subscribers_pk(feed)},
            "ConsistentRead": consistent,
        }
        if limit is not None:
            request["Limit"] = limit
        if start is not None:
            request["ExclusiveStartKey"] = items.subscriber_key(feed, start)
        with translated():
            response = self.client.query(**request)
        found = [items.subscription(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return found, (keys.strip(keys.CONNECTION_PREFIX, last["SK"]) if last else None)

    def all_subscribers(self, feed: str, consistent: bool = False) -> list[Subscription]:
        """Every page: a room's subscriptions are small items, about 10,000 to a 1 MB page."""
        found, start = self.subscribers(feed, consistent=consistent)
        while start is not None:
            page, start = self.subscribers(feed, start, consistent=consistent)
            found.extend(page)
        return found

    def remove_subscriptions(self, subscriptions: Sequence[Subscription]) -> None:
        """Both sides of each subscription, batched."""
        doomed: list[Item] = []
        for sub in subscriptions:
            feed = room_feed(sub.room_id, sub.incarnation)
            doomed += [items.subscriber_key(feed, sub.connection_id), items.subscription_key(sub.connection_id, feed)]
        self.delete_keys(doomed)

    def connection_items(self, connection_id: str) -> list[Item]:
        """The connection's item and its subscriptions, every page (a connection may hold thousands)."""
        return self.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.connection_pk(connection_id)},
            ConsistentRead=True,
        )

    def unsubscribe(self, connection_id: str, room_id: str) -> int:
        """Remove the connection's subscriptions to any incarnation of ``room_id``; returns how many."""
        prefix = keys.subscription_sk(room_feed(room_id, ""))
        doomed = [item for item in self.connection_items(connection_id) if item["SK"].startswith(prefix)]
        self.delete_keys([key for item in doomed for key in items.both_sides(connection_id, item)])
        return len(doomed)

    def delete_connection(self, connection_id: str) -> int:
        """The connection and every subscription it holds (on $disconnect, 410 Gone). Returns items deleted."""
        found = self.connection_items(connection_id)
        doomed = [key for item in found for key in items.both_sides(connection_id, item)]
        self.delete_keys(doomed)
        return len(doomed)
