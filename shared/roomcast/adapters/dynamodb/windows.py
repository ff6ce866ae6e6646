"""DynamoWindows: a paced room's frame windows, a small head item and one item per stream batch.

DynamoDB bills an UpdateItem (even one whose condition fails) at the whole item's size, so a window kept
as one growing item cost about b * n^2 / 2 WCU for n appends of b KB. Here a window is a head
(``Pace:<feed>`` / ``Window:<start>``: Appends, Bytes, ExpiresAt, Scheduled, Sent; then Closed, LeaseUntil,
LeaseHolder, Handed), about 150 bytes, and each batch's comments an item of their own (``Pace:<feed>`` /
``Batch:<start>#<hash>``) with a marker telling its retries which window holds it (``Held:<hash>``), all
written by one TransactWriteItems: a batch costs 2 x (head + batch + marker) WCU whatever the window holds. The
close is an UpdateItem of the head; every transaction committed before it is in the strongly consistent
Query of the window's batch items that follows, and every one after it fails its condition on the head.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from itertools import islice

from pydantic import TypeAdapter

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Item, translated
from roomcast.adapters.dynamodb.window_markers import ORPHANED, WindowMarkers, claimed_now
from roomcast.adapters.dynamodb.window_orphans import HANDED_RUN as HANDED_RUN  # re-exported: they lived here
from roomcast.adapters.dynamodb.window_orphans import HELD_PAGE_HEADS as HELD_PAGE_HEADS
from roomcast.adapters.dynamodb.window_orphans import (
    ORPHAN_SCAN_HEADS,
    batch_runs,
    head_start,
    heads_newest_first,
    live,
    orphaned,
    unposted,
)
from roomcast.adapters.dynamodb.window_orphans import SETTLED_SECONDS as SETTLED_SECONDS
from roomcast.domain.chat import CommentView
from roomcast.domain.events import CommentDeleted
from roomcast.domain.frame_window import MAX_WINDOW_SECONDS, WINDOW_MAX_BYTES
from roomcast.usecases.moderation_live import deleted_frame
from roomcast.usecases.pacing import FLUSH_LEASE_SECONDS, Appended, ClosedWindow, merged

_COMMENTS = TypeAdapter(list[CommentView])
_DELETIONS = TypeAdapter(list[CommentDeleted])
# The head is absent (this append creates it) or not closed by its flush nor sealed, with room left for
# the batch.
_OPEN_WITH_ROOM = (
    "attribute_not_exists(Closed) AND attribute_not_exists(Sealed) AND (attribute_not_exists(Bytes) OR Bytes <= :room)"
)
_ABSENT = "attribute_not_exists(PK)"
# Exits read only windows started this recently: a window starts at most MAX_WINDOW_SECONDS before its
# end, when its flush message comes; the fan-out queue retries it 3 times 30 s apart (maxReceiveCount,
# VisibilityTimeout), and 10 minutes more leave room for a backlog. An older window is closed, or its
# flush dead-lettered and never posted to anyone. Only heads are read (about 100 bytes each), then the
# batch items of those not handed over.
OPEN_WINDOW_HORIZON_SECONDS = MAX_WINDOW_SECONDS + 600
# A head whose flush was claimed and never sent (nor the window closed or handed over): its claimer died.
_UNSENT = "attribute_not_exists(Sent) AND attribute_not_exists(Closed) AND attribute_not_exists(Handed)"


class _Refused(Exception):
    """The head's condition failed: the window is closed by its flush, or full."""


class _AlreadyHeld(Exception):
    """The batch item's condition failed: an earlier attempt of this batch committed it."""


class _HeldElsewhere(Exception):
    """The batch's ``Held:`` marker is there: an earlier attempt committed it, to this window or another."""


def batch_name(comments: Sequence[CommentView], deletions: Sequence[CommentDeleted] = ()) -> str:
    """The same for a retried stream batch: it writes the same batch item again."""
    ids = [c.comment_id for c in comments] + [f"-{d.comment_id}" for d in deletions]
    return hashlib.sha256(",".join(ids).encode()).hexdigest()[:32]


def slice_bytes(body: str) -> int:
    """The batch's share of a slice message: its JSON as a JSON string (quotes and backslashes escaped),
    which is how a flushed window's frames travel to the second tier (wire/slices.py)."""
    return len(json.dumps(body, ensure_ascii=False).encode())


def sized_batch(comments: Sequence[CommentView], deletions: Sequence[CommentDeleted] = ()) -> tuple[str, int]:
    """The batch's comments as JSON, and what the batch counts against ``WINDOW_MAX_BYTES``: that JSON and
    each deletion's ``commentDeleted`` frame (and its comma) as escaped in a slice message."""
    body = _COMMENTS.dump_json(list(comments), by_alias=True).decode()
    return body, slice_bytes(body) + sum(slice_bytes(deleted_frame(d).decode()) + 1 for d in deletions)


class DynamoWindows(WindowMarkers):
    def append(
        self,
        feed: str,
        start: int,
        comments: Sequence[CommentView],
        expires_at: int,
        deletions: Sequence[CommentDeleted] = (),
        seconds: int = 0,
    ) -> Appended:
        """One transaction puts the batch in the window, then one small conditional UpdateItem of the head
        tells the first writer (``Scheduled``). A transaction cannot return the head's old values, and
        telling the first writer by a transaction conditioned on the head's absence would cancel one
        transaction per window; a cancelled transaction is also the one write moto (in process and its
        server) rolls back by swapping in a copy of the table, which strands DynamoDB Streams readers, so
        the common path never cancels: an absent head passes the append's condition and is created by it.
        The claim costs 1 WCU per batch (a ~100-byte item, billed when its condition fails too).
        A paced room's deletions are held in the batch item too (``Deleted``), each counted as the
        ``commentDeleted`` frame it becomes in a slice message."""
        body, size = sized_batch(comments, deletions)
        if size > WINDOW_MAX_BYTES:
            return Appended.REFUSED
        head = self._head(feed, start)
        name = batch_name(comments, deletions)
        batch = {
            "PK": keys.pace_pk(feed),
            "SK": keys.window_batch_sk(start, name),
            "Comments": body,
            "ExpiresAt": expires_at,
        }
        if deletions:
            batch["Deleted"] = _DELETIONS.dump_json(list(deletions), by_alias=True).decode()
        held = {"PK": keys.pace_pk(feed), "SK": keys.window_held_sk(name), "Start": start, "ExpiresAt": expires_at}
        try:
            if not self._transact(head, batch, held, size, expires_at, seconds):
                self._seal(head)
                return Appended.REFUSED
        except _HeldElsewhere:
            return Appended.HELD
        return Appended.FIRST if self._claim(head) else Appended.JOINED

    def _transact(self, head: Item, batch: Item, marker: Item, size: int, expires_at: int, seconds: int) -> bool:
        """False: the window is closed by its flush, or full (the next window takes the batch). The marker
        goes first: a retry whose earlier attempt committed is told so (``_HeldElsewhere``) even when this
        window is closed or full, and is never appended to a second window."""
        update = {
            "Key": head,
            # Seconds: the window's w, for a deletion once the room is no longer paced (open_seconds).
            "UpdateExpression": "SET ExpiresAt = :expires, Seconds = :seconds ADD Appends :one, Bytes :size",
            "ConditionExpression": _OPEN_WITH_ROOM,
            "ExpressionAttributeValues": {
                ":seconds": seconds,
                ":one": 1,
                ":size": size,
                ":expires": expires_at,
                ":room": WINDOW_MAX_BYTES - size,
            },
        }
        # A retried stream batch finds its item there: already held, not counted twice in Appends/Bytes.
        put = {"Item": batch, "ConditionExpression": _ABSENT}
        held = {"Item": marker, "ConditionExpression": _ABSENT}
        try:
            self.transact([{"Put": held}, {"Update": update}, {"Put": put}], [_HeldElsewhere, _Refused, _AlreadyHeld])
        except _Refused:
            return False
        except _AlreadyHeld:
            return True  # held before its marker existed (written before this version): claims as it did
        return True

    def _claim(self, head: Item) -> bool:
        """Whether this writer sends the window's flush message: exactly one claims it (``Scheduled``: when,
        epoch ms). A claim whose flush was never sent, nor the window closed or handed over, was made by an
        invocation that died before its send; its retry, when Lambda bisected the batch, has another hash and
        no marker, so whoever finds it next takes it over and sends the flush again. The failed claim returns
        the head's old values at no cost (ReturnValuesOnConditionCheckFailure); a take-over costs 1 WCU."""
        old = self._update_else_old(
            head, "SET Scheduled = :at", "attribute_exists(PK) AND attribute_not_exists(Scheduled)", _claimed_now()
        )
        if old is None:
            return True
        return "Scheduled" in old and not {"Sent", "Closed", "Handed"} & old.keys() and self._take_over(head, old)

    def _take_over(self, head: Item, old: Item, condition: str = _UNSENT, values: Item | None = None) -> bool:
        """Conditioned on the claim read: of two writers finding one orphaned claim, one sends its flush."""
        return self._update_if(
            head,
            "SET Scheduled = :at",
            f"Scheduled = :claimed AND {condition}",
            {**_claimed_now(), ":claimed": old["Scheduled"], **(values or {})},
        )

    def orphans(self, feed: str, before: int) -> list[tuple[int, int]]:
        """The windows marked unposted (one strongly consistent Query, usually empty: 1 RCU), the
        ``ORPHAN_MARKERS_PER_SCAN`` oldest not resent within ``SETTLED_SECONDS`` each taken over when claimed
        and never sent nor handed over, closed under a lease now over (1 WCU each, billed refused too, and 1
        for its ``Resent`` mark; a marker found handed over, or with no head, is deleted: 1 WCU); then the
        ``ORPHAN_SCAN_HEADS`` newest heads (one page, 1-2 RCU), for a claimer that died before its send, each
        such not marked taken over. Each with its own w (its head's ``Seconds``), not the finder's."""
        now = int(time.time())
        found, marked = self._marked_orphans(feed, before, time.time())
        heads = islice(heads_newest_first(self, feed, 0, before - 1), ORPHAN_SCAN_HEADS)
        dead = [(head_start(head), head) for head in heads if orphaned(head, now) and head_start(head) not in marked]
        taken = [
            (s, int(head.get("Seconds", 0)))
            for s, head in dead
            if self._take_over(self._head(feed, s), head, ORPHANED, {":now": now})
        ]
        return found + taken

    def _seal(self, head: Item) -> None:
        """A window that refused a batch (full, or closed) takes no later one: a small batch after a spilled
        one (its comment's deletion) must not land in a window before it and be posted first. 1 WCU, only
        on a refusal."""
        self._update_if(head, "SET Sealed = :yes", "attribute_exists(PK)", {":yes": True})

    def close(self, feed: str, start: int) -> ClosedWindow | None:
        """The close (1 WCU), or, on a window closed before, its take-over when it is not handed over and
        its lease is over (1 WCU more), else one consistent GetItem of the head (a copy finding it handed
        over, or leased)."""
        head = self._head(feed, start)
        now = time.time()
        holder = uuid.uuid4().hex
        lease = {":until": int(now) + FLUSH_LEASE_SECONDS, ":holder": holder}
        if self._update_if(
            head,
            "SET Closed = :now, LeaseUntil = :until, LeaseHolder = :holder",
            "attribute_exists(PK) AND attribute_not_exists(Closed)",
            {**lease, ":now": int(now * 1000)},
        ):
            return self._content(feed, start, holder=holder)
        # Closed before: by an earlier attempt or a copy of this flush, or by the StreamFunction whose flush
        # message could not be sent; or no such window (expired, or never).
        if self._update_if(
            head,
            "SET LeaseUntil = :until, LeaseHolder = :holder",
            "attribute_exists(Closed) AND attribute_not_exists(Handed)"
            " AND (attribute_not_exists(LeaseUntil) OR LeaseUntil < :now)",
            {**lease, ":now": int(now)},
        ):
            return self._content(feed, start, already_closed=True, holder=holder)
        found = self.get_item(head)
        if found is None:
            return None
        if "Handed" in found:
            return ClosedWindow([], already_closed=True, handed=True)  # its callers post nothing: no batch read
        return ClosedWindow([], already_closed=True, leased=True)

    def release(self, feed: str, start: int, holder: str) -> None:
        self._update_if(self._head(feed, start), "REMOVE LeaseUntil", "LeaseHolder = :holder", {":holder": holder})

    def unsent(
        self, feed: str, comments: Sequence[CommentView], deletions: Sequence[CommentDeleted] = ()
    ) -> tuple[int, int] | None:
        """Two consistent GetItems (the marker, then its window's head), on a retried batch only."""
        marker = self.get_item({"PK": keys.pace_pk(feed), "SK": keys.window_held_sk(batch_name(comments, deletions))})
        if marker is None:
            return None
        start = int(marker["Start"])
        head = self.get_item(self._head(feed, start))
        if head is None or "Sent" in head or "Handed" in head:
            return None
        if "Scheduled" in head or self._claim(self._head(feed, start)):
            return start, int(head.get("Seconds", 0))
        return None

    def mark_sent(self, feed: str, start: int) -> None:
        self._mark(feed, start, "Sent")

    def _content(
        self, feed: str, start: int, already_closed: bool = False, handed: bool = False, holder: str = ""
    ) -> ClosedWindow:
        """Strongly consistent: every batch whose transaction committed before the close is read."""
        found = self.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :batches)",
            ExpressionAttributeValues={":pk": keys.pace_pk(feed), ":batches": keys.window_batches_prefix(start)},
            ConsistentRead=True,
        )
        return _window_of(found, already_closed=already_closed, handed=handed, holder=holder)

    def _batches_from(self, feed: str, oldest: int, newest: int) -> Iterator[tuple[int, Item]]:
        """The batch items of the windows started from ``oldest`` to ``newest``, each with its window's start:
        one strongly consistent Query (paged)."""
        found = self.query_all(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :oldest AND :newest",
            ExpressionAttributeValues={
                ":pk": keys.pace_pk(feed),
                ":oldest": keys.window_batches_prefix(oldest),
                ":newest": keys.window_batches_prefix(newest) + "~",  # past every batch name (hex)
            },
            ConsistentRead=True,
        )
        for item in found:
            yield int(keys.strip(keys.WINDOW_BATCH_PREFIX, str(item["SK"]))[:12]), item

    def mark_handed(self, feed: str, start: int) -> None:
        self._mark(feed, start, "Handed")

    def _mark(self, feed: str, start: int, name: str) -> None:
        with translated():
            self.client.update_item(
                TableName=self.table_name,
                Key=self._head(feed, start),
                UpdateExpression=f"SET {name} = :yes",
                ExpressionAttributeValues={":yes": True},
            )

    def open_seconds(self, feed: str) -> int | None:
        """One strongly consistent Query of the feed's newest head (Limit 1, 1 RCU)."""
        with translated():
            found = self.client.query(
                TableName=self.table_name,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :heads)",
                ExpressionAttributeValues={":pk": keys.pace_pk(feed), ":heads": keys.WINDOW_PREFIX},
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            )["Items"]
        if not found or not live(found[0], time.time()):
            return None  # no window, or none within the TTL (an older one expired before it)
        if "Handed" in found[0] or not found[0].get("Seconds"):
            return 0  # a head written before Seconds was: its deletions go out at once, as they did
        return int(found[0]["Seconds"])

    def held(self, feed: str) -> ClosedWindow:
        """Pages of heads, newest first, until ``unposted`` stops (about 1 to 6 pages in a busy room, at most
        ``OPEN_WINDOW_HORIZON_SECONDS`` back), then every marked window not handed over however old (its
        lease's retry found it leased, and later windows' flushes may have made a settled run before any
        first writer resent it: the sixth review's H1), then the batch items of the heads not handed over:
        one range Query per run of them with no other window between (``batch_runs``), not one per window
        (the seventh review's M1)."""
        read: dict[int, Item] = {}
        starts = unposted(self._heads_newest_first(feed, read), time.time())
        heads = {**{s: read[s] for s in starts}, **self._marked_held(feed, read, time.time())}
        seconds = {s: int(head.get("Seconds", 0)) for s, head in heads.items()}
        batches: dict[int, list[Item]] = {start: [] for start in heads}
        for oldest, newest in batch_runs(heads, read, seconds):
            for start, item in self._batches_from(feed, oldest, newest):
                if start in batches:
                    batches[start].append(item)
        return merged([_window_of(items) for items in batches.values()], list(seconds.items()))

    def _heads_newest_first(self, feed: str, read: dict[int, Item]) -> Iterator[tuple[int, bool]]:
        """(start, handed over) of the feed's heads since the horizon, each head kept in ``read``; a page is
        read only when reached."""
        for head in heads_newest_first(self, feed, int(time.time()) - OPEN_WINDOW_HORIZON_SECONDS, 10**12 - 1):
            read[head_start(head)] = head
            yield head_start(head), "Handed" in head


def _claimed_now() -> Item:
    return claimed_now(time.time())


def _window_of(
    found: Sequence[Item], already_closed: bool = False, handed: bool = False, holder: str = ""
) -> ClosedWindow:
    """A window's comments and deletions from its batch items."""
    return ClosedWindow(
        [comment for item in found for comment in _COMMENTS.validate_json(str(item["Comments"]))],
        already_closed=already_closed,
        handed=handed,
        holder=holder,
        deletions=[d for item in found for d in _DELETIONS.validate_json(str(item.get("Deleted", "[]")))],
    )
