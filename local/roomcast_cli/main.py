"""The ``roomcast`` script: runs the click group, and turns every failure into one line on stderr.

Exit status 0, 1 for a failure (``roomcast: <why>``), 2 for a usage error, 130 for Ctrl-C (0 for a
watch, which is how a watch ends). ``ROOMCAST_DEBUG=1`` adds the traceback.

Installed by every ``pip install`` of Roomcast (an entry point cannot depend on an extra), so it
imports click only inside :func:`main`, and says how to get it when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

MISSING_CLI = 'roomcast: the command line is not installed: pip install "roomcast[cli]"'


def main(argv: list[str] | None = None) -> int:
    try:
        import click
    except ImportError as error:  # only click: any other import failing is a bug, and says so below
        print(f"{MISSING_CLI} ({error})", file=sys.stderr)
        return 1
    from roomcast_cli.common import CHOICE
    from roomcast_cli.group import roomcast

    args = sys.argv[1:] if argv is None else list(argv)
    root: click.Context | None = None
    try:
        # make_context and invoke by hand, not roomcast.main(): click's own handling would print
        # multi-line usage errors and turn Ctrl-C into an Abort with a blank line on stderr.
        root = roomcast.make_context("roomcast", args)
        with root:
            status = roomcast.invoke(root)
        return status if isinstance(status, int) else 0
    except click.exceptions.Exit as done:  # --help
        return done.exit_code
    except click.exceptions.NoArgsIsHelpError as error:  # `roomcast` alone
        click.echo(error.format_message(), err=True)
        return 2
    except click.UsageError as error:
        print(f"roomcast: {one_line(error.format_message())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0 if root is not None and root.invoked_subcommand == "watch" else 130  # Ctrl-C is how a watch ends
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:  # noqa: BLE001 - every failure becomes one line, never a traceback
        # Which stack was chosen (target.Choice.of records it): a local endpoint that refuses is not running.
        choice = root.meta.get(CHOICE) if root is not None else None
        local = choice is None or choice.stack is None
        print(f"roomcast: {one_line(explain(error, local))}", file=sys.stderr)
        if os.environ.get("ROOMCAST_DEBUG"):
            traceback.print_exc()
        return 1


def one_line(text: str) -> str:
    # Scripts read the last line of stderr, and tracebacks stay out of it.
    return " ".join(text.split())


def explain(error: Exception, local: bool) -> str:
    """What went wrong, in the user's terms."""
    from roomcast.domain.errors import RoomcastError
    from roomcast_cli.common import NOT_RUNNING, CliError

    if isinstance(error, CliError):
        return str(error)
    if "botocore" in sys.modules:  # otherwise nothing was sent, and no AWS error can have happened
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        # Looked for behind the error too: the repository turns it into a TransientError.
        unreachable = _cause(error, EndpointConnectionError)
        if unreachable is not None:
            url = unreachable.kwargs.get("endpoint_url", "?")
            return f"{NOT_RUNNING} (nothing answers at {url})" if local else str(unreachable)
        if isinstance(error, ClientError):
            details = error.response.get("Error", {})
            return f"{details.get('Code', 'Error')}: {details.get('Message', error)}"
        if isinstance(error, BotoCoreError):
            return f"{type(error).__name__}: {error}"
    if isinstance(error, RoomcastError):
        return f"{error.code}: {error.message}"
    return f"unexpected {type(error).__name__}: {error} (ROOMCAST_DEBUG=1 shows the traceback)"


def _cause[E: BaseException](error: BaseException | None, kind: type[E]) -> E | None:
    """``error`` or what it was raised from."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
