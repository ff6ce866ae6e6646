"""Closing a client's connection from our side: @connections DELETE, which API Gateway follows with $disconnect."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from roomcast.adapters import aws_clients
from roomcast.domain.errors import TransientError


def hangup(endpoint_url: str) -> Callable[[str], None]:
    """A closer of connections of the stage at ``endpoint_url``; an already closed one is no error."""

    def close(connection_id: str) -> None:
        try:
            aws_clients.management_api(endpoint_url).delete_connection(ConnectionId=connection_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "GoneException":
                raise TransientError(f"@connections DELETE: {error}") from error
        except BotoCoreError as error:
            raise TransientError(f"@connections unreachable: {type(error).__name__}") from error

    return close
