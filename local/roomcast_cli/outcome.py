"""Outcomes a producer can read: ``status COMMANDID``, and the publish verbs' ``--wait``.

An outcome record is keyed by the producer and the commandId (docs/commands.md): the producer is the
identity SQS records as the sender. On a deployed stack that is the caller's own (sts
get-caller-identity's UserId before the ``:``); locally moto records one constant sender, which the
local stack publishes in its state file.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from roomcast_cli.common import CliError, Command, seconds, stack_options
from roomcast_cli.target import Choice, Target

if TYPE_CHECKING:
    from roomcast.domain.outcomes import CommandOutcome

# Exit codes: 0 applied or unchanged; these otherwise (a script tells them apart without parsing).
REJECTED, DEAD_LETTERED, PENDING = 3, 4, 5
POLL_SECONDS = 0.25
DEFAULT_WAIT_SECONDS = 60.0


def producer_of(target: Target) -> str:
    """Who SQS says sent this CLI's commands."""
    if target.state is not None:
        producer = target.state.get("producer")
        if not isinstance(producer, str) or not producer:
            raise CliError("the local stack's state file has no producer id: restart it with `make run`")
        return producer
    identity = target.client("sts").get_caller_identity()
    return str(identity["UserId"]).split(":", 1)[0]


def read(target: Target, producer: str, command_id: str) -> CommandOutcome | None:
    from roomcast.domain.outcomes import outcome_key

    found = target.store().ledger.recorded(outcome_key(producer, command_id, ""))
    return found[0] if found else None


def report(command_id: str, outcome: CommandOutcome) -> int:
    """One line, ``<commandId> <summary>``; the exit code says how it ended."""
    click.echo(f"{command_id} {outcome.summary()}")
    return exit_code(outcome.status)


def exit_code(status: str) -> int:
    """How a recorded outcome ends the CLI: 0 applied (or unchanged), else REJECTED or DEAD_LETTERED."""
    if status == "applied":
        return 0
    return REJECTED if status == "rejected" else DEAD_LETTERED


def wait(target: Target, command_id: str, timeout: float, began: float | None = None) -> int:
    """Poll the outcome record until it is written or ``timeout`` seconds have passed (since ``began``,
    a time.monotonic(), when another reader already waited part of them)."""
    producer = producer_of(target)
    deadline = (time.monotonic() if began is None else began) + timeout
    while (outcome := read(target, producer, command_id)) is None:
        if time.monotonic() >= deadline:
            click.echo(f"{command_id} pending: no outcome recorded after {timeout:g} s", err=True)
            return PENDING
        time.sleep(POLL_SECONDS)
    return report(command_id, outcome)


@click.command("status", cls=Command, help="print a command's recorded outcome in one line")
@click.argument("command_id", metavar="COMMANDID")
@click.option("--wait", "wait_seconds", type=seconds(), metavar="SECONDS", help="wait up to SECONDS for it")
@stack_options
@click.pass_context
def status(ctx: click.Context, command_id: str, wait_seconds: float | None, **stack: str) -> None:
    target = Target.of(Choice.of(ctx, **stack))
    if wait_seconds is not None:
        ctx.exit(wait(target, command_id, wait_seconds))
    producer = producer_of(target)
    outcome = read(target, producer, command_id)
    if outcome is None:
        raise CliError(f"no outcome recorded for {command_id!r} from producer {producer} (not processed yet?)")
    ctx.exit(report(command_id, outcome))
