"""A warm container's copy of a room's subscriptions, kept while each shard's head says nothing changed.

The fan-out reads every subscription of a room, strongly consistent, for every stream batch: one Query
per subscriber shard (8), whatever the room's size, and a big room's whole list each time. Yet a room's
subscriptions change far less often than it receives comments.

So every write that adds or removes room-side subscription items then puts the head item of each shard it
touched (``Subs:<feed>[#<s>]`` / ``Head``) with a fresh random ``Token``. A reader gets the room's heads
in one strongly consistent BatchGetItem, and Queries only the shards whose token is not the one it read
just before its last Query of that shard; the others' subscriptions are the ones it kept.

Why that is as good as reading every shard:
- a change whose head was put before this BatchGetItem shows a token the kept copy was not read under
  (tokens are random: a shard never shows an old token again), so that shard is read again;
- a change whose head is not put yet is one whose writer has not returned: a subscribe still in flight,
  whose committed subscription a comment's fan-out may miss until then (one request's time; the
  subscribe replays the comment index after its head). A leave or ban reads every shard (``fresh``),
  and then renews every head, so that a retry whose deletes had landed without their heads still
  tells every warm reader;
- a writer that dies between its change and its head leaves the copy stale: ``KEPT_SECONDS`` bounds that,
  as it bounds a subscription written by a version of the code that put no heads;
- a head gone (never written, or deleted by TTL a day after its last change) reads as no token, which is
  also a token: the copy kept under it serves at most ``KEPT_SECONDS``, far less than a head's TTL.
Expired subscriptions are dropped by the fan-out (``live_subscriptions``), so TTL deletions need no head.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Item
from roomcast.domain.chat import Subscription

HEAD_TTL_SECONDS = 86_400
KEPT_SECONDS = 10.0
# A Subscription kept costs about 1.3 KB (measured): 100,000 are about 135 MB of the function's 1 GB. An empty
# shard counts as one, so that rooms without subscribers cannot pile up unbounded either.
KEPT_SUBSCRIPTIONS = 100_000

Token = str | None


def head_key(feed: str, shard: int) -> Item:
    return {"PK": keys.subscribers_pk(feed, shard), "SK": keys.SUBSCRIBERS_HEAD}


def head_item(feed: str, shard: int, now: float) -> Item:
    """A new head for the shard: a token never used before, and a TTL of a day after the change."""
    return {**head_key(feed, shard), "Token": uuid.uuid4().hex, "ExpiresAt": int(now) + HEAD_TTL_SECONDS}


def heads_for(doomed: Iterable[Item], now: float) -> list[Item]:
    """One new head per shard among the keys: those of room-side subscriptions (``Subs:``/``Conn:``)."""
    touched = {
        key["PK"]: keys.subscribers_feed_and_shard(key["PK"])
        for key in doomed
        if key["PK"].startswith(keys.SUBSCRIBERS_PREFIX) and key["SK"].startswith(keys.CONNECTION_PREFIX)
    }
    return [head_item(feed, shard, now) for feed, shard in touched.values()]


def tokens_of(found: Sequence[Item]) -> dict[int, Token]:
    """Each shard's token, from the head items a BatchGetItem found (a missing head: no token)."""
    return {keys.subscribers_feed_and_shard(item["PK"])[1]: item.get("Token") for item in found}


class KeptShards:
    """Each (feed, shard)'s subscriptions as last read, the token read just before, and when; oldest
    forgotten first once ``limit`` subscriptions are kept. Thread-safe: rooms are delivered in parallel."""

    def __init__(
        self,
        max_age: float = KEPT_SECONDS,
        limit: int = KEPT_SUBSCRIPTIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.limit = limit
        self.clock = clock
        self._kept: OrderedDict[tuple[str, int], tuple[Token, list[Subscription], float]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, feed: str, shard: int, token: Token) -> list[Subscription] | None:
        """The shard's subscriptions if they were read under ``token`` less than ``max_age`` ago."""
        with self._lock:
            kept = self._kept.get((feed, shard))
        if kept is None or kept[0] != token or self.clock() - kept[2] >= self.max_age:
            return None
        return kept[1]

    def put(self, feed: str, shard: int, token: Token, subscriptions: list[Subscription], read_at: float) -> None:
        """Keep a shard's subscriptions, read under ``token`` (read before the Query began, at ``read_at``)."""
        with self._lock:
            old = self._kept.pop((feed, shard), None)
            if old is not None:
                self._size -= _weight(old[1])
            self._kept[(feed, shard)] = (token, subscriptions, read_at)
            self._size += _weight(subscriptions)
            while self._size > self.limit and len(self._kept) > 1:
                _, (_, dropped, _) = self._kept.popitem(last=False)
                self._size -= _weight(dropped)

    def __len__(self) -> int:
        """What is kept, an empty shard counted as one subscription."""
        return self._size


def _weight(subscriptions: list[Subscription]) -> int:
    return max(1, len(subscriptions))
