"""Each function's environment, one validated model per function, checked first thing in its handler.

What template.yaml gives a function is required: a missing variable fails the invocation at
once with its name, instead of surfacing later as an empty URL or table name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roomcast.domain.outcomes import OUTCOME_TTL_SECONDS
from roomcast.domain.review import REVIEW_BUDGET_MS
from roomcast.domain.tokens import MAX_TOKEN_LIFETIME_SECONDS


class SettingsError(RuntimeError):
    """The function's environment is incomplete or wrong: a deployment fault, never retried into success."""


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as error:
            problems = []
            for detail in error.errors(include_url=False):
                name = ".".join(str(part) for part in detail["loc"])
                what = "missing" if detail["type"] == "missing" else detail["msg"]
                problems.append(f"{name}: {what}")
            raise SettingsError(f"{cls.__name__}: environment variable {'; '.join(problems)}") from None


class _TableSettings(_Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)


class _PosterSettings(_TableSettings):
    # The @connections endpoint: https://{api}.execute-api.{region}.amazonaws.com/{stage}, or the local gateway.
    websocket_callback_url: str = Field(alias="WEBSOCKET_CALLBACK_URL", min_length=1)
    frame_limit_bytes: int = Field(default=32 * 1024, alias="FRAME_LIMIT_BYTES", ge=1024)
    post_max_attempts: int = Field(default=4, alias="POST_MAX_ATTEMPTS", ge=1, le=10)
    # "lean": SigV4-signed posts on a urllib3 pool (adapters/lean_poster.py, a fraction of the CPU);
    # "botocore": boto3's apigatewaymanagementapi client (adapters/connections_api.py).
    poster_client: Literal["lean", "botocore"] = Field(default="lean", alias="POSTER_CLIENT")


class CommandSettings(_TableSettings):
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", min_length=1)
    # The queue's redrive policy: the delivery that fails for the last time records the dead letter.
    max_receive_count: int = Field(default=5, alias="MAX_RECEIVE_COUNT", ge=1)
    # How long outcomes are kept: past the DLQ's 14 days and a redrive after them.
    outcome_ttl_seconds: int = Field(default=OUTCOME_TTL_SECONDS, alias="OUTCOME_TTL_SECONDS", ge=86_400)
    # The review hook (docs/moderation.md): the function's name or ARN; none configured, a room in
    # failClosed refuses every comment (ReviewUnavailable) and one in failOpen writes it unreviewed.
    review_function: str | None = Field(default=None, alias="REVIEW_FUNCTION", min_length=1)
    review_budget_ms: int = Field(default=REVIEW_BUDGET_MS, alias="REVIEW_BUDGET_MS", ge=10, le=10_000)


class AuthorizerSettings(_TableSettings):
    # Secrets Manager secret with the key that signs connection tokens.
    jwt_secret_arn: str = Field(alias="JWT_SECRET_ARN", min_length=1)
    # The longest lifetime (exp - iat) a token may have; a day at most, whatever is configured.
    token_max_lifetime_seconds: int = Field(
        default=MAX_TOKEN_LIFETIME_SECONDS, alias="TOKEN_MAX_LIFETIME_SECONDS", ge=30, le=86_400
    )
    # Refuse tokens without a jti: every connection then needs a token of its own.
    token_single_use: bool = Field(default=False, alias="TOKEN_SINGLE_USE")


class ConnectSettings(_TableSettings):
    # API Gateway closes a connection after 2 hours; items outlive it a little, then TTL removes them.
    connection_ttl_seconds: int = Field(default=7_500, alias="CONNECTION_TTL_SECONDS", ge=1)
    # One user's open connections: each one more multiplies every comment's posts (docs/websocket.md, quotas).
    connections_per_user: int = Field(default=10, alias="CONNECTIONS_PER_USER", ge=1, le=1000)


class DisconnectSettings(_TableSettings):
    pass


class MessageSettings(_PosterSettings):
    connection_ttl_seconds: int = Field(default=7_500, alias="CONNECTION_TTL_SECONDS", ge=1)
    # Quotas per connection (docs/websocket.md): the stage's own throttle is shared by every client.
    message_rate_per_second: float = Field(default=5.0, alias="MESSAGE_RATE_PER_SECOND", gt=0, le=1000)
    message_burst: int = Field(default=10, alias="MESSAGE_BURST", ge=1, le=10_000)
    message_strikes: int = Field(default=20, alias="MESSAGE_STRIKES", ge=1)
    subscriptions_per_connection: int = Field(default=20, alias="SUBSCRIPTIONS_PER_CONNECTION", ge=1, le=10_000)
    # Comments a subscribe with since replays at most; the rest is read with history, page by page.
    replay_max_comments: int = Field(default=100, alias="REPLAY_MAX_COMMENTS", ge=1, le=10_000)
    # How far before since a resume replays too (at most one page more): a comment can commit after one
    # positioned later. CommandFunction's 30 s timeout bounds its commit, plus 5 s of stream lag across
    # shards (docs/websocket.md, gapless resume); 0 replays strictly after since.
    replay_window_ms: int = Field(default=35_000, alias="REPLAY_WINDOW_MS", ge=0, le=3_600_000)
    # The key that signs history cursors, shared by every container (none: a key of this process).
    cursor_secret_arn: str | None = Field(default=None, alias="CURSOR_SECRET_ARN", min_length=1)


class StreamSettings(_PosterSettings):
    # Posts in flight at once per invocation: bounded, because @connections shares the account's
    # 10,000 requests/s API Gateway quota with every other API.
    fanout_max_workers: int = Field(default=16, alias="FANOUT_MAX_WORKERS", ge=1, le=256)
    # Cleanup of a deleted room hands over to a new invocation when less than this is left.
    cleanup_margin_ms: int = Field(default=20_000, alias="CLEANUP_MARGIN_MS", ge=0)
    # The second fan-out tier (docs/capacity.md): rooms with more live subscribers than the threshold
    # go to the FanoutFunction in slices through this queue; none configured, every room takes one hop.
    fanout_queue_url: str | None = Field(default=None, alias="FANOUT_QUEUE_URL", min_length=1)
    fanout_threshold: int = Field(default=500, alias="FANOUT_THRESHOLD", ge=1)
    fanout_slice_size: int = Field(default=500, alias="FANOUT_SLICE_SIZE", ge=1, le=10_000)
    # One slice's message at most: the queue's MaximumMessageSize (SQS's 256 KiB).
    fanout_slice_bytes: int = Field(default=256 * 1024, alias="FANOUT_SLICE_BYTES", ge=4096, le=256 * 1024)
    # The fan-out queue's VisibilityTimeout and its redrive maxReceiveCount (template.yaml, FanoutQueue): how
    # long a slice may stay unposted, so how long a room stays on the tier after its last slice (tier_hold.py).
    fanout_visibility_seconds: int = Field(default=30, alias="FANOUT_VISIBILITY_SECONDS", ge=0, le=43_200)
    fanout_max_receives: int = Field(default=3, alias="FANOUT_MAX_RECEIVES", ge=1, le=1_000)
    # Paced rooms' window flushes, each delayed to its window's end: a standard queue (the fan-out queue is
    # FIFO, which takes no per-message delay); none configured, never paced.
    flush_queue_url: str | None = Field(default=None, alias="FLUSH_QUEUE_URL", min_length=1)
    # The frame-rate budget per connection (docs/capacity.md): B_room, the posts/s one room may ask of the
    # account's 10,000 requests/s; rooms above the threshold (default B_room / 4) get a frame window of
    # C / B_room seconds, rounded up, flushed through the flush queue (pacing needs FLUSH_QUEUE_URL and
    # FANOUT_QUEUE_URL; without both, never paced).
    room_frame_budget: int = Field(default=8_000, alias="ROOM_FRAME_BUDGET", ge=1, le=1_000_000)
    pace_threshold: int | None = Field(default=None, alias="PACE_THRESHOLD", ge=0)


class FanoutSettings(StreamSettings):
    """The FanoutFunction: one slice or one paced room's window per invocation, its posts on a bounded pool;
    a window of a room big enough by then is handed over in slices, as the StreamFunction does."""


class ReviewSettings(_Settings):
    """The sample review function's word lists, comma-separated, compared case-insensitively."""

    blocked_words: str = Field(default="", alias="BLOCKED_WORDS")
    masked_words: str = Field(default="", alias="MASKED_WORDS")
    # For tests of the budget: a comment with one of these words is answered this late.
    slow_words: str = Field(default="", alias="SLOW_WORDS")
    slow_seconds: float = Field(default=1.0, alias="SLOW_SECONDS", ge=0, le=60)
