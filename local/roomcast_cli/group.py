"""The ``roomcast`` click group: every verb, and --stack/--region/--profile before the verb too.

Each verb's module is imported when that verb runs (click's lazy loading of subcommands), so a
publish does not pay for watch's, history's or invoke's imports; ``--help`` lists them all, and so
imports them all.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from roomcast_cli.common import Group, stack_options

# verb -> its module in roomcast_cli, in the order --help lists them (the walkthrough's order).
VERBS: dict[str, str] = {
    **dict.fromkeys(("create-room", "delete-room", "join", "leave", "comment"), "publish"),
    **dict.fromkeys(("delete-comment", "moderator", "ban", "unban", "mute", "unmute", "policy"), "moderate"),
    "status": "outcome",
    "watch": "watch",
    "history": "history",
    "token": "token",
    "invoke": "invoke",
}


class LazyGroup(Group):
    """The verbs of :data:`VERBS`, each loaded from its module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(VERBS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in VERBS:
            return None
        if cmd_name not in self.commands:
            module = importlib.import_module(f"roomcast_cli.{VERBS[cmd_name]}")
            found = [value for value in vars(module).values() if isinstance(value, click.Command)]
            for command in (*found, *getattr(module, "COMMANDS", ())):
                self.commands.setdefault(str(command.name), command)
        return self.commands[cmd_name]


@click.group(
    "roomcast",
    cls=LazyGroup,
    help="Talk to a Roomcast stack: publish commands, watch a room live, read its history, "
    "issue tokens, run a function of template.yaml locally.",
    epilog="Without --stack, the local stack of `make run` is used (its state file: $ROOMCAST_LOCAL_STATE, "
    "or .roomcast/local-stack.json in the checkout). --stack/--region/--profile go before or after the verb.",
)
@stack_options
def roomcast(**stack: Any) -> None:
    """Nothing to do: each verb reads these options through its context (see target.Choice)."""
