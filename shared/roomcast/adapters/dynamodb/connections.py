"""Connections and subscriptions: each subscription on both sides, the connection's and the room's."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.base import AlreadyDone, Item, Table, error_code, translated
from roomcast.adapters.dynamodb.rooms import join_check, room_check
from roomcast.adapters.dynamodb.subscriber_heads import KeptShards, head_item, head_key, heads_for, tokens_of
from roomcast.domain.chat import (
    FEED_SEPARATOR,
    Connection,
    Room,
    Subscription,
    not_a_member,
    room_feed,
    room_missing,
)


class _SubscribedBeforeTheSpread(AlreadyDone):
    """The connection-side item exists without ``Shard``: written when every room had one partition."""


@cache
def _pool() -> ThreadPoolExecutor:
    """One small pool per process, built on first use and kept by a warm Lambda: a room's shards are
    read at once (botocore clients are thread-safe), so a read takes one Query's time, not S."""
    return ThreadPoolExecutor(max_workers=keys.SUBSCRIBER_SHARDS, thread_name_prefix="subscribers")


def _cursor(start: str | None) -> tuple[int, str | None]:
    """``subscribers``' cursor: the shard to read and the connection id to go on after (none: its start)."""
    if start is None:
        return 0, None
    shard, _, after = start.partition(FEED_SEPARATOR)
    if not shard.isdigit() or int(shard) >= keys.SUBSCRIBER_SHARDS:
        raise ValueError(f"not a subscribers cursor: {start!r}")
    return int(shard), after or None


class DynamoConnections(Table):
    def __init__(self, table_name: str, client: Any | None = None, kept: KeptShards | None = None) -> None:
        super().__init__(table_name, client)
        # Per warm container (bootstrap keeps the store): the subscriptions read, while their heads hold.
        self.kept = kept if kept is not None else KeptShards()

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
        shard = keys.subscriber_shard(subscription.connection_id)
        try:
            self._subscribe(room, subscription, shard, keep_legacy=shard != 0)
        except _SubscribedBeforeTheSpread:
            # Its room side is in shard 0, with no shard recorded: subscribing again stays there, so that
            # the room never holds it twice (two frames a batch) and unsubscribing finds it.
            shard = 0
            self._subscribe(room, subscription, shard, keep_legacy=False)
        # After the subscription, never in its transaction: a room's joiners would conflict on the head.
        self.put_items([head_item(room_feed(room.room_id, room.incarnation), shard, time.time())])

    def _subscribe(self, room: Room, subscription: Subscription, shard: int, keep_legacy: bool) -> None:
        room_side, connection_side = items.subscription_items(subscription, shard)
        put: dict[str, Any] = {"Item": connection_side}
        if keep_legacy:
            put |= {
                "ConditionExpression": items.NOT_LEGACY_SUBSCRIPTION,
                "ExpressionAttributeNames": {"#shard": "Shard"},
            }
        self.transact(
            [room_check(room), join_check(room, subscription.user_id), {"Put": {"Item": room_side}}, {"Put": put}],
            on_condition_failed=[
                lambda: room_missing(room.room_id),
                lambda: not_a_member(room.room_id, subscription.user_id),
                None,
                _SubscribedBeforeTheSpread,
            ],
        )

    def subscribers(
        self, feed: str, start: str | None = None, limit: int | None = None, consistent: bool = False
    ) -> tuple[list[Subscription], str | None]:
        """One page of the connections subscribed to a feed, shard after shard; ``start`` is the previous
        page's cursor (``<shard>#<last connection id>``, internal). A page fills across shards, so an empty
        page means none is left."""
        shard, after = _cursor(start)
        found: list[Subscription] = []
        client = self.client
        while shard < keys.SUBSCRIBER_SHARDS:
            wanted = None if limit is None else limit - len(found)
            page, after = self._shard_page(client, feed, shard, after, wanted, consistent)
            found += page
            if after is None:
                shard += 1
            if limit is not None and len(found) >= limit:
                break
        if shard >= keys.SUBSCRIBER_SHARDS:
            return found, None
        return found, f"{shard}{FEED_SEPARATOR}{after or ''}"

    def all_subscribers(self, feed: str, consistent: bool = False, fresh: bool = False) -> list[Subscription]:
        """Every subscription of the feed, ordered by connection id, as one partition's Query was: the
        shards' heads in one BatchGetItem, then every page of each shard whose head changed since this
        container last read it (subscriber_heads.py), or of every shard if ``fresh``; those shards read in
        parallel. A shard's failure fails the read (the room's records are retried)."""
        client = self.client  # resolved here: the shared client is built lazily, once, not in each thread
        read_at = self.kept.clock()
        # An eventually consistent Query may lag the head read before it: such a copy is never kept, and
        # its heads are not read.
        wanted = [head_key(feed, shard) for shard in range(keys.SUBSCRIBER_SHARDS)] if consistent else []
        tokens = tokens_of(self.batch_get(wanted, consistent))
        keep = consistent and not fresh
        kept = {
            shard: self.kept.get(feed, shard, tokens.get(shard)) if keep else None
            for shard in range(keys.SUBSCRIBER_SHARDS)
        }
        stale = [shard for shard, subscriptions in kept.items() if subscriptions is None]

        def read(shard: int) -> list[Subscription]:
            found = self._shard_all(client, feed, shard, consistent)
            if consistent:
                self.kept.put(feed, shard, tokens.get(shard), found, read_at)
            return found

        pages = [*(page for page in kept.values() if page is not None), *_pool().map(read, stale)]
        return sorted((s for page in pages for s in page), key=lambda s: s.connection_id)

    def _shard_all(self, client: Any, feed: str, shard: int, consistent: bool) -> list[Subscription]:
        """Every page of one shard: a room's subscriptions are small items, about 8,000 to a 1 MB page."""
        found, after = self._shard_page(client, feed, shard, None, None, consistent)
        while after is not None:
            page, after = self._shard_page(client, feed, shard, after, None, consistent)
            found += page
        return found

    def _shard_page(
        self, client: Any, feed: str, shard: int, after: str | None, limit: int | None, consistent: bool
    ) -> tuple[list[Subscription], str | None]:
        """One Query of one shard; the connection id to go on after, or None when the shard is done."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            # Connections only: the shard's head shares its partition.
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :conn)",
            "ExpressionAttributeValues": {":pk": keys.subscribers_pk(feed, shard), ":conn": keys.CONNECTION_PREFIX},
            "ConsistentRead": consistent,
        }
        if limit is not None:
            request["Limit"] = limit
        if after:
            request["ExclusiveStartKey"] = items.subscriber_key(feed, after, shard)
        with translated():
            response = client.query(**request)
        found = [items.subscription(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return found, (keys.strip(keys.CONNECTION_PREFIX, last["SK"]) if last else None)

    def remove_subscriptions(self, subscriptions: Sequence[Subscription]) -> None:
        """Both sides of each subscription, batched; the room side in the shard it was read from."""
        doomed: list[Item] = []
        for sub in subscriptions:
            feed = room_feed(sub.room_id, sub.incarnation)
            doomed += [
                items.subscriber_key(feed, sub.connection_id, sub.shard),
                items.subscription_key(sub.connection_id, feed),
            ]
        self._delete_subscriptions(doomed)

    def renew_heads(self, feed: str) -> None:
        """A new token on each head that exists, the 8 at once: never one the room's cleanup dropped
        (its joins' deletions reach the stream as leaves after it); a shard without a head is read again
        within ``KEPT_SECONDS`` anyway."""
        now = time.time()
        client = self.client
        heads = [head_item(feed, shard, now) for shard in range(keys.SUBSCRIBER_SHARDS)]
        list(_pool().map(lambda head: self._renew_head(client, head), heads))

    def _renew_head(self, client: Any, head: Item) -> None:
        try:
            with translated():
                client.update_item(
                    TableName=self.table_name,
                    Key={"PK": head["PK"], "SK": head["SK"]},
                    UpdateExpression="SET #token = :token, ExpiresAt = :expires",
                    ConditionExpression="attribute_exists(PK)",
                    ExpressionAttributeNames={"#token": "Token"},
                    ExpressionAttributeValues={":token": head["Token"], ":expires": head["ExpiresAt"]},
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def drop_heads(self, feed: str) -> None:
        self.delete_keys([head_key(feed, shard) for shard in range(keys.SUBSCRIBER_SHARDS)])

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
        self._delete_subscriptions([key for item in doomed for key in items.both_sides(connection_id, item)])
        return len(doomed)

    def delete_connection(self, connection_id: str) -> int:
        """The connection and every subscription it holds (on $disconnect, 410 Gone). Returns items deleted."""
        found = self.connection_items(connection_id)
        doomed = [key for item in found for key in items.both_sides(connection_id, item)]
        self._delete_subscriptions(doomed)
        return len(doomed)

    def _delete_subscriptions(self, doomed: Sequence[Item]) -> None:
        """Delete, then put the head of every room shard touched: a reader's kept copy of it is stale. Never
        in the same BatchWriteItem (a batch's writes land in no set order), and even when a delete failed:
        some of them may have landed."""
        try:
            self.delete_keys(doomed)
        finally:
            self.put_items(heads_for(doomed, time.time()))
