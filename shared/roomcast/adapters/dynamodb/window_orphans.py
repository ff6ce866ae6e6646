"""DynamoWindows' reads of a feed's window heads newest first, and which of them are orphans.

The exit's read of held windows pages the feed's heads newest first and stops at a run of ``HANDED_RUN``
heads handed over and settled (``unposted``): a window before such a run ended before they started, so its
flush came and was handed over, or released and dead-lettered, or its claimer died before the send (the
orphan scan resends it). A window the StreamFunction closed itself may be behind such a run and never
posted yet (its batch's retry found it leased, and no first writer came after its lease: the sixth
review's H1), so the exit also reads every window marked ``Unposted:`` and not handed over, however old
(``window_markers.py``). The orphan scan reads the markers, then one page of the newest heads (``orphaned``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Item, Table, translated
from roomcast.usecases.pacing import FLUSH_LEASE_SECONDS

# An exit reads heads newest first, a page at a time, and stops at a run of HANDED_RUN heads handed over and
# started SETTLED_SECONDS ago or more: a window before them ended before they started, its flush came then,
# and within the lease and the fan-out queue's 3 receives 30 s apart (template.yaml) it was handed over, or
# released and dead-lettered (posted to no one); one the StreamFunction closed and never posted is marked
# (``Unposted:``), read by the exit whatever the run, and resent by the next windows' first writers once its
# lease is over (orphans). A run, not one head: a room's w may
# have changed, and flushes of one slot's windows are not strictly ordered. Later handed-over windows are
# also the sign that the queue's backlog, if any, got past the older ones. SETTLED_SECONDS counts from a
# flush's first receive, not its send: behind the flush queue's backlog (FlushConcurrency 5, after an outage)
# a flush is received minutes after its send, so a marked window resent and not handed over keeps its marker
# whatever the time since the send, and SETTLED_SECONDS is only how long a scan waits before trying it again
# (the seventh review's P2).
HANDED_RUN = 4
SETTLED_SECONDS = FLUSH_LEASE_SECONDS + 3 * 30
HELD_PAGE_HEADS = 25  # about 150-250 bytes each: 1 or 2 strongly consistent read units a page
# The orphan scan's heads, for a claimer that died before its send: the retry of its batch, bisected by Lambda,
# comes within seconds, so its window is among a room's newest heads. A window the StreamFunction closed
# itself is marked (``Unposted:``) and found however many windows came after it (docs/capacity.md).
ORPHAN_SCAN_HEADS = HELD_PAGE_HEADS
# The marked windows one scan takes over at most, the oldest first, in twice as many tries at most, leaving
# out those a scan resent or tried within SETTLED_SECONDS (their flush maybe under way): an SQS outage of N windows is
# resent 10 a window, at most 20 tries (10 take-overs, 10 ``Resent`` marks) a scan, where every marker's
# take-over was N writes per window (the sixth review's M2).
ORPHAN_MARKERS_PER_SCAN = 10


def heads_newest_first(table: Table, feed: str, since: int, last: int) -> Iterator[Item]:
    """The feed's heads started from ``since`` to ``last``, newest first; a page is read only when reached."""
    request: Item = {
        "TableName": table.table_name,
        "KeyConditionExpression": "PK = :pk AND SK BETWEEN :since AND :last",
        "ExpressionAttributeValues": {
            ":pk": keys.pace_pk(feed),
            ":since": keys.window_sk(max(0, since)),
            ":last": keys.window_sk(last),
        },
        "ScanIndexForward": False,
        "Limit": HELD_PAGE_HEADS,
        "ConsistentRead": True,
    }
    while True:
        with translated():
            response = table.client.query(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def head_start(head: Item) -> int:
    return int(keys.strip(keys.WINDOW_PREFIX, str(head["SK"])))


def unposted(heads: Iterable[tuple[int, bool]], now: float) -> list[int]:
    """The starts of the heads (newest first) not handed over, closed or not (a flush closed but not handed
    over may have read the subscriptions before the leave removed them), until a run of ``HANDED_RUN``
    handed over and settled (``SETTLED_SECONDS``)."""
    starts: list[int] = []
    run = 0
    for start, handed in heads:
        if not handed:
            starts.append(start)
            run = 0
        elif start <= now - SETTLED_SECONDS:
            run += 1
            if run == HANDED_RUN:
                break
    return starts


def orphaned(head: Item, now: int) -> bool:
    """Claimed, neither sent nor handed over, and not closed or closed under a lease now over: its flush may
    never come (DynamoWindows' take-over decides)."""
    lease_over = "Closed" not in head or "LeaseUntil" not in head or int(head["LeaseUntil"]) < now
    return "Scheduled" in head and not {"Sent", "Handed"} & head.keys() and lease_over and live(head, now)


def live(head: Item, now: float) -> bool:
    """Not past its TTL (``ExpiresAt``): DynamoDB deletes an expired item lazily, and it
    is still read meanwhile (up to about 48 hours; the sixth review's L2)."""
    return "ExpiresAt" not in head or int(head["ExpiresAt"]) > now


def batch_runs(starts: Iterable[int], read: Mapping[int, Item], seconds: Mapping[int, int]) -> list[tuple[int, int]]:
    """The held windows' starts as runs (oldest, newest), each read by one range Query of batch items with no
    other window's between (the seventh review's M1: a Query per window was 627 after an outage). Two held
    windows join when every head read between them is held too (an exit's pages read every head back to
    the oldest they reach), or, older than those pages, when the later starts where the earlier ends
    (``seconds``: their w)."""
    held = set(starts)
    known = sorted(read)
    runs: list[tuple[int, int]] = []
    for start in sorted(held):
        if runs:
            last = runs[-1][1]
            if known and last >= known[0]:
                joins = all(k in held for k in known[bisect_right(known, last) : bisect_left(known, start)])
            else:
                joins = start == last + max(1, seconds.get(last, 0))
            if joins:
                runs[-1] = (runs[-1][0], start)
                continue
        runs.append((start, start))
    return runs
