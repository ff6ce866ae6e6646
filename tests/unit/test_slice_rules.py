"""The second fan-out tier's rules (usecases/second_tier.py, wire/slices.py): which rooms are sliced, how,
what an unsent slice means for the room, and when a slice is retried."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from roomcast.domain.chat import Subscription
from roomcast.domain.errors import TransientError
from roomcast.usecases import fanout
from roomcast.usecases.ports import Store
from roomcast.usecases.second_tier import SecondTier, deliver_slice
from roomcast.wire.slices import FanoutSlice, slice_bodies
from support.recording import RecordingPoster

NOW = 1_000_000.0
FRAMES = [b'{"type":"comments","roomId":"art","comments":[]}', b'{"type":"roomDeleted","roomId":"art"}']


def subscribers(count: int, expires_at: int = int(NOW) + 600) -> list[Subscription]:
    return [
        Subscription(
            connection_id=f"c{n:03d}", user_id=f"u{n:03d}", room_id="art", incarnation="i1", expires_at=expires_at
        )
        for n in range(count)
    ]


class Queue:
    """The SliceQueue port: keeps what it is sent; the indexes in ``refusing`` are not sent."""

    def __init__(self, refusing: set[int] | None = None) -> None:
        self.sent: list[FanoutSlice] = []
        self.refusing = refusing or set()

    def send(self, bodies: Sequence[str], groups: Sequence[str]) -> set[int]:
        self.sent += [FanoutSlice.model_validate_json(b) for n, b in enumerate(bodies) if n not in self.refusing]
        return self.refusing & set(range(len(bodies)))


def one_slice(count: int) -> FanoutSlice:
    slices = slice_bodies("art", "i1", FRAMES, subscribers(count), slice_size=10, max_bytes=65536)
    assert slices is not None and len(slices) == 1
    return FanoutSlice.model_validate_json(slices[0][0])


def test_slices_hold_every_subscriber_once_and_every_frame_in_order() -> None:
    slices = slice_bodies("art", "i1", FRAMES, subscribers(7), slice_size=3, max_bytes=256 * 1024)

    assert slices is not None
    pieces = [FanoutSlice.model_validate_json(body) for body, _ in slices]
    assert [len(p.targets) for p in pieces] == [3, 3, 1]
    assert [(p.part, p.parts) for p in pieces] == [(1, 3), (2, 3), (3, 3)]
    assert [t.connection_id for p in pieces for t in p.targets] == [f"c{n:03d}" for n in range(7)]
    assert all(p.encoded_frames() == FRAMES for p in pieces)
    assert [[s.connection_id for s in group] for _, group in slices] == [
        [t.connection_id for t in p.targets] for p in pieces
    ]


def test_big_frames_make_smaller_slices_within_the_message_limit() -> None:
    frames = [b'{"type":"comments","roomId":"art","text":"' + b"x" * 3000 + b'"}']
    limit = 4096

    slices = slice_bodies("art", "i1", frames, subscribers(40), slice_size=500, max_bytes=limit)

    assert slices is not None and len(slices) > 1
    assert all(len(body.encode()) <= limit for body, _ in slices)
    assert sum(len(group) for _, group in slices) == 40


def test_frames_too_big_for_any_slice_are_not_sliced() -> None:
    frames = [b'{"text":"' + b"x" * 5000 + b'"}']

    assert slice_bodies("art", "i1", frames, subscribers(3), slice_size=500, max_bytes=4096) is None


@pytest.mark.parametrize("count", [0, 4])
def test_a_room_at_or_below_the_threshold_keeps_the_single_hop(count: int) -> None:
    queue = Queue()
    tier = SecondTier(queue, threshold=4, slice_size=2, max_bytes=256 * 1024)

    assert tier.hand_off("art#i1", FRAMES, subscribers(count), NOW) is None
    assert queue.sent == []


def test_expired_subscriptions_count_for_nothing_and_are_not_handed_over() -> None:
    queue = Queue()
    tier = SecondTier(queue, threshold=2, slice_size=10, max_bytes=256 * 1024)
    live, expired = subscribers(3), subscribers(5, expires_at=int(NOW) - 1)

    assert tier.hand_off("art#i1", FRAMES, expired, NOW) is None
    result = tier.hand_off("art#i1", FRAMES, live + expired, NOW)

    assert result is not None and result.delivered == 3
    assert [t.connection_id for s in queue.sent for t in s.targets] == ["c000", "c001", "c002"]


def test_an_unsent_slice_counts_its_connections_failed_and_the_sent_ones_handed_over() -> None:
    queue = Queue(refusing={1})
    tier = SecondTier(queue, threshold=2, slice_size=2, max_bytes=256 * 1024)

    result = tier.hand_off("art#i1", FRAMES, subscribers(5), NOW)

    handed = {t.connection_id for s in queue.sent for t in s.targets}
    assert result is not None and result.posts == 0 and result.failed
    assert result.delivered == len(handed) == 5 - len(result.failed)
    assert not handed & set(result.failed)


def test_a_slice_that_reached_nobody_raises_so_that_it_alone_is_retried(store: Store, poster: RecordingPoster) -> None:
    piece = one_slice(2)
    poster.failing.update({"c000", "c001"})

    with pytest.raises(TransientError, match="slice 1/1 of room art reached nobody"):
        deliver_slice(piece, poster, store.connections, 4, now=NOW)


def test_a_slice_that_reached_some_is_not_retried(store: Store, poster: RecordingPoster) -> None:
    piece = one_slice(3)
    poster.failing.add("c001")
    poster.refused.add("c002")

    result = deliver_slice(piece, poster, store.connections, 4, now=NOW)

    assert (result.delivered, result.failed, result.refused) == (1, ["c001"], ["c002"])
    assert [data for _, data in poster.posts] == FRAMES  # both frames, in order, to the one reached


class Monotonic:
    """``time`` as usecases/fanout.py sees it: a monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    @staticmethod
    def time() -> float:
        return NOW


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(fanout, "time", clock)
    return clock


def test_connections_left_at_the_deadline_go_back_as_a_slice_of_their_own(store: Store, monotonic: Monotonic) -> None:
    # Given a slice of 3 whose invocation reaches its deadline while posting to the first connection
    poster = RecordingPoster(observe=lambda *_: setattr(monotonic, "now", 200.0))
    queue = Queue()

    # When it is delivered, one connection at a time
    result = deliver_slice(one_slice(3), poster, store.connections, 1, now=NOW, deadline=150.0, rest=queue)

    # Then the first got every frame, and the other two are handed on, with the same frames, never posted here
    assert poster.posts == [("c000", frame) for frame in FRAMES]
    assert [[t.connection_id for t in s.targets] for s in queue.sent] == [["c001", "c002"]]
    assert queue.sent[0].encoded_frames() == FRAMES and (queue.sent[0].part, queue.sent[0].parts) == (1, 1)
    assert (result.delivered, result.failed, result.late) == (3, [], ["c001", "c002"])


def test_a_slice_past_its_deadline_before_any_post_still_posts_to_one_connection(
    store: Store, monotonic: Monotonic
) -> None:
    # Given an invocation already at its deadline (a function timeout shorter than the margin, say)
    poster, queue = RecordingPoster(), Queue()

    # When a slice of 3 is delivered
    result = deliver_slice(one_slice(3), poster, store.connections, 4, now=NOW, deadline=50.0, rest=queue)

    # Then one connection is still posted to, so that handing the rest on always moves forward
    assert poster.receivers() == {"c000"}
    assert [t.connection_id for t in queue.sent[0].targets] == ["c001", "c002"]
    assert result.delivered == 3 and not result.failed


def test_a_rest_the_queue_refuses_is_unreached_and_retries_the_slice_only_when_nobody_got_it(
    store: Store, monotonic: Monotonic
) -> None:
    # Nobody reached (the one posted to still failing): the whole slice is retried, which duplicates nothing
    failing = RecordingPoster()
    failing.failing.add("c000")
    with pytest.raises(TransientError, match="reached nobody"):
        deliver_slice(one_slice(2), failing, store.connections, 4, now=NOW, deadline=50.0, rest=Queue({0}))

    # One reached: the rest is unreached (counted), and the slice is not retried
    poster = RecordingPoster()
    result = deliver_slice(one_slice(3), poster, store.connections, 1, now=NOW, deadline=50.0, rest=Queue({0}))

    assert (result.delivered, result.failed) == (1, ["c001", "c002"])
    assert poster.receivers() == {"c000"}
