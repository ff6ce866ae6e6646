"""DynamoWindows' ``Unposted:`` markers (``Pace:<feed>`` / ``Unposted:<start>``): a window the StreamFunction
closed itself (its flush refused), found by the orphan scan and read by an exit until it is handed over.

The StreamFunction writes the marker just before its close (``Pacer._take_over``); a new window's first writer
takes over the oldest marked windows whose lease is over and resends their flushes (``orphans``); an exit
reads every marked window not handed over, however old (``held``), so a leaver never misses its comments
(the sixth review's H1). The wall clock comes from the caller (``now``): tests set windows.py's.
"""

from __future__ import annotations

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Item, error_code, translated
from roomcast.adapters.dynamodb.window_orphans import ORPHAN_MARKERS_PER_SCAN, SETTLED_SECONDS, head_start, live
from roomcast.adapters.dynamodb.window_tombstones import WindowTombstones

# A head claimed and never sent nor handed over, not closed, or closed under a lease now over: its claimer
# died before the send, or the StreamFunction closed it itself (its flush refused) and never posted it
# (released after a post that reached nobody, through an outage of SQS, or died before ``settle``).
LEASE_OVER = "(attribute_not_exists(Closed) OR attribute_not_exists(LeaseUntil) OR LeaseUntil < :now)"
# Not past its TTL: DynamoDB deletes expired items lazily, up to about 48 hours later (the sixth review's L2).
LIVE = "(attribute_not_exists(ExpiresAt) OR ExpiresAt > :now)"
ORPHANED = f"attribute_not_exists(Sent) AND attribute_not_exists(Handed) AND {LEASE_OVER} AND {LIVE}"
_DESERIALIZE = TypeDeserializer().deserialize
_SENT = -1  # a marked window sent and not handed over: tried again SETTLED_SECONDS later


class WindowMarkers(WindowTombstones):
    def _head(self, feed: str, start: int) -> Item:
        return {"PK": keys.pace_pk(feed), "SK": keys.window_sk(start)}

    def mark_unposted(self, feed: str, start: int, expires_at: int) -> None:
        """One PutItem (1 WCU), only when the StreamFunction closes a window itself."""
        marker = {"PK": keys.pace_pk(feed), "SK": keys.window_unposted_sk(start), "ExpiresAt": expires_at}
        with translated():
            self.client.put_item(TableName=self.table_name, Item=marker)

    def unmark(self, feed: str, start: int) -> None:
        """One DeleteItem (1 WCU), only when the StreamFunction hands over a window it closed itself."""
        with translated():
            self.client.delete_item(
                TableName=self.table_name, Key={"PK": keys.pace_pk(feed), "SK": keys.window_unposted_sk(start)}
            )

    def _marked_unposted(self, feed: str, before: int) -> dict[int, int]:
        """The feed's marked windows before ``before``, oldest first, each with when a scan last resent it
        (epoch s; 0: never): one strongly consistent Query (usually empty: 1 RCU)."""
        found = self.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :unposted)",
            ExpressionAttributeValues={":pk": keys.pace_pk(feed), ":unposted": keys.WINDOW_UNPOSTED_PREFIX},
            ProjectionExpression="SK, Resent",
            ConsistentRead=True,
        )
        marked = {
            int(keys.strip(keys.WINDOW_UNPOSTED_PREFIX, str(item["SK"]))): int(item.get("Resent", 0)) for item in found
        }
        return {start: marked[start] for start in sorted(marked) if start < before}

    def _marked_orphans(self, feed: str, before: int, now: float) -> tuple[list[tuple[int, int]], set[int]]:
        """Of the marked windows (all of them, second), the oldest not resent nor tried within
        ``SETTLED_SECONDS`` taken over (first: start and w), each marked ``Resent`` (1 WCU):
        ``ORPHAN_MARKERS_PER_SCAN`` at most, in twice as many tries at most. A try refused on a window sent
        and not handed over marks ``Resent`` too (1 WCU): its flush may still wait in the queue's backlog,
        so the marker stays (an exit reads the window by it: the seventh review's P2) and is tried again
        ``SETTLED_SECONDS`` later, not every scan."""
        marked = self._marked_unposted(feed, before)
        due = [start for start, resent in marked.items() if resent <= now - SETTLED_SECONDS]
        found: list[tuple[int, int]] = []
        later: list[int] = []
        for start in due[: 2 * ORPHAN_MARKERS_PER_SCAN]:
            seconds = self._take_over_marked(feed, start, now)
            if seconds == _SENT:
                later.append(start)
            elif seconds is not None:
                found.append((start, seconds))
            if len(found) == ORPHAN_MARKERS_PER_SCAN:
                break
        for start in [start for start, _ in found] + later:
            marker = {"PK": keys.pace_pk(feed), "SK": keys.window_unposted_sk(start)}
            self._update_if(marker, "SET Resent = :now", "attribute_exists(PK)", {":now": int(now)})
        return found, set(marked)

    def _take_over_marked(self, feed: str, start: int, now: float) -> int | None:
        """Its take-over, conditioned on the head alone (a duplicate flush message at worst): the window's w
        when taken (the head comes back, free), else None; the head, when refused, comes back free too: a
        marker whose window is handed over, gone or past its TTL is deleted; one whose window was sent and
        is not handed over gives ``_SENT`` (kept: its flush may be queued for minutes behind an outage's
        backlog, and until it is done an exit reads the window by its marker; a flush dead-lettered after
        reaching nobody leaves it until the window's TTL: the seventh review's P2)."""
        made, head = self._conditional_update(
            self._head(feed, start),
            "SET Scheduled = :at",
            f"attribute_exists(Scheduled) AND {ORPHANED}",
            {**claimed_now(now), ":now": int(now)},
            new=True,
        )
        if made:
            return int(head.get("Seconds", 0))
        if not head or "Handed" in head or not live(head, now):
            self.delete_keys([{"PK": keys.pace_pk(feed), "SK": keys.window_unposted_sk(start)}])
        elif "Sent" in head:
            return _SENT
        return None

    def _marked_held(self, feed: str, read: dict[int, Item], now: float) -> dict[int, Item]:
        """The heads of the feed's marked windows not handed over nor past their TTL, but those in ``read``
        (the exit's read of the newest heads, which has them already): the markers' Query (1 RCU), then
        consistent BatchGetItems of the marked heads not read yet, 100 a call (1 RCU each; markers are none
        but after an outage of SQS, until the scans find their resent windows handed over)."""
        starts = [start for start in self._marked_unposted(feed, 10**12) if start not in read]
        wanted = [self._head(feed, start) for start in starts]
        heads = self.batch_get(wanted)
        return {head_start(head): head for head in heads if "Handed" not in head and live(head, now)}

    def _update_if(self, key: Item, update: str, condition: str, values: Item) -> bool:
        """One conditional UpdateItem; False when its condition failed."""
        return self._update_else_old(key, update, condition, values, old=False) is None

    def _update_else_old(self, key: Item, update: str, condition: str, values: Item, old: bool = True) -> Item | None:
        """One conditional UpdateItem: None when made, else the item its condition failed on ({} when absent
        or not asked for)."""
        made, item = self._conditional_update(key, update, condition, values, old)
        return None if made else item

    def _conditional_update(
        self, key: Item, update: str, condition: str, values: Item, old: bool = True, new: bool = False
    ) -> tuple[bool, Item]:
        """One conditional UpdateItem: whether it was made, and the item: as updated when made (``new``),
        else the one its condition failed on (``old``); {} when absent or not asked for. Free either way."""
        try:
            with translated():
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    **({"ReturnValues": "ALL_NEW"} if new else {}),
                    **({"ExpressionAttributeValues": values} if values else {}),
                    **({"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if old else {}),
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            # The error's item is in DynamoDB's typed JSON whichever client made the call.
            return False, {name: _DESERIALIZE(value) for name, value in error.response.get("Item", {}).items()}
        return True, dict(response.get("Attributes", {}))


def claimed_now(now: float) -> Item:
    """Milliseconds: a take-over's own claim differs from the one it took over, even within a second."""
    return {":at": int(now * 1000)}
