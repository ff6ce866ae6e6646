"""The console: a web page served by the local stack beside its WebSocket API (docs/local.md#the-console)."""

from roomcast_local.console.api import Console
from roomcast_local.console.logs import LogRing

__all__ = ["Console", "LogRing"]
