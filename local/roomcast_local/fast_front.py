"""The local AWS endpoint's hot JSON operations answered by moto's handlers without Flask (moto 5.2.5).

Every request to moto's server goes through its domain dispatcher, a Flask app per service with
flask-cors, and moto's ``convert_to_flask_response``, before the service's response class runs:
about a quarter of the CPU of a GetItem (0.7 ms on this machine) is that framing, and
``BaseResponse.call_action`` lists the response class's methods with ``inspect.getmembers`` on
every request, another sixth. The local stack makes some 18 such requests per comment (the
command's three, the StreamFunction's eight subscriber-shard Queries, the pollers' receives,
deletes and GetRecords).

Here a request signed with SigV4, posted to ``/`` with an ``X-Amz-Target`` of DynamoDB, DynamoDB
Streams or SQS's JSON protocol, is handed straight to that service's response class, as the Flask
view would hand it: the same ``dispatch(request, raw_url, headers)`` call on a moto ``Request``
built from the same WSGI environ, a ``ClientError`` turned into the same 400, the answer built by
the same werkzeug ``Response`` class Flask's derives from, and the request recorded for moto's
recorder as before, and flask-cors's one header added. Everything else (other services, the
moto-api, Lambda's Invoke, unsigned or odd requests, a browser's with an ``Origin``) goes to moto's
dispatcher unchanged. The method list is computed once per class.

``wrap(app)`` is what the endpoint uses when ``fast_moto.enabled()`` (``ROOMCAST_FAST_MOTO=0`` keeps
plain moto); ``apply()`` / ``revert()`` patch the method list's cache in and out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import moto
from botocore.exceptions import ClientError
from moto import settings
from moto.core import responses as core_responses
from moto.core.request import Request
from moto.moto_api import recorder
from werkzeug.wrappers import Response

TARGET_MOTO = "5.2.5"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_saved: dict[str, Any] = {}


class _ServerRequest(Request):
    """What moto's Flask app builds (``BackendRequest``), without Flask's request class mixed in."""

    from_wsgi_server = True


@functools.cache
def _handlers() -> dict[str, Any]:
    # Imported on the first request, not at import time: the services' modules are large.
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.sqs.responses import SQSResponse

    return {
        "DynamoDB_20120810": DynamoHandler,
        "DynamoDBStreams_20120810": DynamoDBStreamsHandler,
        "AmazonSQS": SQSResponse,
    }


def handler_for(environ: dict[str, Any]) -> Any:
    """The response class this request goes to, or None for moto's own dispatcher."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if (
        not target
        or environ.get("REQUEST_METHOD") != "POST"
        or environ.get("PATH_INFO") != "/"
        or not environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-")
        or "HTTP_ORIGIN" in environ  # a browser's: flask-cors answers it by its origin
    ):
        return None
    return _handlers().get(target.partition(".")[0])


class LeanFront:
    """WSGI middleware: the hot JSON operations to their response class directly, the rest to ``app``."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        handler = handler_for(environ)
        if handler is None:
            return self.app(environ, start_response)
        request = _ServerRequest(environ)
        recorder._record_request(request)
        try:
            result = handler.dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as error:  # as moto's Flask view answers one
            result = 400, {}, error.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        response = Response(response=content, status=status, headers=headers)
        if not settings.DISABLE_GLOBAL_CORS:
            response.headers["Access-Control-Allow-Origin"] = "*"  # what flask-cors adds without an Origin
        return response(environ, start_response)


def wrap(app: WsgiApp) -> WsgiApp:
    if moto.__version__ != TARGET_MOTO:
        return app  # another moto's handlers may want what its Flask view gives them
    apply()
    return LeanFront(app)


@functools.cache
def _method_names(cls: type) -> frozenset[str]:
    return frozenset(_saved["method_names_from_class"](cls))


def _cached_method_names(clazz: object) -> frozenset[str]:
    # Keyed by class; moto only tests membership (``action in method_names``).
    return _method_names(clazz if isinstance(clazz, type) else type(clazz))


def apply() -> None:
    if _saved or moto.__version__ != TARGET_MOTO:
        return
    _saved["method_names_from_class"] = core_responses.method_names_from_class
    core_responses.method_names_from_class = _cached_method_names  # type: ignore[assignment]


def revert() -> None:
    if _saved:
        core_responses.method_names_from_class = _saved.pop("method_names_from_class")
        _method_names.cache_clear()
