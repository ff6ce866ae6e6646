"""Run a function's handler in this process the way Lambda would: its code, the layer, its environment."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from roomcast_local.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalContext:
    """The LambdaContext attributes handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:local:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


_modules: dict[str, ModuleType] = {}
_last_environment: dict[str, str] = {}


def load_handler(spec: FunctionSpec) -> Handler:
    """Import the function's module once, under a name of its own (every function has an app.py)."""
    name = f"roomcast_fn_{spec.logical_id}"
    module = _modules.get(name)
    if module is None:
        path = spec.code_dir / f"{spec.module.replace('.', '/')}.py"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
        _modules[name] = module
    handler: Handler = getattr(module, spec.function)
    return handler


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """The function's environment for the length of one invocation; cached settings and clients follow it."""
    global _last_environment
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    if variables != _last_environment:
        reset_caches()
        _last_environment = dict(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def reset_caches() -> None:
    """Forget dependencies and clients built from an earlier environment or endpoint."""
    global _last_environment
    from roomcast import bootstrap

    _last_environment = {}
    bootstrap.reset()


# Functions of one process share os.environ and the cached settings and clients, so in-process
# invocations take turns, like one Lambda execution environment handling one event at a time.
_TURN = threading.Lock()


def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
    # Imported inside the environment, as Lambda does: module-level Logger/Metrics read it.
    with _TURN, environment({"AWS_LAMBDA_FUNCTION_NAME": spec.logical_id, **spec.environment}):
        handler = load_handler(spec)
        context = LocalContext(spec.logical_id, spec.memory, spec.timeout)
        return handler(event, context)
