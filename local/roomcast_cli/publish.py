"""create-room, delete-room, join, leave, comment: one command on the stack's queue each.

The command is validated by roomcast.models before it is sent, so a bad id or text never reaches the
queue (where it would be dead-lettered). To the local stack that happens in the stack, which its
console's API does with the same models (via_console.py); otherwise, or when the console does not
answer as its API does, here before any I/O. Nothing heavier than click is imported until the verb
runs: its start-up is most of the time a script spends publishing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from roomcast_cli.common import Command, seconds, stack_options, validated
from roomcast_cli.target import Choice, Target

if TYPE_CHECKING:
    from roomcast.models import Command as ChatCommand

# verb -> (the model's name in roomcast.domain.commands, which roomcast.models re-exports; help)
PUBLISHERS: dict[str, tuple[str, str]] = {
    "create-room": ("CreateChatRoom", "create a room (U becomes its creator and first member)"),
    "delete-room": ("DeleteChatRoom", "delete a room (only its creator may)"),
    "join": ("JoinChatRoom", "join a room"),
    "leave": ("LeaveChatRoom", "leave a room"),
    "comment": ("AddComment", "say TEXT in a room (U must be a member)"),
}


def publish(
    choice: Choice, model_name: str, fields: dict[str, str], command_id: str | None, wait: float | None = None
) -> int:
    """Send the command; print its commandId, or with ``wait`` its outcome. Returns the exit code."""
    # "" is refused by the model, not replaced by a new id. One id whichever way the command goes: a
    # command the console sent before its answer was lost is then a duplicate the queue drops.
    fields = {**fields, "commandId": str(uuid.uuid4()) if command_id is None else command_id}
    if choice.stack is None:
        # The local stack's console validates and sends it, warm: no pydantic, no botocore here.
        from roomcast_cli import via_console

        done = via_console.publish(model_name, fields, wait)
        if done is not None:
            return done
    # pydantic otherwise reads every installed package's entry points for its plugins when it builds
    # the first model; a user who wants them in the CLI sets this variable themselves.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # The commands' module, not the roomcast.models facade: that one builds every event, frame and
    # request model too, which a publish never uses.
    from roomcast.domain import commands

    # By the wire names, so an error names the field as docs/commands.md does (roomId, not room_id).
    command = validated(getattr(commands, model_name), fields, "invalid command")
    target = Target.of(choice)
    send_fast(target, command)
    assert command.command_id is not None
    if wait is not None:
        from roomcast_cli import outcome

        return outcome.wait(target, command.command_id, wait)
    click.echo(command.command_id)
    return 0


def send(target: Target, command: ChatCommand) -> str:
    """Put the command in its FIFO group on the stack's command queue (the console sends through here
    too); its MessageId."""
    from roomcast.domain.ordering import fifo_message

    sent = target.client("sqs").send_message(QueueUrl=target.output("CommandQueueUrl"), **fifo_message(command))
    return str(sent["MessageId"])


def send_fast(target: Target, command: ChatCommand) -> str:
    """:func:`send`, but to the local stack without building botocore's client (lean_sqs.py); its
    MessageId. A send that does not go through that way goes through :func:`send`, which says why."""
    if target.aws_endpoint_url is not None:
        from roomcast.domain.ordering import fifo_message
        from roomcast_cli.lean_sqs import send_message

        queue_url = target.output("CommandQueueUrl")
        sent = send_message(target.aws_endpoint_url, target.region, queue_url, fifo_message(command))
        if sent is not None:
            return sent
    return send(target, command)


def wait_options(run: Callable[..., None]) -> Callable[..., None]:
    """--wait and --timeout, which every publishing verb takes."""
    run = click.option(
        "--timeout", type=seconds(), default=60.0, metavar="SECONDS", help="how long --wait waits (default 60)"
    )(run)
    return click.option(
        "--wait", is_flag=True, help="print the command's outcome instead (exit 0: applied or unchanged)"
    )(run)


def publisher(verb: str) -> click.Command:
    model_name, help_text = PUBLISHERS[verb]

    @click.pass_context
    def run(
        ctx: click.Context,
        room: str,
        user: str,
        command_id: str | None,
        wait: bool,
        timeout: float,
        text: str | None = None,
        **stack: str,
    ) -> None:
        choice = Choice.of(ctx, **stack)
        fields = {"roomId": room, "userId": user} | ({} if text is None else {"text": text})
        ctx.exit(publish(choice, model_name, fields, command_id, timeout if wait else None))

    run = wait_options(run)
    run = click.option("--command-id", metavar="ID", help="the command's id (default: a new UUID)")(run)
    run = click.option("--user", required=True, metavar="U", help="who acts")(run)
    run = stack_options(run)
    if verb == "comment":
        run = click.argument("text", metavar="TEXT")(run)
    run = click.argument("room", metavar="ROOM")(run)
    return click.command(verb, cls=Command, help=f"{help_text}; prints the commandId")(run)


COMMANDS = [publisher(verb) for verb in PUBLISHERS]
