"""fan_out's posting threads are kept between batches, as a warm Lambda keeps them, and bounded."""

from __future__ import annotations

import threading
import time

from roomcast.domain.chat import Subscription
from roomcast.domain.errors import ConnectionGone
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

    assert set(second.threads) <= set(first.threads)
    assert all(name.startswith("fan-out") for name in first.threads)
    assert first.most_in_flight <= 5 and second.most_in_flight <= 5


def test_a_kept_pool_still_reports_every_connection() -> None:
    store = memory_store()
    poster = ThreadRecordingPoster(gone=frozenset({"c3", "c7"}))

    result = fan_out([b"a", b"b"], subscriptions(10), poster, store.connections, max_workers=3)
    again = fan_out([b"a"], subscriptions(10), ThreadRecordingPoster(), store.connections, max_workers=3)

    assert sorted(result.gone) == ["c3", "c7"] and result.delivered == 8 and result.posts == 18
    assert again.delivered == 10 and again.posts == 10
