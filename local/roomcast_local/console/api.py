"""The console's JSON API and its page, on the WebSocket gateway's port under /console.

The browser never holds AWS credentials: every read and write of the stack goes through here, with
the same code the `roomcast` CLI uses (roomcast_cli.target.Target, roomcast_cli.publish.send) and
the domain's own models. Blocking calls run on threads, never on the gateway's event loop.
"""

from __future__ import annotations

import asyncio
import threading
import typing
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from roomcast_local.console import queues
from roomcast_local.console.logs import LogRing

STATIC = Path(__file__).parent / "static"
# The console remembers which SQS message carried each command it sent, for the log lookup.
_REMEMBERED = 1_000

_PREFIX = web.AppKey("prefix", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConsoleError(Exception):
    """A request the console refuses: answered with its status and a one-line error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def command_types() -> list[dict[str, Any]]:
    """Every command type the domain accepts, with its fields, read from the models' JSON schema: a
    command added to roomcast.models (moderation, say) appears in the console's form unchanged."""
    from roomcast.models import COMMAND_ADAPTER

    schema = COMMAND_ADAPTER.json_schema(by_alias=True)
    found = []
    for name, ref in schema["discriminator"]["mapping"].items():
        model = schema["$defs"][ref.rsplit("/", 1)[-1]]
        required = set(model.get("required", []))
        fields = [
            {"name": field, "required": field in required, "maxLength": spec.get("maxLength")}
            for field, spec in model["properties"].items()
            if field not in {"type", "commandId"}
        ]
        found.append({"type": name, "fields": fields})
    return found


def command_models() -> dict[str, type[Any]]:
    """Each command model of the domain, by its ``type``."""
    from roomcast.models import Command

    union, *_ = typing.get_args(Command)  # Annotated[A | B | ..., Field(discriminator="type")]
    return {model.model_fields["type"].default: model for model in typing.get_args(union)}


def validated_command(fields: dict[str, Any]) -> Any:
    """The command, or a 400 in the words the CLI uses for the same fields (common.validated): checked
    by the model its ``type`` names, so an error names the field (``text: ...``) and not the union's
    branch (``addComment.text: ...``). The CLI publishes through here (roomcast_cli/via_console.py)."""
    from roomcast.models import command_from_data, describe
    from roomcast_cli.common import CliError, validated

    kind = fields.get("type")
    model = command_models().get(kind) if isinstance(kind, str) else None
    try:
        return command_from_data(fields) if model is None else validated(model, fields, "invalid command")
    except ValidationError as error:  # no type, or none the domain has
        raise ConsoleError(400, f"invalid command: {describe(error)}") from None
    except CliError as error:
        raise ConsoleError(400, str(error)) from None


class Console:
    def __init__(self, state_path: Path, logs: LogRing, stage: str) -> None:
        self.state_path = state_path
        self.logs = logs
        self.stage = stage
        self._target: Any = None
        self._store: Any = None  # built once: the page asks for outcomes twice a second per command
        self._sqs: Any = None
        self._message_ids: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()  # routes run on several threads at once

    def target(self) -> Any:
        """The stack as the CLI sees it; read from its state file on first use (written once ready)."""
        if self._target is None:
            from roomcast_cli.target import Target

            self._target = Target.local(self.state_path)
        return self._target

    def store(self) -> Any:
        if self._store is None:
            self._store = self.target().store()
        return self._store

    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = self.target().client("sqs")
        return self._sqs

    # ---- what each route does (blocking: called on a thread) ---------------------------------

    def publish(self, body: dict[str, Any]) -> dict[str, str]:
        from roomcast_cli.publish import send

        fields = {k: v for k, v in body.items() if v not in (None, "")}
        fields.setdefault("commandId", str(uuid.uuid4()))
        command = validated_command(fields)
        message_id = send(self.target(), command)
        assert command.command_id is not None
        with self._lock:
            self._message_ids[command.command_id] = message_id
            while len(self._message_ids) > _REMEMBERED:
                self._message_ids.popitem(last=False)
        return {"commandId": command.command_id, "messageId": message_id}

    def outcome(self, command_id: str) -> dict[str, Any]:
        """The outcome recorded for a commandId sent by the local stack's producers, or for a messageId."""
        from roomcast.domain.outcomes import outcome_key

        ledger = self.store().ledger
        found = ledger.recorded(outcome_key(self.producer(), command_id, "")) or ledger.recorded(
            outcome_key("", None, command_id)
        )
        if found is None:
            # Not an error for the page, which asks until there is one (and a 404 is a console error).
            return {"commandId": command_id, "status": "pending", "summary": "no outcome recorded yet"}
        outcome = found[0]
        return {**outcome.model_dump(mode="json", by_alias=True, exclude_none=True), "summary": outcome.summary()}

    def producer(self) -> str:
        """Whose commands these are: the id the stack's SQS gives every sender. moto gives all the
        same one; a state file that names it (a later version may) wins."""
        from moto.sqs.models import DEFAULT_SENDER_ID

        from roomcast.domain.outcomes import producer_of

        state = self.target().state or {}
        return str(state.get("producer") or producer_of(DEFAULT_SENDER_ID))

    def token(self, user_id: str) -> dict[str, str]:
        from roomcast_cli.common import CliError

        try:
            return {"token": self.target().token(user_id), "userId": user_id}
        except CliError as error:
            raise ConsoleError(400, str(error)) from None

    def queue(self, output: str) -> list[dict[str, Any]]:
        return queues.peek(self.sqs(), self.target().output(output))

    def redrive(self, message_id: str) -> dict[str, str]:
        target = self.target()
        try:
            sent = queues.redrive(
                self.sqs(), target.output("CommandDeadLetterQueueUrl"), target.output("CommandQueueUrl"), message_id
            )
        except queues.NotFound as error:
            raise ConsoleError(404, str(error)) from None
        return {"redriven": message_id, "messageId": sent}

    def log_lines(self, command_id: str) -> list[dict[str, Any]]:
        """Lines naming the command: its id (applied, rejected) or its SQS message (dead-lettered, retried)."""
        with self._lock:
            needles = {command_id, self._message_ids.get(command_id, "")}
        # Before an outcome is recorded, the id and the message sent are all there is to look for.
        needles.add(self.outcome(command_id).get("messageId", ""))
        return [{"at": line.at, "source": line.source, "line": line.line} for line in self.logs.matching(needles)]

    # ---- the application -------------------------------------------------------------------

    def app(self, prefix: str = "/console") -> web.Application:
        app = web.Application(middlewares=[_errors])
        app[_PREFIX] = prefix
        app.router.add_get("/", _page, allow_head=False)
        app.router.add_static("/static", STATIC)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/api/config", self._config),
            ("POST", "/api/commands", self._publish),
            ("GET", "/api/outcomes/{id}", self._outcome),
            ("POST", "/api/tokens", self._token),
            ("GET", "/api/dlq", self._dlq),
            ("POST", "/api/dlq/{id}/redrive", self._redrive),
            ("GET", "/api/stream-failures", self._stream_failures),
            ("GET", "/api/logs", self._logs),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    async def _config(self, _request: web.Request) -> web.Response:
        return web.json_response({"stage": self.stage, "commandTypes": await asyncio.to_thread(command_types)})

    async def _publish(self, request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self.publish, await _json(request)), status=202)

    async def _outcome(self, request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self.outcome, request.match_info["id"]))

    async def _token(self, request: web.Request) -> web.Response:
        user = (await _json(request)).get("userId")
        if not isinstance(user, str) or not user:
            raise ConsoleError(400, "userId is required")
        return web.json_response(await asyncio.to_thread(self.token, user))

    async def _dlq(self, _request: web.Request) -> web.Response:
        messages = await asyncio.to_thread(self.queue, "CommandDeadLetterQueueUrl")
        return web.json_response({"messages": messages})

    async def _redrive(self, request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self.redrive, request.match_info["id"]))

    async def _stream_failures(self, _request: web.Request) -> web.Response:
        messages = await asyncio.to_thread(self.queue, "StreamFailureQueueUrl")
        return web.json_response({"messages": messages})

    async def _logs(self, request: web.Request) -> web.Response:
        command_id = request.query.get("commandId", "")
        if not command_id:
            raise ConsoleError(400, "commandId is required")
        return web.json_response({"lines": await asyncio.to_thread(self.log_lines, command_id)})


async def _page(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ConsoleError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ConsoleError(400, "the body must be a JSON object")
    return body


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal and failure as {"error": one line}, never a traceback page."""
    if request.path == request.app[_PREFIX]:  # /console: the page is /console/, its links are relative
        raise web.HTTPFound(f"{request.path}/")
    try:
        return await handler(request)
    except ConsoleError as error:
        return web.json_response({"error": str(error)}, status=error.status)
    except web.HTTPException:
        raise
    except Exception as error:  # noqa: BLE001 - the stack answered badly: say what, keep serving
        return web.json_response({"error": f"{type(error).__name__}: {error}".splitlines()[0]}, status=502)
