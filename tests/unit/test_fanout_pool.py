"""fan_out's posting threads are kept between batches, as a warm Lambda keeps them, and bounded; the calling
thread posts beside them, one task per thread rather than one per connection."""

from __future__ import annotations

import threading
import time
from concurrent.futures import wait

import pytest

from roomcast.domain.chat import Subscription
from roomcast.domain.errors import ConnectionGone, PostRefused, TransientError
from roomcast.usecases import fanout
from roomcast.usecases.fanout import fan_out
from support.memory import memory_store


class ThreadRecordingPoster:
    """Delivers every frame but to ``gone``, noting which thread posted and how many posted at once."""

    def __init__(self, gone: frozenset[str] = frozenset()) -> None:
        self.attempts = 0
        self.threads: list[str] = []
        self.gone = gone
        self._lock = threading.Lock()
        self._in_flight = 0
        self.most_in_flight = 0

    def post(self, connection_id: str, data: bytes) -> None:
        with self._lock:
            self.attempts += 1
            self.threads.append(threading.current_thread().name)
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        time.sleep(0.001)  # long enough for the other threads to be posting too
        with self._lock:
            self._in_flight -= 1
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)


def subscriptions(count: int) -> list[Subscription]:
    return [
        Subscription(connection_id=f"c{n}", user_id=f"u{n}", room_id="r", incarnation="i", expires_at=2**40)
        for n in range(count)
    ]


def test_a_second_batch_posts_on_the_threads_of_the_first() -> None:
    store = memory_store()
    first, second = ThreadRecordingPoster(), ThreadRecordingPoster()

    fan_out([b"a"], subscriptions(40), first, store.connections, max_workers=5)
    fan_out([b"b"], subscriptions(40), second, store.connections, max_workers=5)

    # The calling thread posts too; every other post is on the kept pool's threads.
    caller = threading.current_thread().name
    assert set(second.threads) <= set(first.threads)
    assert all(name.startswith("fan-out") for name in first.threads if name != caller)
    assert first.most_in_flight <= 5 and second.most_in_flight <= 5


def test_a_kept_pool_still_reports_every_connection() -> None:
    store = memory_store()
    poster = ThreadRecordingPoster(gone=frozenset({"c3", "c7"}))

    result = fan_out([b"a", b"b"], subscriptions(10), poster, store.connections, max_workers=3)
    again = fan_out([b"a"], subscriptions(10), ThreadRecordingPoster(), store.connections, max_workers=3)

    assert sorted(result.gone) == ["c3", "c7"] and result.delivered == 8 and result.posts == 18
    assert again.delivered == 10 and again.posts == 10


def test_a_batch_of_one_is_posted_on_the_calling_thread_alone() -> None:
    poster = ThreadRecordingPoster()

    result = fan_out([b"a", b"b"], subscriptions(1), poster, memory_store().connections, max_workers=16)

    assert poster.threads == [threading.current_thread().name] * 2 and result.delivered == 1


def test_a_batch_moves_forward_while_another_holds_every_pool_thread() -> None:
    # Given every thread of the kept pool of 3 busy with another batch's posts (as many tasks as it may have
    # threads, queued ahead of anything this batch asks of it)
    store, release = memory_store(), threading.Event()
    held = [fanout._posting_pool(3).submit(release.wait) for _ in range(3)]
    try:
        poster = ThreadRecordingPoster()
        result = fan_out([b"a"], subscriptions(6), poster, store.connections, max_workers=3)
    finally:
        release.set()
    wait(held)

    # Then the calling thread posted the whole batch itself, and the helpers queued behind found nothing left
    assert result.delivered == 6 and set(poster.threads) == {threading.current_thread().name}


class BrokenPoster(ThreadRecordingPoster):
    """A poster with a bug: anything but a domain error, raised for one connection."""

    def post(self, connection_id: str, data: bytes) -> None:
        super().post(connection_id, data)
        if connection_id == "c4":
            raise RuntimeError("a bug in the poster")


def test_an_unexpected_error_on_any_thread_is_raised_once_every_thread_has_stopped() -> None:
    poster = BrokenPoster()

    with pytest.raises(RuntimeError, match="a bug in the poster"):
        fan_out([b"a"], subscriptions(8), poster, memory_store().connections, max_workers=4)

    # The other connections were still posted to, each once, before fan_out raised
    assert poster.attempts == 8


class ScriptedPoster(ThreadRecordingPoster):
    """410, exhausted retries and a refusal, as the posters raise them, for three connections."""

    def post(self, connection_id: str, data: bytes) -> None:
        super().post(connection_id, data)
        answers = {"c1": ConnectionGone, "c2": TransientError, "c3": PostRefused}
        if connection_id in answers:
            raise answers[connection_id](connection_id)


@pytest.mark.parametrize("max_workers", [1, 2, 16])
def test_the_calling_thread_and_the_pool_report_the_same_outcomes(max_workers: int) -> None:
    store = memory_store()
    poster = ScriptedPoster()

    result = fan_out([b"a", b"b"], subscriptions(6), poster, store.connections, max_workers=max_workers)

    assert (result.gone, result.failed, result.refused, result.late) == (["c1"], ["c2"], ["c3"], [])
    # The three healthy connections got both frames; each failing one stopped at its first
    assert result.delivered == 3 and result.posts == 3 * 2 + 3
