"""A connection subscribed to a room through the adapter, as `$connect` and `subscribe` write it."""

from __future__ import annotations

import time

from roomcast.domain.chat import Connection, Room, Subscription
from roomcast.usecases.ports import Connections


def connect_and_subscribe(connections: Connections, room: Room, connection: str, user: str) -> None:
    """The connection item and the subscription, both expiring in 10 minutes."""
    expires = int(time.time()) + 600
    connections.put_connection(Connection(connection_id=connection, user_id=user, expires_at=expires))
    connections.add_subscription(
        room,
        Subscription(
            connection_id=connection,
            user_id=user,
            room_id=room.room_id,
            incarnation=room.incarnation,
            expires_at=expires,
        ),
    )
