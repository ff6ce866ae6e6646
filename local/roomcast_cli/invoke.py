"""``roomcast invoke``: one function of template.yaml on an event, in this process, as ``sam local invoke`` does.

The only verb that reads template.yaml, and the only one that needs the local stack's packages
(``roomcast[local]``): both are looked for when it runs, never when the command line is built.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO, cast

import click

from roomcast_cli.common import CliError, Command, stack_options
from roomcast_cli.target import Choice, Target, checkout

# events/authorizer-*.json carry this instead of a token, which would have expired long ago.
TOKEN_PLACEHOLDER = "REPLACE_WITH_roomcast_token"
NO_CHECKOUT = (
    "roomcast invoke needs a Roomcast checkout (template.yaml, functions/): "
    "run it inside one or set ROOMCAST_ROOT to its folder"
)


class _CurrentStderr(io.TextIOBase):
    """Whatever sys.stderr is at each write.

    Powertools' Logger keeps the stream it finds when the function's module is imported; handing it
    this rather than sys.stderr itself keeps its logs on stderr when sys.stderr is swapped later
    (another invocation in the same process, a test's capture)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@click.command("invoke", cls=Command, help="run a function of template.yaml on an event, in this process (no Docker)")
@click.argument("function", metavar="FUNCTION")
@click.option("-e", "--event", required=True, metavar="FILE", help="the event (JSON; - reads stdin)")
@click.option("--user", default="bob", metavar="U", help=f"whose token replaces {TOKEN_PLACEHOLDER} in the event")
@stack_options
@click.pass_context
def invoke(ctx: click.Context, function: str, event: str, user: str, **stack: Any) -> None:
    """FUNCTION is a function's logical id in template.yaml (CommandFunction, StreamFunction, ...)."""
    choice = Choice.of(ctx, **stack)
    root = checkout()
    if root is None or not (root / "template.yaml").is_file():
        raise CliError(NO_CHECKOUT)
    try:
        from roomcast_local import invoke as local_invoke
        from roomcast_local import template
    except ImportError as error:
        raise CliError(
            f'roomcast invoke needs the local stack\'s packages: pip install "roomcast[local]" ({error})'
        ) from error
    loaded = template.load(root / "template.yaml")
    functions = template.functions(loaded)
    if function not in functions:
        raise CliError(f"unknown function {function!r}; template.yaml has {', '.join(functions)}")
    event_text = read_event(event, root)
    target = Target.of(choice)
    if TOKEN_PLACEHOLDER in event_text:
        event_text = event_text.replace(TOKEN_PLACEHOLDER, target.token(user))
    try:
        parsed = json.loads(event_text)
    except ValueError as error:
        raise CliError(f"{event} is not JSON: {error}") from error
    try:
        spec = template.function_spec(function, target.provisioned(), loaded)
    except KeyError as error:
        raise CliError(f"{function} needs {error} which this stack does not have") from error
    # function_spec places the code in the checkout roomcast_local came from; it is this one's.
    spec = dataclasses.replace(
        spec,
        code_dir=root / spec.code_dir.relative_to(template.ROOT),
        environment={**spec.environment, **target.function_environment()},
    )
    # stdout carries the response alone: everything the function prints (Powertools logs and
    # metrics) goes to stderr. The module is imported inside, so its Logger picks that stream up.
    failure: dict[str, str] | None = None
    with contextlib.redirect_stdout(cast(TextIO, _CurrentStderr())):
        try:
            response = local_invoke.invoke(spec, parsed)
        except Exception as error:  # noqa: BLE001 - the function's failure, reported as Lambda reports it
            traceback.print_exc()  # the function's own log, as Lambda would write it
            failure = {"errorType": type(error).__name__, "errorMessage": str(error)}
    if failure is not None:
        click.echo(json.dumps(failure))
        raise CliError(f"{function} failed: {failure['errorType']}: {failure['errorMessage']}")
    click.echo(json.dumps(response, default=str))


def read_event(name: str, root: Path) -> str:
    if name == "-":
        return sys.stdin.read()
    path = Path(name)
    # events/... works from anywhere, not only from the checkout's root.
    if not path.exists() and not path.is_absolute() and (root / path).exists():
        path = root / path
    try:
        return path.read_text()
    except OSError as error:
        raise CliError(f"cannot read the event {name}: {error.strerror or error}") from error
