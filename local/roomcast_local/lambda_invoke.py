"""Lambda's Invoke API on the local AWS endpoint, for the template's functions: what a function's
boto3 lambda client calls (the CommandFunction's review hook) runs in that function's worker pool.

moto's own Lambda runs functions in Docker containers; the local stack has worker processes already,
so this WSGI middleware answers ``POST /2015-03-31/functions/{name}/invocations`` itself and passes
every other request on to moto. Only RequestResponse invocations are served.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from roomcast_local.workers import FunctionError

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# The function's logical id for a name, an ARN or None: unknown.
Resolve = Callable[[str], str | None]
Invoke = Callable[[str, Any], Any]

_INVOCATIONS = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


class LambdaInvoke:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        # Set by the stack once its functions have names and pools; until then Invoke is moto's.
        self.functions: tuple[Resolve, Invoke] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = _INVOCATIONS.match(environ.get("PATH_INFO", ""))
        if match is None or self.functions is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        resolve, invoke = self.functions
        name = unquote(match.group(1))
        logical = resolve(name)
        if logical is None:
            return _error(start_response, "404 Not Found", "ResourceNotFoundException", f"Function not found: {name}")
        kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if kind != "RequestResponse":
            return _error(start_response, "400 Bad Request", "InvalidParameterValueException", f"{kind}: unsupported")
        try:
            event = json.loads(_body(environ) or b"{}")
        except ValueError:
            return _error(start_response, "400 Bad Request", "InvalidRequestContentException", "payload is not JSON")
        try:
            result = invoke(logical, event)
        except FunctionError as error:
            # As Lambda: a 200 with X-Amz-Function-Error and the error as the payload.
            payload = {"errorMessage": str(error), "errorType": "Unhandled"}
            return _answer(start_response, "200 OK", payload, [("X-Amz-Function-Error", "Unhandled")])
        return _answer(start_response, "200 OK", result, [("X-Amz-Executed-Version", "$LATEST")])


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def _answer(
    start_response: Callable[..., Any], status: str, payload: Any, headers: list[tuple[str, str]]
) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]


def _error(start_response: Callable[..., Any], status: str, code: str, message: str) -> list[bytes]:
    return _answer(start_response, status, {"Type": "User", "message": message}, [("x-amzn-ErrorType", code)])


def resolver(refs: dict[str, str], attrs: dict[tuple[str, str], str], functions: Iterable[str]) -> Resolve:
    """Names and ARNs (with or without a qualifier) of the template's functions, to their logical ids."""
    known: dict[str, str] = {}
    for logical in functions:
        for alias in (logical, refs.get(logical), attrs.get((logical, "Arn"))):
            if alias:
                known[alias] = logical

    def resolve(name: str) -> str | None:
        if name in known:
            return known[name]
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER
        parts = name.split(":")
        return known.get(":".join(parts[:7])) if len(parts) == 8 else None

    return resolve
