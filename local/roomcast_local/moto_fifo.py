"""moto 5.2.5's SQS FIFO queues, made to keep group order when messages come back.

moto locks a message group while any of its messages is in flight, as SQS does, but it releases a
message whose visibility timeout ran out only when its receive loop reaches it, in queue order. A
group whose first message failed is then still locked by its later, also expired, messages: moto
skips the first and hands out the last (seen here: a batch failed whole, and the next receive
returned its third message first). SQS returns the group's oldest message. Here every expired
message is released before a receive, and a group counts as in flight only through messages still
invisible, so a receive returns each group from its oldest message.

Applied by the local stack and its AWS endpoint before moto starts, whatever ROOMCAST_FAST_MOTO
says: it is about order, not speed. ``apply()`` is idempotent; ``revert()`` undoes it.
"""

from __future__ import annotations

from typing import Any

import moto
from moto.sqs.models import DEFAULT_SENDER_ID, Queue, SQSBackend

TARGET_MOTO = "5.2.5"
# moto records this SenderId on every message: locally, every producer is this one.
SENDER_ID = DEFAULT_SENDER_ID
_saved: dict[str, Any] = {}


def _in_flight_groups(self: Queue) -> set[str]:
    return {m.group_id for m in self._pending_messages if m.group_id is not None and not m.visible}


def apply() -> None:
    if moto.__version__ != TARGET_MOTO:
        raise RuntimeError(f"roomcast_local.moto_fifo patches moto {TARGET_MOTO}, not moto {moto.__version__}")
    if _saved:
        return
    original_receive = SQSBackend.receive_message

    def receive_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        for message in [m for m in queue.pending_messages if m.visible]:
            queue.pending_messages.discard(message)
        return original_receive(self, queue_name, *args, **kwargs)

    _saved["receive_message"] = original_receive
    _saved["pending_message_groups"] = Queue.pending_message_groups
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    Queue.pending_message_groups = property(_in_flight_groups)  # type: ignore[method-assign,assignment]


def revert() -> None:
    if _saved:
        SQSBackend.receive_message = _saved.pop("receive_message")  # type: ignore[method-assign]
        Queue.pending_message_groups = _saved.pop("pending_message_groups")  # type: ignore[method-assign]
