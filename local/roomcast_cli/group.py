"""The ``roomcast`` click group: every verb, and --stack/--region/--profile before the verb too."""

from __future__ import annotations

from typing import Any

import click

from roomcast_cli import history, invoke, moderate, outcome, publish, token, watch
from roomcast_cli.common import Group, stack_options


@click.group(
    "roomcast",
    cls=Group,
    help="Talk to a Roomcast stack: publish commands, watch a room live, read its history, "
    "issue tokens, run a function of template.yaml locally.",
    epilog="Without --stack, the local stack of `make run` is used (its state file: $ROOMCAST_LOCAL_STATE, "
    "or .roomcast/local-stack.json in the checkout). --stack/--region/--profile go before or after the verb.",
)
@stack_options
def roomcast(**stack: Any) -> None:
    """Nothing to do: each verb reads these options through its context (see target.Choice)."""


for command in (
    *publish.COMMANDS,
    *moderate.COMMANDS,
    outcome.status,
    watch.watch,
    history.history,
    token.token,
    invoke.invoke,
):
    roomcast.add_command(command)
