"""``roomcast token``: a connection token for any WebSocket client, signed with the stack's secret."""

from __future__ import annotations

from typing import Any

import click

from roomcast.domain.tokens import MAX_TOKEN_LIFETIME_SECONDS
from roomcast_cli.common import Command, positive_int, stack_options
from roomcast_cli.target import Choice, Target

# roomcast.auth's default, not imported from there: PyJWT stays off the CLI's start-up.
DEFAULT_TOKEN_TTL_SECONDS = 300


@click.command("token", cls=Command, help="print a connection token for a user, signed with the stack's secret")
@click.argument("user", metavar="U")
@click.option(
    "--ttl",
    type=positive_int(),
    metavar="SECONDS",
    help=f"lifetime (default {DEFAULT_TOKEN_TTL_SECONDS}, at most {MAX_TOKEN_LIFETIME_SECONDS}: "
    "the authorizer refuses longer)",
)
@click.option("--single-use", is_flag=True, help="the token opens one connection only (it carries a jti)")
@stack_options
@click.pass_context
def token(ctx: click.Context, user: str, ttl: int | None, single_use: bool, **stack: Any) -> None:
    if ttl is not None and ttl > MAX_TOKEN_LIFETIME_SECONDS:
        # Checked before reaching for the stack: a token the authorizer would refuse is never printed.
        raise click.BadParameter(f"at most {MAX_TOKEN_LIFETIME_SECONDS} seconds, not {ttl}", param_hint="'--ttl'")
    click.echo(Target.of(Choice.of(ctx, **stack)).token(user, ttl, single_use=single_use))
