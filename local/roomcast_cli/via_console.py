"""Publishing to the local stack through its console's API: a publish without pydantic or botocore.

Validating a command with the domain's models (pydantic) and signing its SendMessage (botocore) were
most of what a publishing verb spent before its first byte left (docs/local.md, "Start-up"). The
running local stack does both already, warm: ``POST /console/api/commands`` on the gateway's port
validates the command with the same models, answers 202 ``{"commandId", "messageId"}`` once it is on
the command queue, or 400 ``{"error": "invalid command: ..."}`` without sending, worded by
common.validated as the CLI words it. So a publish to the local stack sends its command there as JSON
over ``http.client``, and ``--wait`` reads ``GET /console/api/outcomes/{commandId}``: click, json and
http.client are all it imports, and no business rule is copied here.

Anything else (no state file, nothing listening, a gateway without the console, a 5xx, an answer
that is not the API's) returns None before anything is printed, and the caller takes the path it
always took (the model, then lean_sqs, then botocore's client), whose errors read as they always did.
A command the console may have sent before its answer was lost is sent again with the same commandId:
the FIFO queue drops the copy, and the outcome record answers a later one (lean_sqs.py).
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import click

from roomcast_cli.common import CliError
from roomcast_cli.target import Target

CONNECT_TIMEOUT = 2.0  # a local gateway that does not accept at once is not running
READ_TIMEOUT = 60.0  # as lean_sqs: the stack may be busy applying earlier commands
COMMANDS = "/console/api/commands"
OUTCOMES = "/console/api/outcomes/"
INVALID = "invalid command: "
RECORDED = frozenset({"applied", "rejected", "deadLettered"})


def wire_type(model_name: str) -> str:
    """The command's ``type`` on the wire, from its model's name (AddComment -> addComment); a unit
    test holds every command model to it."""
    return model_name[:1].lower() + model_name[1:]


def publish(model_name: str, fields: dict[str, Any], wait: float | None) -> int | None:
    """The exit code of publishing the command through the console, or None when it was not published
    that way (nothing printed then). A refusal raises CliError with the console's one line."""
    if any(value == "" or value is None for value in fields.values()):
        # The console drops empty fields (its form's blanks); the model refuses them, so these take
        # the way that says so in the model's words.
        return None
    console = Console.local(needs_producer=wait is not None)
    if console is None:
        return None
    command_id = console.send({"type": wire_type(model_name), **fields})
    if command_id is None:
        return None
    if wait is None:
        click.echo(command_id)
        return 0
    return console.wait(command_id, wait)


@dataclass(frozen=True)
class Console:
    """The local stack's console API: its gateway's base URL (the state file's callback_url)."""

    url: str

    @classmethod
    def local(cls, needs_producer: bool) -> Console | None:
        """The console of the local stack the state file describes; None when it names none, or (for
        --wait) no producer, which the usual path then reports."""
        try:
            state = Target.local().state or {}
        except CliError:
            return None
        url, producer = state.get("callback_url"), state.get("producer")
        if not isinstance(url, str) or urlsplit(url).scheme != "http" or not urlsplit(url).netloc:
            return None
        if needs_producer and not (isinstance(producer, str) and producer):
            return None
        return cls(url.rstrip("/"))

    def send(self, command: dict[str, Any]) -> str | None:
        """The commandId once the console has put the command on the queue; None for any answer but
        the API's success or its refusal."""
        answer = self._call("POST", COMMANDS, command)
        if answer is None:
            return None
        status, body = answer
        if status == 400 and isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, str) and error.startswith(INVALID):
                raise CliError(error)
        if status == 202 and isinstance(body, dict) and isinstance(body.get("messageId"), str):
            sent = body.get("commandId")
            return sent if sent == command["commandId"] else None
        return None

    def wait(self, command_id: str, timeout: float) -> int:
        """outcome.wait's poll, through the console; what it prints and the exit codes are the same."""
        from roomcast_cli import outcome

        began = time.monotonic()
        while True:
            found = self._outcome(command_id)
            if found is None:  # the console stopped answering as its API does: read it as before
                return outcome.wait(Target.local(), command_id, timeout, began=began)
            if found:
                status, summary = found
                click.echo(f"{command_id} {summary}")
                return outcome.exit_code(status)
            if time.monotonic() >= began + timeout:
                click.echo(f"{command_id} pending: no outcome recorded after {timeout:g} s", err=True)
                return outcome.PENDING
            time.sleep(outcome.POLL_SECONDS)

    def _outcome(self, command_id: str) -> tuple[str, str] | tuple[()] | None:
        """(status, summary) once recorded, () while pending, None for an answer that is not the API's
        (an outcome found by a messageId that equals this commandId included: the CLI reads by commandId)."""
        answer = self._call("GET", OUTCOMES + quote(command_id, safe=""))
        if answer is None or answer[0] != 200 or not isinstance(answer[1], dict):
            return None
        body = answer[1]
        status, summary = body.get("status"), body.get("summary")
        if body.get("commandId") != command_id or not isinstance(summary, str):
            return None
        if status == "pending":
            return ()
        return (status, summary) if status in RECORDED else None

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any] | None:
        """The answer's status and decoded JSON; None when there was none, or it was not JSON."""
        connection = http.client.HTTPConnection(urlsplit(self.url).netloc, timeout=CONNECT_TIMEOUT)
        data = None if body is None else json.dumps(body).encode()
        headers = {} if data is None else {"Content-Type": "application/json"}
        try:
            connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(READ_TIMEOUT)
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            connection.close()
