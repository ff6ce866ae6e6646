"""The second tier's message groups (wire/slices.py): a room's subscribers cut by a stable hash of their
connection id into a power-of-two number of buckets, one FIFO message group each, so a connection's slices
of consecutive batches share a group whoever joins or leaves (issue 10 point 5)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.domain.chat import Subscription
from roomcast.edges.slice_batch import fifo_processor, from_fifo
from roomcast.usecases.ports import Store
from roomcast.usecases.second_tier import SecondTier, deliver_slice
from roomcast.wire.slices import FanoutSlice, bucket_count, bucket_of, bucket_runs, cut_slices, group_of
from support.recording import RecordingPoster

NOW = 1_000_000.0
FRAMES = [b'{"type":"comments","roomId":"art","comments":[]}']
# SQS: up to 128 characters, letters, digits and punctuation.
GROUP_ID = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~]{1,128}$")


def subscribers(names: Sequence[str]) -> list[Subscription]:
    return [
        Subscription(connection_id=c, user_id=f"u-{c}", room_id="art", incarnation="i1", expires_at=int(NOW) + 600)
        for c in names
    ]


def grouped_slices(subscriptions: list[Subscription], slice_size: int) -> list[tuple[str, str, list[Subscription]]]:
    """The slices the tier sends for these subscribers: each with its message group."""
    runs = bucket_runs("art", "i1", subscriptions, slice_size)
    slices = cut_slices("art", "i1", FRAMES, runs, slice_size, 256 * 1024)
    assert slices is not None
    return [(body, str(runs[run][0]), members) for body, run, members in slices]


def groups_by_connection(slices: list[tuple[str, str, list[Subscription]]]) -> dict[str, str]:
    return {s.connection_id: group for _, group, members in slices for s in members}


class Queue:
    """The SliceQueue port: keeps each slice with the message group it was sent in."""

    def __init__(self) -> None:
        self.sent: list[tuple[FanoutSlice, str]] = []

    def send(self, bodies: Sequence[str], groups: Sequence[str]) -> set[int]:
        self.sent += [(FanoutSlice.model_validate_json(b), g) for b, g in zip(bodies, groups, strict=True)]
        return set()


@pytest.mark.parametrize(("live", "buckets"), [(1, 1), (375, 1), (376, 2), (750, 2), (751, 4), (10_000, 32)])
def test_the_bucket_count_is_the_power_of_two_filling_buckets_to_three_quarters_of_a_slice(
    live: int, buckets: int
) -> None:
    assert bucket_count(live, 500) == buckets


def test_the_bucket_count_changes_only_when_the_room_doubles_or_halves() -> None:
    counts = [bucket_count(live, 500) for live in range(1, 20_000)]

    changes = [n for n in range(1, len(counts)) if counts[n] != counts[n - 1]]
    assert [counts[n] for n in changes] == [2, 4, 8, 16, 32, 64]
    assert all(counts[n] == 2 * counts[n - 1] for n in changes)


def test_a_join_or_a_leave_moves_no_other_connection_to_another_group() -> None:
    room = [f"conn-{n}" for n in range(1, 1_200)]
    before = groups_by_connection(grouped_slices(subscribers(room), 500))

    joined = grouped_slices(subscribers([*room, "newcomer"]), 500)
    left = grouped_slices(subscribers(room[1:]), 500)

    assert len(set(before.values())) == 4
    assert {c: g for c, g in groups_by_connection(joined).items() if c != "newcomer"} == before
    assert groups_by_connection(left) == {c: g for c, g in before.items() if c != room[0]}


def test_when_the_room_doubles_a_connection_keeps_its_bucket_or_moves_by_the_old_count() -> None:
    connections = [f"conn-{n}" for n in range(2_000)]

    moved = 0
    for connection in connections:
        small, big = bucket_of(connection, 4), bucket_of(connection, 8)
        assert big in (small, small + 4)
        moved += big != small

    assert 800 < moved < 1_200  # about half change group, once


def test_every_slice_carries_its_group_and_a_bucket_bigger_than_a_slice_stays_in_one_group() -> None:
    slices = grouped_slices(subscribers([f"c{n}" for n in range(40)]), 4)

    pieces = [(FanoutSlice.model_validate_json(body), group) for body, group, _ in slices]
    assert all(piece.group == group and GROUP_ID.match(group) for piece, group in pieces)
    assert all(len(piece.targets) <= 4 for piece, _ in pieces)
    assert sorted(t.connection_id for piece, _ in pieces for t in piece.targets) == sorted(f"c{n}" for n in range(40))
    assert [(piece.part, piece.parts) for piece, _ in pieces] == [(n, len(pieces)) for n in range(1, len(pieces) + 1)]
    by_group = groups_by_connection(slices)
    assert all(by_group[c] == group_of("art", "i1", bucket_of(c, bucket_count(40, 4))) for c in by_group)


def test_group_ids_name_the_room_and_its_incarnation_within_sqs_rules() -> None:
    names = {group_of(room, incarnation, 3) for room in ("art", "a" * 200, "é#?") for incarnation in ("i1", "i2")}

    assert len(names) == 6 and all(GROUP_ID.match(name) for name in names)


def test_a_rooms_slices_go_to_the_queue_in_their_groups() -> None:
    queue = Queue()
    tier = SecondTier(queue, threshold=2, slice_size=4, max_bytes=256 * 1024)

    result = tier.hand_off("art#i1", FRAMES, subscribers([f"c{n}" for n in range(20)]), NOW)

    assert result is not None and result.delivered == 20
    assert all(piece.group == group for piece, group in queue.sent)
    assert len({group for _, group in queue.sent}) == bucket_count(20, 4)


def test_a_slices_rest_at_its_deadline_goes_behind_it_in_its_own_group(store: Store) -> None:
    [(body, group, _)] = grouped_slices(subscribers(["c1", "c2", "c3"]), 500)
    queue = Queue()

    # An invocation already past its deadline posts to one connection, and hands the rest on
    deliver_slice(FanoutSlice.model_validate_json(body), RecordingPoster(), store.connections, 1, NOW, 0.0, queue)

    [(rest, sent_in)] = queue.sent
    assert sent_in == group == rest.group and len(rest.targets) == 2


def test_the_fanout_function_reads_fifo_records_by_group_and_reports_a_failed_batch_instead_of_raising() -> None:
    def fifo_record(n: int, group: str) -> dict[str, object]:
        return {
            "messageId": f"m{n}",
            "receiptHandle": f"r{n}",
            "body": f"{n}",
            "attributes": {"MessageGroupId": group},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:roomcast-FanoutQueue.fifo",
        }

    event = {"Records": [fifo_record(1, "a"), fifo_record(2, "a"), fifo_record(3, "b")]}

    def failing_first(record: SQSRecord) -> None:  # Powertools passes it by this name
        if record.body == "1":
            raise ValueError("reached nobody")

    answer = process_partial_response(event=event, record_handler=failing_first, processor=fifo_processor())

    assert from_fifo(event) and not from_fifo({"Records": [{"eventSourceARN": "arn:aws:sqs:eu-west-1:1:flushes"}]})
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    everything = {"Records": [fifo_record(1, "a")]}
    assert process_partial_response(event=everything, record_handler=failing_first, processor=fifo_processor()) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }
