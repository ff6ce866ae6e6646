"""``roomcast token``: a connection token for any WebSocket client, signed with the stack's secret."""

from __future__ import annotations

from typing import Any

import click

from roomcast_cli.common import Command, positive_int, stack_options
from roomcast_cli.target import Choice, Target


@click.command("token", cls=Command, help="print a connection token for a user, signed with the stack's secret")
@click.argument("user", metavar="U")
@click.option("--ttl", type=positive_int(), metavar="SECONDS", help="lifetime (default: 1 hour)")
@stack_options
@click.pass_context
def token(ctx: click.Context, user: str, ttl: int | None, **stack: Any) -> None:
    click.echo(Target.of(Choice.of(ctx, **stack)).token(user, ttl))
