"""The patches the local stack applies to moto before it serves a request, in one place."""

from __future__ import annotations

from roomcast_local import fast_moto, moto_fifo, moto_tokens


def apply() -> None:
    """The fast local DynamoDB (unless ROOMCAST_FAST_MOTO=0), SQS FIFO group order, and transactions
    idempotent by their ClientRequestToken. The last two are about behaviour, so they always apply."""
    fast_moto.apply_if_enabled()
    moto_fifo.apply()
    moto_tokens.apply()
