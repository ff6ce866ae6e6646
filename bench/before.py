"""Code paths Roomcast replaced, replayed so that a figure's before stands beside its after in one run."""

from __future__ import annotations

from typing import Any, cast

from roomcast.adapters.dynamodb.comments import DynamoComments
from roomcast.adapters.dynamodb.rooms import room_check
from roomcast.domain.chat import Room, room_missing
from roomcast.models import AddComment
from roomcast.usecases import commands
from roomcast.usecases.ports import Store


def with_room_check(store: Store, room: Room, command: AddComment) -> None:
    """addComment as it was until issue 10 point 6: the same transaction with the room's ConditionCheck first."""
    comments = cast(DynamoComments, store.comments)
    transact = comments.transact

    def checked(actions: Any, failures: Any) -> None:
        transact([room_check(room), *actions], [lambda: room_missing(room.room_id), *failures])

    comments.transact = checked  # type: ignore[method-assign,assignment]
    try:
        commands.apply(command, store)
    finally:
        del comments.transact
