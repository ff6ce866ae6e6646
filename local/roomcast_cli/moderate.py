"""delete-comment, moderator add|remove, ban, unban, mute, unmute, policy: one moderation command each
(docs/moderation.md), published like the other verbs (publish.publish): validated before any I/O, the
commandId printed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from roomcast_cli.common import Command, positive_int, stack_options
from roomcast_cli.publish import publish, wait_options
from roomcast_cli.target import Choice

Fields = dict[str, Any]


def verb(
    name: str, help_text: str, *params: Callable[[Any], Any]
) -> Callable[[Callable[..., tuple[str, Fields]]], click.Command]:
    """A click command from a function that turns its arguments into (model name, wire fields)."""

    def wrap(shape: Callable[..., tuple[str, Fields]]) -> click.Command:
        @click.pass_context
        def run(
            ctx: click.Context, user: str, command_id: str | None, wait: bool, timeout: float, **options: Any
        ) -> None:
            stack = {key: options.pop(key) for key in ("stack", "region", "profile")}
            model_name, fields = shape(**options)
            wire = {"userId": user, **{k: v for k, v in fields.items() if v is not None}}
            ctx.exit(publish(Choice.of(ctx, **stack), model_name, wire, command_id, timeout if wait else None))

        run = wait_options(run)
        run = click.option("--command-id", metavar="ID", help="the command's id (default: a new UUID)")(run)
        run = click.option("--user", required=True, metavar="U", help="who acts")(run)
        run = stack_options(run)
        for param in reversed(params):
            run = param(run)
        return click.command(name, cls=Command, help=f"{help_text}; prints the commandId")(run)

    return wrap


ROOM = click.argument("room", metavar="ROOM")
TARGET = click.argument("target", metavar="TARGET")
FOR = click.option("--for", "duration", type=positive_int(), metavar="SECONDS", help="how long (default: until lifted)")


@verb(
    "delete-comment",
    "delete a comment (its author, a moderator or the creator)",
    ROOM,
    click.argument("comment_id", metavar="COMMENT_ID"),
)
def delete_comment(room: str, comment_id: str) -> tuple[str, Fields]:
    return "DeleteComment", {"roomId": room, "commentId": comment_id}


@verb(
    "moderator",
    "add or remove a moderator of a room (only its creator may)",
    click.argument("action", type=click.Choice(["add", "remove"]), metavar="add|remove"),
    ROOM,
    TARGET,
)
def moderator(action: str, room: str, target: str) -> tuple[str, Fields]:
    model = "AddModerator" if action == "add" else "RemoveModerator"
    return model, {"roomId": room, "targetUserId": target}


@verb(
    "ban",
    "ban TARGET from a room: they leave it and may not join, comment, subscribe or read it",
    ROOM,
    TARGET,
    FOR,
    click.option("--reason", metavar="TEXT", help="shown to the banned user"),
)
def ban(room: str, target: str, duration: int | None, reason: str | None) -> tuple[str, Fields]:
    return "BanUser", {"roomId": room, "targetUserId": target, "durationSeconds": duration, "reason": reason}


@verb("unban", "lift TARGET's ban (they may join again)", ROOM, TARGET)
def unban(room: str, target: str) -> tuple[str, Fields]:
    return "UnbanUser", {"roomId": room, "targetUserId": target}


@verb("mute", "mute TARGET in a room: they stay and read, but may not comment", ROOM, TARGET, FOR)
def mute(room: str, target: str, duration: int | None) -> tuple[str, Fields]:
    return "MuteUser", {"roomId": room, "targetUserId": target, "durationSeconds": duration}


@verb("unmute", "let TARGET comment again", ROOM, TARGET)
def unmute(room: str, target: str) -> tuple[str, Fields]:
    return "UnmuteUser", {"roomId": room, "targetUserId": target}


@verb(
    "policy",
    "set a room's policy (only its creator may); what is left out keeps its value",
    ROOM,
    click.option(
        "--slow-mode", type=click.IntRange(0, 120), metavar="SECONDS", help="one comment per user per N s (0: off)"
    ),
    click.option("--review", type=click.Choice(["off", "failOpen", "failClosed"]), help="the review hook's mode"),
)
def policy(room: str, slow_mode: int | None, review: str | None) -> tuple[str, Fields]:
    return "SetRoomPolicy", {"roomId": room, "slowModeSeconds": slow_mode, "reviewMode": review}


COMMANDS = [delete_comment, moderator, ban, unban, mute, unmute, policy]
