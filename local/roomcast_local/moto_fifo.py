"""moto 5.2.5's SQS FIFO queues, made to keep group order when messages come back and under concurrent receives.

moto locks a message group while any of its messages is in flight, as SQS does, but it releases a
message whose visibility timeout ran out only when its receive loop reaches it, in queue order. A
group whose first message failed is then still locked by its later, also expired, messages: moto
skips the first and hands out the last (seen here: a batch failed whole, and the next receive
returned its third message first). SQS returns the group's oldest message. Here every expired
message is released before a receive, and a group counts as in flight only through messages still
invisible, so a receive returns each group from its oldest message.

Two concurrent receives broke the group lock too: a long poll took its snapshot of the groups in
flight when it began, so a group another receiver took meanwhile was handed out again (one
author's comments were applied out of order with several pollers), and receives, deletes and sends
walked and changed the queue's message list from several server threads at once. Here every scan
runs under one lock, with the groups in flight as they are at that scan; sends, deletes and
visibility changes take the same lock and wake the long polls waiting on it. A long poll whose
groups are all in flight also no longer spins: moto woke it whenever any message was visible,
its own group's included, so each waiting poller rescanned the queue back to back.

Applied by the local stack and its AWS endpoint before moto starts, whatever ROOMCAST_FAST_MOTO
says: it is about order, not speed. ``apply()`` is idempotent; ``revert()`` undoes it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import moto
from moto.sqs.models import DEFAULT_SENDER_ID, Queue, SQSBackend

TARGET_MOTO = "5.2.5"
# moto records this SenderId on every message: locally, every producer is this one.
SENDER_ID = DEFAULT_SENDER_ID
# A long poll rescans at least this often: visibility timeouts and delays run out without a wake-up.
RESCAN_SECONDS = 0.5
_saved: dict[str, Any] = {}
# Held by every scan and every change of a queue's messages; notified after each change.
_changed = threading.Condition(threading.RLock())
_MUTATORS = ("send_message", "delete_message", "change_message_visibility")


def _in_flight_groups(self: Queue) -> set[str]:
    return {m.group_id for m in self._pending_messages if m.group_id is not None and not m.visible}


def _notifying(original: Any) -> Any:
    def mutate(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        with _changed:
            result = original(self, *args, **kwargs)
            _changed.notify_all()
            return result

    return mutate


def apply() -> None:
    if moto.__version__ != TARGET_MOTO:
        raise RuntimeError(f"roomcast_local.moto_fifo patches moto {TARGET_MOTO}, not moto {moto.__version__}")
    if _saved:
        return
    original_receive = SQSBackend.receive_message

    def receive_message(
        self: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any, **kwargs: Any
    ) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        with _changed:
            while True:
                queue = self.get_queue(queue_name)
                for message in [m for m in queue.pending_messages if m.visible]:
                    queue.pending_messages.discard(message)
                # One scan (no wait inside moto), with the groups in flight as they are now.
                result = original_receive(self, queue_name, count, 0, *args, **kwargs)
                remaining = deadline - time.monotonic()
                if result or remaining <= 0:
                    return result
                _changed.wait(min(remaining, RESCAN_SECONDS))

    _saved["receive_message"] = original_receive
    _saved["pending_message_groups"] = Queue.pending_message_groups
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    Queue.pending_message_groups = property(_in_flight_groups)  # type: ignore[method-assign,assignment]
    for name in _MUTATORS:
        _saved[name] = getattr(SQSBackend, name)
        setattr(SQSBackend, name, _notifying(_saved[name]))


def applied() -> bool:
    return bool(_saved)


def revert() -> None:
    if _saved:
        SQSBackend.receive_message = _saved.pop("receive_message")  # type: ignore[method-assign]
        Queue.pending_message_groups = _saved.pop("pending_message_groups")  # type: ignore[method-assign]
        for name in _MUTATORS:
            setattr(SQSBackend, name, _saved.pop(name))
