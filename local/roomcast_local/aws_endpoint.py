"""The local AWS endpoint: moto's server, answering in the stack's region whatever region the caller signs for.

moto keeps one backend per region and picks it from the SigV4 credential scope. A producer whose
boto3 default region is not the stack's (us-east-1, say) would otherwise find no queue at the
printed queue URL and no table by its name; rewriting the scope's region here puts every caller on
the stack's resources, as the printed URLs promise. Signatures are not checked by moto, so the
rewritten scope costs nothing.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import select_address_family

from roomcast_local import fast_front, fast_moto
from roomcast_local.keepalive import KeepAliveHandler, KeepAliveServer
from roomcast_local.lambda_invoke import LambdaInvoke

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sqs/aws4_request, SignedHeaders=..., Signature=...
_SCOPE = re.compile(r"(Credential=[^/,\s]+/\d{8}/)([^/]+)(/)")


class RegionPinning:
    """WSGI middleware: every SigV4-signed request is served by ``region``'s backends."""

    def __init__(self, app: WsgiApp, region: str) -> None:
        self.app = app
        self.region = region

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        authorization = environ.get("HTTP_AUTHORIZATION")
        if authorization:
            environ["HTTP_AUTHORIZATION"] = _SCOPE.sub(rf"\g<1>{self.region}\g<3>", authorization, count=1)
        return self.app(environ, start_response)


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves each host.

    moto 5.2.5 looks the backend up on every request, under the dispatcher's one lock: it lists moto's
    package folder and stats each of its ~150 entries (backends.list_of_moto_modules), then matches
    the host against every service's URL patterns. The answer depends only on the host (a service and
    a region), so here it is worked out once per host.
    """

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class AwsEndpoint:
    """moto's server in a thread of this process, behind RegionPinning (ThreadedMotoServer's lifecycle), kept alive."""

    def __init__(self, host: str, port: int, region: str) -> None:
        self.host, self.port, self.region = host, port, region
        self._server: KeepAliveServer | None = None
        # Lambda's Invoke for the template's functions (lambda_invoke.py); the stack connects its pools.
        self.invocations = LambdaInvoke(CachedDispatcher(create_backend_app))
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # The hot JSON operations skip moto's Flask framing (fast_front.py), unless ROOMCAST_FAST_MOTO=0.
        inner = fast_front.wrap(self.invocations) if fast_moto.enabled() else self.invocations
        app = RegionPinning(inner, self.region)
        # Bound here: a port in use is an OSError for the caller to report, where werkzeug's own
        # bind would print two lines and exit the process.
        family = select_address_family(self.host, self.port)
        with socket.create_server((self.host, self.port), family=family) as listener:
            # Keep-alive: each function's botocore pool reuses its connections (keepalive.py).
            self._server = KeepAliveServer(self.host, self.port, app, KeepAliveHandler, fd=listener.fileno())
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True)
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=10)
