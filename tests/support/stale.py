"""Eventually consistent reads that lag behind: a replica that has not yet seen the latest subscriptions.

DynamoDB answers a read that is not strongly consistent from any replica, which may miss a write
acknowledged a moment ago (issue 11: a subscription committed just before its user's leave, missed by
the fan-out's read, kept the leaver on the room's feed). Neither the fake nor moto ever lags, so these
helpers hide the subscriptions chosen from every eventually consistent read of a room's subscribers, and
from no strongly consistent one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from roomcast.adapters.dynamodb import keys
from roomcast.domain.chat import Room, Subscription
from roomcast.usecases.ports import Connections


class LaggingConnections:
    """The Connections port over another, whose eventually consistent subscriber reads miss every
    subscription added through it."""

    def __init__(self, inner: Connections) -> None:
        self.inner = inner
        self.unseen: set[str] = set()

    def add_subscription(self, room: Room, subscription: Subscription) -> None:
        self.inner.add_subscription(room, subscription)
        self.unseen.add(subscription.connection_id)

    def subscribers(
        self, feed: str, start: str | None = None, limit: int | None = None, consistent: bool = False
    ) -> tuple[list[Subscription], str | None]:
        found, last = self.inner.subscribers(feed, start, limit, consistent)
        return (found if consistent else self._seen(found)), last

    def all_subscribers(self, feed: str, consistent: bool = False, fresh: bool = False) -> list[Subscription]:
        found = self.inner.all_subscribers(feed, consistent, fresh)
        return found if consistent else self._seen(found)

    def _seen(self, found: list[Subscription]) -> list[Subscription]:
        return [s for s in found if s.connection_id not in self.unseen]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextmanager
def lagging_queries(client: Any, connection_ids: set[str]) -> Iterator[None]:
    """The same on the wire: a DynamoDB client's Queries of a room's subscribers (``Subs:`` partitions)
    without ConsistentRead lose these connections' items from their answers."""

    def note(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        values = params.get("ExpressionAttributeValues", {})
        pk = values.get(":pk")
        pk = pk.get("S") if isinstance(pk, dict) else pk
        context["lagging"] = not params.get("ConsistentRead") and str(pk).startswith(keys.SUBSCRIBERS_PREFIX)

    def hide(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("lagging") and "Items" in parsed:
            parsed["Items"] = [item for item in parsed["Items"] if _connection_of(item) not in connection_ids]

    client.meta.events.register("provide-client-params.dynamodb.Query", note)
    client.meta.events.register("after-call.dynamodb.Query", hide)
    try:
        yield
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.Query", note)
        client.meta.events.unregister("after-call.dynamodb.Query", hide)


def _connection_of(item: dict[str, Any]) -> str:
    sk = item.get("SK")
    sk = sk.get("S") if isinstance(sk, dict) else sk
    return str(sk).removeprefix(keys.CONNECTION_PREFIX)
