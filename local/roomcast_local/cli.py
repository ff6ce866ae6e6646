"""``roomcast``: the command line of a Roomcast stack, the local one (``make run``) or a deployed one (``--stack``).

Each verb is a thin shell over the domain package, so the CLI cannot drift from the system it
talks to: the models of ``roomcast.models`` build and validate what is sent, ``roomcast.auth``
signs tokens, ``roomcast.queries`` reads history, and ``roomcast_local`` runs a function of
``template.yaml`` in this process the way ``sam local invoke`` would, without Docker.

Every failure is one line on stderr, ``roomcast: <why>``, and exit status 1 (2 for usage errors).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import json
import os
import sys
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, cast
from urllib.parse import urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from pydantic import BaseModel, ValidationError
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from roomcast import auth
from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.domain.errors import RoomcastError
from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    CommentsFrame,
    CommentView,
    CreateChatRoom,
    DeleteChatRoom,
    ErrorFrame,
    HistoryRequest,
    JoinChatRoom,
    LeaveChatRoom,
    MemberJoined,
    MemberLeft,
    RoomDeletedFrame,
    SubscribedFrame,
    SubscribeRequest,
    describe,
)
from roomcast.usecases import history as queries
from roomcast.usecases.ports import Store
from roomcast_local import invoke as local_invoke
from roomcast_local import state as local_state
from roomcast_local import template
from roomcast_local.template import Provisioned

NOT_RUNNING = "the local stack is not running: start it with `make run`"
# events/authorizer-*.json carry this instead of a token, which would have expired long ago.
TOKEN_PLACEHOLDER = "REPLACE_WITH_roomcast_token"
# History is read in the largest pages the query allows: fewest round trips (tests make it smaller).
PAGE_SIZE = queries.MAX_PAGE_SIZE
# API Gateway closes a connection that has been idle for 10 minutes; a cheap request every 5 keeps
# a quiet room's watch open (until the 2-hour limit, which nothing extends).
KEEPALIVE_SECONDS = 300.0
KEEPALIVE_REQUEST_ID = "roomcast-keepalive"
# Delivery is at-least-once and duplicates arrive close together: remembering this many comment
# ids dedupes them without a watch left running for days growing without bound.
SEEN_COMMENTS = 10_000


class CliError(Exception):
    """A failure the user can act on: printed as one line, ``roomcast: <message>``."""


# ---- the stack the CLI talks to ---------------------------------------------------------------


@dataclasses.dataclass
class Target:
    """A Roomcast stack: its outputs, and boto3 clients pointed at it.

    The local stack publishes its endpoints and outputs in a state file; a deployed one is read
    from CloudFormation. Everything else in the CLI is the same for both.
    """

    outputs: dict[str, str]
    session: boto3.Session
    aws_endpoint_url: str | None  # the local emulator's; None for AWS itself
    region: str
    state: local_state.LocalState | None = None
    stack_name: str | None = None
    stack_id: str | None = None
    profile: str | None = None

    @classmethod
    def local(cls) -> Target:
        # Read at call time, not when roomcast_local.state was imported, so tests and scripts can
        # point one process at several stacks.
        path = Path(os.environ.get("ROOMCAST_LOCAL_STATE") or local_state.STATE_FILE)
        try:
            state = local_state.load_state(path)
        except (ValueError, TypeError) as error:  # not JSON, or not a state written by this version
            raise CliError(f"{NOT_RUNNING} (its state file {path} is unreadable: {error})") from error
        if state is None:
            raise CliError(NOT_RUNNING)
        # The emulator accepts any credentials; fake ones mean nothing real is ever sent to it and
        # the CLI works on a machine with no AWS configuration at all.
        if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
            session = boto3.Session(region_name=state.region)
        else:
            session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=state.region)
        return cls(
            outputs=dict(state.outputs),
            session=session,
            aws_endpoint_url=state.aws_endpoint_url,
            region=state.region,
            state=state,
        )

    @classmethod
    def deployed(cls, stack_name: str, region: str | None, profile: str | None) -> Target:
        session = boto3.Session(profile_name=profile, region_name=region)
        if session.region_name is None:
            raise CliError("no AWS region: pass --region or configure one for the profile")
        target = cls(outputs={}, session=session, aws_endpoint_url=None, region=session.region_name)
        target.stack_name, target.profile = stack_name, profile
        stack = target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        target.stack_id = stack["StackId"]
        target.outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        return target

    @property
    def is_local(self) -> bool:
        return self.state is not None

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise CliError(f"the stack has no output {key}") from None

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.aws_endpoint_url, config=self._config())

    def store(self) -> Store:
        # The repository speaks plain Python values, as the resource API's client does.
        dynamodb = self.session.resource("dynamodb", endpoint_url=self.aws_endpoint_url, config=self._config())
        return dynamodb_store(self.output("ChatTableName"), dynamodb.meta.client)

    def _config(self) -> Config:
        if self.is_local:
            # A local endpoint that refuses a connection is not running: retrying only delays saying so.
            return Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2)
        return Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5)

    def secret(self) -> str:
        """The key that signs connection tokens (what the authorizer verifies them with)."""
        value = self.client("secretsmanager").get_secret_value(SecretId=self.output("JwtSecretArn"))
        return str(value["SecretString"])

    def token(self, user: str, ttl_seconds: int = auth.DEFAULT_TOKEN_TTL_SECONDS) -> str:
        secret = self.secret()
        try:
            return auth.issue_token(user, secret, ttl_seconds)
        except ValueError as error:  # a user id that cannot be a token's subject, or an empty key
            raise CliError(f"cannot issue a token for {user!r}: {error}") from error

    def provisioned(self) -> Provisioned:
        """What Ref resolves to for each logical id of the template, as function_spec needs it."""
        if self.state is not None:
            return self.state.provisioned()
        assert self.stack_name is not None and self.stack_id is not None
        # arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
        _, partition, _, _, account, _ = self.stack_id.split(":", 5)
        refs = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": account,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        }
        pages = self.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=self.stack_name)
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if "PhysicalResourceId" in resource:
                    refs[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
        return Provisioned(refs=refs)

    def function_environment(self) -> dict[str, str]:
        """What a function run in this process needs on top of the template's variables to reach this stack."""
        environment = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.aws_endpoint_url is not None:
            environment["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
            if not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
                environment |= {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
        if self.profile is not None:
            environment["AWS_PROFILE"] = self.profile
        return environment

    def unreachable(self, url: str, error: BaseException) -> CliError:
        if self.is_local:
            return CliError(f"{NOT_RUNNING} (nothing answers at {url})")
        return CliError(f"cannot reach {url}: {error}")


def target_of(args: argparse.Namespace) -> Target:
    if args.stack is None:
        return Target.local()
    return Target.deployed(args.stack, args.region, args.profile)


# ---- publishing commands ----------------------------------------------------------------------

CommandModel = type[CreateChatRoom] | type[DeleteChatRoom] | type[JoinChatRoom] | type[LeaveChatRoom] | type[AddComment]


def publish(model: CommandModel, args: argparse.Namespace) -> int:
    command_id = str(uuid.uuid4()) if args.command_id is None else args.command_id  # "" is refused, not replaced
    fields = {"roomId": args.room, "userId": args.user, "commandId": command_id}
    if model is AddComment:
        fields["text"] = args.text
    # By the wire names, so an error names the field as docs/commands.md does (roomId, not room_id);
    # and before any I/O, so a bad id or text never reaches the queue (where it would be dead-lettered).
    command = validated(model, fields, "invalid command")
    target = target_of(args)
    target.client("sqs").send_message(
        QueueUrl=target.output("CommandQueueUrl"),
        MessageBody=command.model_dump_json(by_alias=True, exclude_none=True),
    )
    print(command.command_id)
    return 0


def validated[M: BaseModel](model: type[M], fields: Mapping[str, Any], what: str) -> M:
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise CliError(f"{what}: {describe(error)}") from error


# ---- history ----------------------------------------------------------------------------------


def history(args: argparse.Namespace) -> int:
    after, to, wanted = None, None, None
    if args.latest is not None:
        mode: queries.Mode = "latest"
        wanted = args.latest
    elif args.after is not None:
        mode, after = "after", args.after
    elif args.between is not None:
        mode, (after, to) = "between", args.between
    else:
        mode = "all"
    comments = read_history(target_of(args).store(), args.room, mode, after=after, to=to, wanted=wanted)
    if args.json:
        for comment in comments:  # in the query's order: newest first for --latest
            print(comment.model_dump_json(by_alias=True), flush=True)
    elif mode == "latest":
        for comment in reversed(list(comments)):  # people read a conversation oldest first
            print(comment_line(comment, "%Y-%m-%d %H:%M:%S", args.positions))
    else:
        for comment in comments:
            print(comment_line(comment, "%Y-%m-%d %H:%M:%S", args.positions), flush=True)
    return 0


def read_history(
    store: Store,
    room: str,
    mode: queries.Mode,
    *,
    after: str | None = None,
    to: str | None = None,
    wanted: int | None = None,
) -> Iterator[CommentView]:
    """Every comment the query selects (at most ``wanted``), page after page along the cursor."""
    cursor: str | None = None
    while True:
        limit = PAGE_SIZE if wanted is None else min(PAGE_SIZE, wanted)
        page = queries.history(store, room, mode, after=after, to=to, limit=limit, cursor=cursor)
        yield from page.comments
        if wanted is not None:
            wanted -= len(page.comments)
            if wanted <= 0:
                return
        if page.cursor is None:
            return
        cursor = page.cursor


def comment_line(comment: CommentView, time_format: str, positions: bool) -> str:
    """``[19:05:41] alice: hello``: times in UTC, as stored; later lines of a multi-line text indented."""
    try:
        when = datetime.fromisoformat(comment.created_at).astimezone(UTC).strftime(time_format)
    except ValueError:
        when = comment.created_at
    text = "\n    ".join(comment.text.splitlines() or [""])
    line = f"[{when}] {comment.user_id}: {text}"
    return f"{comment.position} {line}" if positions else line


# ---- watch ------------------------------------------------------------------------------------


def watch(args: argparse.Namespace) -> int:
    subscribe = validated(
        SubscribeRequest, {"action": "subscribe", "roomId": args.room, "since": args.since}, "invalid request"
    )
    target = target_of(args)
    url = target.output("WebSocketUrl")
    token = target.token(args.user)
    try:
        # Pings off: the keep-alive request below is what API Gateway counts as activity.
        client = connect(f"{url}?{urlencode({'token': token})}", open_timeout=10, close_timeout=2, ping_interval=None)
    except InvalidStatus as refused:
        status = refused.response.status_code
        if status in (401, 403):
            raise CliError(f"connection refused ({status}): the token was not accepted") from refused
        raise CliError(f"connection refused ({status}) by {url}") from refused
    except (OSError, TimeoutError) as error:  # refused, unreachable, no such host, no handshake in time
        raise target.unreachable(url, error) from error
    except WebSocketException as error:  # a malformed URL, a server that does not speak WebSocket
        raise CliError(f"cannot open a WebSocket to {url}: {error}") from error
    with client:
        follower = Watch(args.room, args.user, as_json=args.json, positions=args.positions)
        return follower.follow(client, subscribe.model_dump_json(by_alias=True, exclude_none=True), args.keepalive)


class Watch:
    """Prints one room's frames as they arrive; says when the watch is over and with which status."""

    def __init__(self, room: str, user: str, *, as_json: bool, positions: bool) -> None:
        self.room, self.user, self.as_json, self.positions = room, user, as_json, positions
        self.subscribed = False
        self.last_position: str | None = None
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()

    def follow(self, client: ClientConnection, subscribe: str, keepalive: float) -> int:
        keepalive_request = HistoryRequest(
            action="history", room_id=self.room, mode="latest", limit=1, request_id=KEEPALIVE_REQUEST_ID
        ).model_dump_json(by_alias=True, exclude_none=True)
        try:
            client.send(subscribe)
            # Counted from the last message sent, not received: frames pushed to a busy room do not
            # necessarily count as the client's activity.
            sent_at = time.monotonic()
            while True:
                wait = sent_at + keepalive - time.monotonic() if keepalive else None
                try:
                    raw = client.recv(timeout=max(0.0, wait) if wait is not None else None)
                except TimeoutError:
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
        try:
            frame = FRAME_ADAPTER.validate_json(raw)
        except ValidationError:
            return self.unknown(raw)
        if getattr(frame, "request_id", None) == KEEPALIVE_REQUEST_ID:
            return None  # the answer to our own keep-alive: nothing the user asked to see
        if self.as_json:
            say(raw)
        match frame:
            case CommentsFrame():
                for comment in frame.comments:
                    self.comment(comment)
            case MemberJoined():
                self.show(f"* {frame.user_id} joined {frame.room_id}")
            case MemberLeft():
                self.show(f"* {frame.user_id} left {frame.room_id}")
                if frame.user_id == self.user:
                    # The server has removed every subscription of this user to the room: nothing more comes.
                    self.note(f"{self.user} is no longer a member of {frame.room_id}")
                    return 0
            case RoomDeletedFrame():
                self.show(f"* room {frame.room_id} was deleted")
                return 0
            case SubscribedFrame():
                self.subscribed = True
                more = "; more were missed: see `roomcast history`" if frame.cursor else ""
                self.note(f"watching {frame.room_id} as {self.user} (replayed {frame.replayed}{more})")
            case ErrorFrame():
                # Only the subscribe can be refused (the keep-alive's answers are skipped above).
                print(f"error {frame.code}: {frame.message}", file=sys.stderr, flush=True)
                return 1
        return None  # unsubscribed and history frames answer requests this client does not make

    def comment(self, comment: CommentView) -> None:
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
            print(f"error: {data['message']}", file=sys.stderr, flush=True)
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
        print(line, file=sys.stderr, flush=True)


def say(line: str) -> None:
    print(line, flush=True)  # flushed line by line: a watch's output is read as it comes, often through a pipe


# ---- token and invoke -------------------------------------------------------------------------


def token(args: argparse.Namespace) -> int:
    print(target_of(args).token(args.user, args.ttl))
    return 0


class _CurrentStderr(io.TextIOBase):
    """Whatever sys.stderr is at each write.

    Powertools' Logger keeps the stream it finds when the function's module is imported; handing it
    this rather than sys.stderr itself keeps its logs on stderr when sys.stderr is swapped later
    (another invocation in the same process, a test's capture)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def invoke(args: argparse.Namespace) -> int:
    functions = template.functions()
    if args.function not in functions:
        raise CliError(f"unknown function {args.function!r}; template.yaml has {', '.join(functions)}")
    event_text = read_event(args.event)
    target = target_of(args)
    if TOKEN_PLACEHOLDER in event_text:
        event_text = event_text.replace(TOKEN_PLACEHOLDER, target.token(args.user))
    try:
        event = json.loads(event_text)
    except ValueError as error:
        raise CliError(f"{args.event} is not JSON: {error}") from error
    try:
        spec = template.function_spec(args.function, target.provisioned())
    except KeyError as error:
        raise CliError(f"{args.function} needs {error} which this stack does not have") from error
    spec = dataclasses.replace(spec, environment={**spec.environment, **target.function_environment()})
    # stdout carries the response alone: everything the function prints (Powertools logs and
    # metrics) goes to stderr. The module is imported inside, so its Logger picks that stream up.
    failure: dict[str, str] | None = None
    with contextlib.redirect_stdout(cast(TextIO, _CurrentStderr())):
        try:
            response = local_invoke.invoke(spec, event)
        except Exception as error:  # noqa: BLE001 - the function's failure, reported as Lambda reports it
            traceback.print_exc()  # the function's own log, as Lambda would write it
            failure = {"errorType": type(error).__name__, "errorMessage": str(error)}
    if failure is not None:
        print(json.dumps(failure))
        raise CliError(f"{args.function} failed: {failure['errorType']}: {failure['errorMessage']}")
    print(json.dumps(response, default=str))
    return 0


def read_event(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    path = Path(name)
    # events/... works from anywhere, not only from the project's root.
    if not path.exists() and not path.is_absolute() and (template.ROOT / path).exists():
        path = template.ROOT / path
    try:
        return path.read_text()
    except OSError as error:
        raise CliError(f"cannot read the event {name}: {error.strerror or error}") from error


# ---- the command line -------------------------------------------------------------------------

PUBLISHERS: dict[str, tuple[CommandModel, str]] = {
    "create-room": (CreateChatRoom, "create a room (U becomes its creator and first member)"),
    "delete-room": (DeleteChatRoom, "delete a room (only its creator may)"),
    "join": (JoinChatRoom, "join a room"),
    "leave": (LeaveChatRoom, "leave a room"),
    "comment": (AddComment, "say TEXT in a room (U must be a member)"),
}


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _stack_options(parser: argparse.ArgumentParser, default: Any) -> None:
    group = parser.add_argument_group("stack (default: the local stack of `make run`)")
    group.add_argument("--stack", metavar="NAME", default=default, help="a deployed stack, by its CloudFormation name")
    group.add_argument("--region", metavar="R", default=default, help="its region (with --stack)")
    group.add_argument("--profile", metavar="P", default=default, help="the AWS profile to use (with --stack)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roomcast",
        description="Talk to a Roomcast stack: publish commands, watch a room live, read its history, "
        "issue tokens, run a function of template.yaml locally.",
        epilog="Without --stack, the local stack of `make run` is used (its state file: $ROOMCAST_LOCAL_STATE, "
        "or .roomcast/local-stack.json).",
    )
    _stack_options(parser, None)
    # The same options after the verb too; SUPPRESS there, so a value given before the verb is kept.
    stack = argparse.ArgumentParser(add_help=False)
    _stack_options(stack, argparse.SUPPRESS)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, run: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, parents=[stack], help=help_text, description=help_text)
        sub.set_defaults(run=run)
        return sub

    for name, (model, help_text) in PUBLISHERS.items():
        sub = verb(name, functools.partial(publish, model), f"{help_text}; prints the commandId")
        sub.add_argument("room", metavar="ROOM")
        if model is AddComment:
            sub.add_argument("text", metavar="TEXT")
        sub.add_argument("--user", required=True, metavar="U", help="who acts")
        sub.add_argument("--command-id", metavar="ID", help="the command's id (default: a new UUID)")

    sub = verb("watch", watch, "print a room's comments and presence as they happen, until Ctrl-C")
    sub.add_argument("room", metavar="ROOM")
    sub.add_argument("--user", required=True, metavar="U", help="who watches (must be a member)")
    sub.add_argument("--since", metavar="POSITION", help="first replay the comments after this position")
    sub.add_argument("--json", action="store_true", help="print every frame as received, one per line")
    sub.add_argument("--positions", action="store_true", help="start each comment line with its position")
    sub.add_argument(
        "--keepalive",
        type=seconds,
        default=KEEPALIVE_SECONDS,
        metavar="SECONDS",
        help=f"send a small request after this long without one, so API Gateway's 10-minute idle timeout "
        f"does not close a quiet watch (default {KEEPALIVE_SECONDS:g}; 0: never)",
    )

    sub = verb("history", history, "print a room's comments (all of them unless told otherwise)")
    sub.add_argument("room", metavar="ROOM")
    modes = sub.add_mutually_exclusive_group()
    modes.add_argument("--latest", type=positive_int, metavar="N", help="the N newest comments")
    modes.add_argument("--all", action="store_true", help="every comment (the default)")
    modes.add_argument("--after", metavar="P", help="the comments after position P")
    modes.add_argument(
        "--between", nargs=2, metavar=("P", "Q"), help="the comments from position P to Q, both included"
    )
    sub.add_argument(
        "--json", action="store_true", help="one JSON object per comment, in the query's order (--latest: newest first)"
    )
    sub.add_argument("--positions", action="store_true", help="start each line with the comment's position")

    sub = verb("token", token, "print a connection token for a user, signed with the stack's secret")
    sub.add_argument("user", metavar="U")
    sub.add_argument(
        "--ttl", type=positive_int, default=auth.DEFAULT_TOKEN_TTL_SECONDS, metavar="SECONDS", help="lifetime"
    )

    sub = verb("invoke", invoke, "run a function of template.yaml on an event, in this process (no Docker)")
    sub.add_argument("function", metavar="FUNCTION", help="its logical id: " + ", ".join(template.functions()))
    sub.add_argument("-e", "--event", required=True, metavar="FILE", help="the event (JSON; - reads stdin)")
    sub.add_argument(
        "--user", default="bob", metavar="U", help=f"whose token replaces {TOKEN_PLACEHOLDER} in the event"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already explained
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.stack is None and (args.region is not None or args.profile is not None):
        print("roomcast: --region and --profile go with --stack (the local stack has its own)", file=sys.stderr)
        return 2
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        if args.verb == "watch":
            return 0  # Ctrl-C is how a watch ends
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:  # noqa: BLE001 - every failure becomes one line, never a traceback
        # Collapsed to one line: scripts read the last line of stderr, and tracebacks stay out of it.
        print(f"roomcast: {' '.join(explain(error, args).split())}", file=sys.stderr)
        if os.environ.get("ROOMCAST_DEBUG"):
            traceback.print_exc()
        return 1


def explain(error: Exception, args: argparse.Namespace) -> str:
    """What went wrong, in the user's terms."""
    if isinstance(error, CliError):
        return str(error)
    # Looked for behind the error too: the repository turns it into a TransientError.
    unreachable = _cause(error, EndpointConnectionError)
    if unreachable is not None:
        url = unreachable.kwargs.get("endpoint_url", "?")
        return f"{NOT_RUNNING} (nothing answers at {url})" if args.stack is None else str(unreachable)
    if isinstance(error, RoomcastError):
        return f"{error.code}: {error.message}"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', error)}"
    if isinstance(error, BotoCoreError):
        return f"{type(error).__name__}: {error}"
    return f"unexpected {type(error).__name__}: {error} (ROOMCAST_DEBUG=1 shows the traceback)"


def _cause[E: BaseException](error: BaseException | None, kind: type[E]) -> E | None:
    """``error`` or what it was raised from (the repository wraps botocore errors in domain ones)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


if __name__ == "__main__":
    sys.exit(main())
