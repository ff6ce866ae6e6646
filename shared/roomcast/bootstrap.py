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
from roomcast.adapters.dynamodb.quotas import DynamoLimiter
from roomcast.adapters.dynamodb.tier_holds import DynamoTierHolds
from roomcast.adapters.dynamodb.tokens import DynamoTokens
from roomcast.adapters.dynamodb.windows import DynamoWindows
from roomcast.adapters.flush_queue import SqsFlushQueue
from roomcast.adapters.hangup import hangup
from roomcast.adapters.lean_poster import LeanPoster
from roomcast.adapters.review_lambda import LambdaReviewer, review_client
from roomcast.adapters.slice_queue import SqsSliceQueue
from roomcast.domain.frame_window import FrameBudget
from roomcast.domain.quotas import MessageRate
from roomcast.domain.tier_hold import hold_seconds
from roomcast.edges.review_sample import WordRules
from roomcast.edges.slice_batch import SliceBatch
from roomcast.edges.sqs_intake import CommandIntake
from roomcast.settings import (
    AuthorizerSettings,
    CommandSettings,
    ConnectSettings,
    DisconnectSettings,
    FanoutSettings,
    MessageSettings,
    ReviewSettings,
    StreamSettings,
)
from roomcast.usecases.pacing import Pacer, WindowFlusher
from roomcast.usecases.ports import Poster, Reviewer, Store
from roomcast.usecases.quotas import Guard, Quotas
from roomcast.usecases.second_tier import HoldRenewal, SecondTier
from roomcast.usecases.stream import LiveProcessor
from roomcast.usecases.subscriptions import Routes
from roomcast.wire.cursor import use_cursor_key


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
        reviewer=reviewer(settings),
    )


def reviewer(settings: CommandSettings) -> Reviewer | None:
    """The review hook: the Lambda named by REVIEW_FUNCTION (the local stack serves its Invoke too)."""
    if settings.review_function is None:
        return None
    return LambdaReviewer(review_client(settings.review_budget_ms), settings.review_function)


@cache
def review_rules() -> WordRules:
    """The sample review function's word lists, read once per warm container."""
    settings = ReviewSettings.from_env()
    return WordRules(settings.blocked_words, settings.masked_words, settings.slow_words, settings.slow_seconds)


def routes(settings: ConnectSettings | DisconnectSettings | MessageSettings) -> Routes:
    """$connect and $disconnect never post, so they have no callback URL and no poster."""
    if isinstance(settings, MessageSettings):
        if settings.cursor_secret_arn:
            # Cached by the provider: at most one read per container and 5 minutes.
            use_cursor_key(secrets.signing_secret(_secrets_provider(), settings.cursor_secret_arn))
        return Routes(
            store(settings.table_name),
            poster(settings.websocket_callback_url, settings.post_max_attempts, client=settings.poster_client),
            settings.connection_ttl_seconds,
            settings.frame_limit_bytes,
            max_replay=settings.replay_max_comments,
            replay_window_ms=settings.replay_window_ms,
        )
    ttl = settings.connection_ttl_seconds if isinstance(settings, ConnectSettings) else 0
    return Routes(store(settings.table_name), ConnectionsApi(), ttl, 32 * 1024)


def guard(settings: ConnectSettings | DisconnectSettings | MessageSettings) -> Guard:
    """The limits per client each WebSocket function enforces (docs/websocket.md, quotas)."""
    limiter = DynamoLimiter(settings.table_name)
    if isinstance(settings, MessageSettings):
        rate = MessageRate(settings.message_rate_per_second, settings.message_burst, settings.message_strikes)
        quotas = Quotas(rate=rate, subscriptions_per_connection=settings.subscriptions_per_connection)
        return Guard(limiter, quotas, hangup(settings.websocket_callback_url))
    per_user = settings.connections_per_user if isinstance(settings, ConnectSettings) else 1
    return Guard(limiter, Quotas(connections_per_user=per_user), _no_hangup)


def _no_hangup(connection_id: str) -> None:
    """$connect and $disconnect never close a connection themselves."""


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
        second_tier=second_tier(settings),
        pacer=pacer(settings),
    )


def second_tier(settings: StreamSettings) -> SecondTier | None:
    """Big rooms' slices onto the fan-out queue; None without one (every room takes the single hop)."""
    if settings.fanout_queue_url is None:
        return None
    return SecondTier(
        SqsSliceQueue(aws_clients.sqs(), settings.fanout_queue_url),
        settings.fanout_threshold,
        settings.fanout_slice_size,
        settings.fanout_slice_bytes,
        DynamoTierHolds(settings.table_name),
        hold_seconds(settings.fanout_visibility_seconds, settings.fanout_max_receives),
    )


def pacer(settings: StreamSettings) -> Pacer | None:
    """Big rooms' comments into frame windows, flushed through the flush queue (their slices through the
    fan-out queue); None without both."""
    if settings.fanout_queue_url is None or settings.flush_queue_url is None:
        return None
    return Pacer(
        FrameBudget(settings.room_frame_budget, settings.pace_threshold),
        DynamoWindows(settings.table_name),
        SqsFlushQueue(aws_clients.sqs(), settings.flush_queue_url),
    )


def slice_batch(settings: FanoutSettings) -> SliceBatch:
    """The FanoutFunction's edge; its poster (and pool of connections) is kept per warm container."""
    posts = poster(
        settings.websocket_callback_url,
        settings.post_max_attempts,
        settings.fanout_max_workers,
        settings.poster_client,
    )
    connections = store(settings.table_name).connections
    tier = second_tier(settings)
    rest = tier.queue if tier is not None else None  # a slice's (or a flush's) rest goes back on the fan-out queue
    flusher = WindowFlusher(
        DynamoWindows(settings.table_name),
        connections,
        posts,
        settings.frame_limit_bytes,
        settings.fanout_max_workers,
        tier,
        rest,
    )
    renewal = HoldRenewal(tier.holds, tier.hold_seconds) if tier is not None and tier.holds is not None else None
    return SliceBatch(posts, connections, settings.fanout_max_workers, flusher, rest, renewal)


@cache
def _secrets_provider() -> Any:
    return secrets.secrets_provider(aws_clients.secretsmanager())


def signing_secret(settings: AuthorizerSettings) -> str:
    """The HS256 key, cached by the provider for a few minutes across invocations."""
    return secrets.signing_secret(_secrets_provider(), settings.jwt_secret_arn)


@cache
def _signing_keys(secret_arn: str) -> secrets.SigningKeys:
    return secrets.SigningKeys(aws_clients.secretsmanager(), secret_arn)


def signing_secrets(settings: AuthorizerSettings) -> tuple[str, ...]:
    """The current HS256 key and, after a rotation, the previous one; cached a few minutes."""
    return _signing_keys(settings.jwt_secret_arn).keys()


def rotate_signing_key(secret_arn: str, token: str, step: str) -> None:
    """One step of a rotation of the token signing key (adapters/rotation.py)."""
    from roomcast.adapters import rotation

    rotation.rotate(aws_clients.secretsmanager(), secret_arn, token, step)


@cache
def tokens(table_name: str) -> DynamoTokens:
    return DynamoTokens(table_name)


def reset() -> None:
    """Forget every dependency built so far, and the clients under them."""
    for built in (store, poster, command_intake, _secrets_provider, _signing_keys, tokens, review_rules):
        built.cache_clear()
    aws_clients.reset()
