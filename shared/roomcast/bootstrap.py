"""Builds each function's dependencies from its settings, once per warm container.

Handlers call one builder after validating their settings; tests and the local stack call
``reset()`` when they switch environments or endpoints.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast.adapters import aws_clients, secrets
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.adapters.lean_poster import LeanPoster
from roomcast.edges.sqs_intake import CommandIntake
from roomcast.settings import (
    AuthorizerSettings,
    CommandSettings,
    ConnectSettings,
    DisconnectSettings,
    MessageSettings,
    StreamSettings,
)
from roomcast.usecases.ports import Poster, Store
from roomcast.usecases.stream import LiveProcessor
from roomcast.usecases.subscriptions import Routes


@cache
def store(table_name: str) -> Store:
    return dynamodb_store(table_name)


@cache
def poster(callback_url: str, max_attempts: int, pool_size: int = 10, client: str = "lean") -> Poster:
    """One per callback URL per warm container: its pool of keep-alive connections outlives invocations."""
    if client == "botocore":
        return ConnectionsApi(max_attempts=max_attempts, endpoint_url=callback_url, pool_size=pool_size)
    return LeanPoster(callback_url, pool_size=pool_size, max_attempts=max_attempts)


@cache
def command_intake(settings: CommandSettings) -> CommandIntake:
    return CommandIntake(
        store(settings.table_name),
        aws_clients.sqs(),
        settings.dead_letter_queue_url,
        settings.max_receive_count,
        settings.outcome_ttl_seconds,
    )


def routes(settings: ConnectSettings | DisconnectSettings | MessageSettings) -> Routes:
    """$connect and $disconnect never post, so they have no callback URL and no poster."""
    if isinstance(settings, MessageSettings):
        return Routes(
            store(settings.table_name),
            poster(settings.websocket_callback_url, settings.post_max_attempts, client=settings.poster_client),
            settings.connection_ttl_seconds,
            settings.frame_limit_bytes,
        )
    ttl = settings.connection_ttl_seconds if isinstance(settings, ConnectSettings) else 0
    return Routes(store(settings.table_name), ConnectionsApi(), ttl, 32 * 1024)


def live_processor(settings: StreamSettings, context: LambdaContext) -> LiveProcessor:
    """Per invocation: its clock is this invocation's remaining time."""
    return LiveProcessor(
        store(settings.table_name),
        poster(
            settings.websocket_callback_url,
            settings.post_max_attempts,
            settings.fanout_max_workers,
            settings.poster_client,
        ),
        settings.frame_limit_bytes,
        settings.fanout_max_workers,
        out_of_time=lambda: context.get_remaining_time_in_millis() < settings.cleanup_margin_ms,
    )


@cache
def _secrets_provider() -> Any:
    return secrets.secrets_provider(aws_clients.secretsmanager())


def signing_secret(settings: AuthorizerSettings) -> str:
    """The HS256 key, cached by the provider for a few minutes across invocations."""
    return secrets.signing_secret(_secrets_provider(), settings.jwt_secret_arn)


def reset() -> None:
    """Forget every dependency built so far, and the clients under them."""
    for built in (store, poster, command_intake, _secrets_provider):
        built.cache_clear()
    aws_clients.reset()
