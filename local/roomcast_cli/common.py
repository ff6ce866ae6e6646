"""What every verb shares: the error users see, click's classes with argparse's usage line, option types."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pydantic import BaseModel

NOT_RUNNING = "the local stack is not running: start it with `make run`"
# Where the stack a verb chose is kept (in the root context's meta), for main to word errors with.
CHOICE = "roomcast.choice"


# What a terminal would act on rather than show: every control character but tab and newline (ESC
# starts a colour or cursor sequence, CR rewrites the line, C1 CSI is ESC [ on its own), and the bidi
# controls that reorder what follows. New comments are refused with them; older ones may have them.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with each character a terminal would act on shown as its ``\\uXXXX`` escape."""
    return _UNPRINTABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


class CliError(Exception):
    """A failure the user can act on: printed as one line, ``roomcast: <message>``."""


class Command(click.Command):
    """``usage: roomcast VERB ...``, lower case as it always was (scripts and tests read it)."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix="usage: ")


class Group(click.Group):
    """The verbs in the order they were added (the walkthrough's order), not alphabetically."""

    command_class = Command

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix="usage: ")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class Number(click.ParamType):
    """A number with a lower bound, refused in the words argparse used (scripts may match them)."""

    def __init__(self, kind: type[int] | type[float], name: str, what: str, least: int, bound: str) -> None:
        self.kind, self.name, self.what, self.least, self.bound = kind, name, what, least, bound

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = self.kind(value)
        except ValueError:
            self.fail(f"not {self.what}: {value!r}", param, ctx)
        if number < self.least:
            self.fail(f"{self.bound}: {value!r}", param, ctx)
        return number


def positive_int() -> Number:
    return Number(int, "N", "a whole number", 1, "must be at least 1")


def seconds() -> Number:
    return Number(float, "SECONDS", "a number of seconds", 0, "must not be negative")


def stack_options[F: Callable[..., Any]](function: F) -> F:
    """--stack/--region/--profile, on the group (before the verb) and on each verb (after it)."""
    function = click.option("--profile", metavar="P", help="the AWS profile to use (with --stack)")(function)
    function = click.option("--region", metavar="R", help="its region (with --stack)")(function)
    return click.option("--stack", metavar="NAME", help="a deployed stack, by its CloudFormation name")(function)


def validated[M: BaseModel](model: type[M], fields: Mapping[str, Any], what: str) -> M:
    """The model built from what the user typed, or one line naming the field as the contract does."""
    from pydantic import ValidationError

    from roomcast.domain.shapes import describe

    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise CliError(f"{what}: {describe(error)}") from error
