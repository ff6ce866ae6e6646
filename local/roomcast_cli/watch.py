"""``roomcast watch``: one room's comments and presence, live over the stack's WebSocket API."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import click

from roomcast_cli.common import CliError, Command, printable, seconds, stack_options, validated
from roomcast_cli.history import comment_line
from roomcast_cli.target import Choice, Target

if TYPE_CHECKING:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import ClientConnection

    from roomcast.models import FeedEntry

# API Gateway closes a connection that has been idle for 10 minutes; a cheap request every 5 keeps
# a quiet room's watch open (until the 2-hour limit, which nothing extends).
KEEPALIVE_SECONDS = 300.0
KEEPALIVE_REQUEST_ID = "roomcast-keepalive"
# Delivery is at-least-once and duplicates arrive close together: remembering this many comment
# ids dedupes them without a watch left running for days growing without bound.
SEEN_COMMENTS = 10_000
# The longest one wait for a frame lasts. Ctrl-C may be handed to the WebSocket's reader thread, and
# then only interrupts the main thread's wait when it ends: a wait as long as the keep-alive's kept a
# watch running for minutes after Ctrl-C.
WAKE_SECONDS = 0.5


@click.command("watch", cls=Command, help="print a room's comments and presence as they happen, until Ctrl-C")
@click.argument("room", metavar="ROOM")
@click.option("--user", required=True, metavar="U", help="who watches (must be a member)")
@click.option("--since", metavar="POSITION", help="first replay the comments after this position")
@click.option("--json", "as_json", is_flag=True, help="print every frame as received, one per line")
@click.option("--positions", is_flag=True, help="start each comment line with its position")
@click.option(
    "--keepalive",
    type=seconds(),
    default=KEEPALIVE_SECONDS,
    metavar="SECONDS",
    help=f"send a small request after this long without one, so API Gateway's 10-minute idle timeout "
    f"does not close a quiet watch (default {KEEPALIVE_SECONDS:g}; 0: never)",
)
@stack_options
@click.pass_context
def watch(
    ctx: click.Context,
    room: str,
    user: str,
    since: str | None,
    as_json: bool,
    positions: bool,
    keepalive: float,
    **stack: Any,
) -> int:
    choice = Choice.of(ctx, **stack)
    from roomcast.models import SubscribeRequest

    subscribe = validated(SubscribeRequest, {"action": "subscribe", "roomId": room, "since": since}, "invalid request")
    target = Target.of(choice)
    client = connect(target, target.output("WebSocketUrl"), target.token(user))
    with client:
        follower = Watch(room, user, as_json=as_json, positions=positions)
        return follower.follow(client, subscribe.model_dump_json(by_alias=True, exclude_none=True), keepalive)


def connect(target: Target, url: str, token: str) -> ClientConnection:
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    try:
        # Pings off: the keep-alive request is what API Gateway counts as activity.
        return connect(f"{url}?{urlencode({'token': token})}", open_timeout=10, close_timeout=2, ping_interval=None)
    except InvalidStatus as refused:
        status = refused.response.status_code
        if status in (401, 403):
            raise CliError(f"connection refused ({status}): the token was not accepted") from refused
        raise CliError(f"connection refused ({status}) by {url}") from refused
    except (OSError, TimeoutError) as error:  # refused, unreachable, no such host, no handshake in time
        raise target.unreachable(url, error) from error
    except WebSocketException as error:  # a malformed URL, a server that does not speak WebSocket
        raise CliError(f"cannot open a WebSocket to {url}: {error}") from error


class Watch:
    """Prints one room's frames as they arrive; says when the watch is over and with which status."""

    def __init__(self, room: str, user: str, *, as_json: bool, positions: bool) -> None:
        self.room, self.user, self.as_json, self.positions = room, user, as_json, positions
        self.subscribed = False
        self.last_position: str | None = None
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()

    def follow(self, client: ClientConnection, subscribe: str, keepalive: float) -> int:
        from websockets.exceptions import ConnectionClosed

        from roomcast.models import HistoryRequest

        keepalive_request = HistoryRequest(
            action="history", room_id=self.room, mode="latest", limit=1, request_id=KEEPALIVE_REQUEST_ID
        ).model_dump_json(by_alias=True, exclude_none=True)
        try:
            client.send(subscribe)
            # Counted from the last message sent, not received: frames pushed to a busy room do not
            # necessarily count as the client's activity.
            sent_at = time.monotonic()
            while True:
                wait = sent_at + keepalive - time.monotonic() if keepalive else WAKE_SECONDS
                try:
                    raw = client.recv(timeout=min(max(0.0, wait), WAKE_SECONDS))
                except TimeoutError:
                    if keepalive and time.monotonic() >= sent_at + keepalive:
                        client.send(keepalive_request)
                        sent_at = time.monotonic()
                    continue
                status = self.frame(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"))
                if status is not None:
                    return status
        except ConnectionClosed as closed:  # also before the subscribe went out
            return self.closed(closed)

    def frame(self, raw: str) -> int | None:
        """Show one frame; the exit status when it ends the watch, None otherwise."""
        from pydantic import ValidationError

        from roomcast import models

        try:
            frame = models.FRAME_ADAPTER.validate_json(raw)
        except ValidationError:
            return self.unknown(raw)
        if getattr(frame, "request_id", None) == KEEPALIVE_REQUEST_ID:
            return None  # the answer to our own keep-alive: nothing the user asked to see
        if self.as_json:
            say(raw)
        match frame:
            case models.CommentsFrame():
                for comment in frame.comments:
                    self.comment(comment)
            case models.MemberJoined():
                self.show(f"* {frame.user_id} joined {frame.room_id}")
            case models.MemberLeft():
                self.show(f"* {frame.user_id} left {frame.room_id}")
                if frame.user_id == self.user:
                    # The server has removed every subscription of this user to the room: nothing more comes.
                    self.note(f"{self.user} is no longer a member of {frame.room_id}")
                    return 0
            case models.RoomDeletedFrame():
                self.show(f"* room {frame.room_id} was deleted")
                return 0
            case models.CommentDeletedFrame():
                self.show(f"* comment {frame.comment_id} was deleted")
            case models.BannedFrame():
                until = f" until {frame.until}" if frame.until else ""
                reason = f": {frame.reason}" if frame.reason else ""
                self.show(f"* {frame.user_id} was banned from {frame.room_id}{until}{reason}")
                # The server has removed this user's subscriptions to the room: nothing more comes.
                return 0
            case models.SubscribedFrame():
                self.subscribed = True
                more = "; more were missed: see `roomcast history`" if frame.cursor else ""
                self.note(f"watching {frame.room_id} as {self.user} (replayed {frame.replayed}{more})")
            case models.ErrorFrame():
                # Only the subscribe can be refused (the keep-alive's answers are skipped above).
                self.note(f"error {frame.code}: {frame.message}")
                return 1
        return None  # unsubscribed and history frames answer requests this client does not make

    def comment(self, comment: FeedEntry) -> None:
        if comment.comment_id in self._seen:
            return  # at-least-once delivery: the same comment again
        self._seen.add(comment.comment_id)
        self._seen_order.append(comment.comment_id)
        if len(self._seen_order) > SEEN_COMMENTS:
            self._seen.discard(self._seen_order.popleft())
        self.last_position = comment.position
        self.show(comment_line(comment, "%H:%M:%S", self.positions))

    def unknown(self, raw: str) -> int | None:
        if self.as_json:
            say(raw)
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict) and "message" in data and "type" not in data:
            # API Gateway's own answer when a route's function failed ("Internal server error").
            self.note(f"error: {data['message']}")
            return None if self.subscribed else 1  # before `subscribed`, it was the subscribe that failed
        if not self.as_json:
            self.note(f"ignored a frame this version does not know: {raw[:200]}")
        return None

    def closed(self, closed: ConnectionClosed) -> int:
        if closed.rcvd is None:
            self.note(f"roomcast: the connection was lost{self.resume()}")
            return 1
        why = f"{closed.rcvd.code} {closed.rcvd.reason}".strip()
        if closed.rcvd.code == 1000:
            self.note(f"roomcast: the server closed the connection ({why})")
            return 0
        # 1001 "Going away" is API Gateway's idle timeout or 2-hour limit: worth a reconnect.
        self.note(f"roomcast: the server closed the connection ({why}){self.resume()}")
        return 1

    def resume(self) -> str:
        return f"; resume with --since {self.last_position}" if self.last_position else ""

    def show(self, line: str) -> None:
        if not self.as_json:
            say(line)

    def note(self, line: str) -> None:
        # stderr, so that stdout carries only the room's lines (or, with --json, only frames).
        print(printable(line), file=sys.stderr, flush=True)


def say(line: str) -> None:
    print(
        printable(line), flush=True
    )  # flushed line by line: a watch's output is read as it comes, often through a pipe
