"""One function's execution environment in a process of its own, like a Lambda worker.

The parent starts ``python -m roomcast_local.worker LOGICAL_ID CODE_DIR MODULE FUNCTION TIMEOUT MEMORY``
with the function's environment, reads one line ``{"ready": true}`` once the handler is loaded (the
cold start), then writes one JSON request per line on stdin and reads one JSON answer per line.
The function's own output (Powertools logs, metrics) goes to stderr, so stdout carries only answers.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO


def serve(argv: list[str], requests: TextIO, answers: TextIO) -> None:
    from roomcast_local.invoke import LocalContext, load_handler
    from roomcast_local.template import FunctionSpec

    logical_id, code_dir, module, function, timeout, memory = argv
    spec = FunctionSpec(logical_id, Path(code_dir), module, function, dict(os.environ), int(timeout), int(memory))
    handler = load_handler(spec)  # the cold start: imports happen once, before the first event
    # Lambda's Timeout counts from here: the init phase is not part of an invocation.
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in requests:
        request: dict[str, Any] = json.loads(line)
        context = LocalContext(logical_id, spec.memory, spec.timeout)
        try:
            answer = {"id": request["id"], "result": handler(request["event"], context)}
        except Exception as error:  # noqa: BLE001 - reported to the caller, as Lambda reports a function error
            answer = {
                "id": request["id"],
                "error": {"type": type(error).__name__, "message": str(error), "trace": traceback.format_exc()},
            }
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    # Everything the function prints goes to stderr, which the stack shows with the function's name.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.argv[1:], sys.stdin, answers)


if __name__ == "__main__":
    main()
