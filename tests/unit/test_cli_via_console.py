"""What lets the CLI publish through the local stack's console (roomcast_cli/via_console.py) and still read
as before: the command types it names, and the console refusing in the CLI's own words."""

from __future__ import annotations

import typing

import pytest

from roomcast.domain import commands
from roomcast_cli.common import CliError, validated
from roomcast_cli.via_console import wire_type
from roomcast_local.console.api import ConsoleError, command_models, validated_command

MODELS = typing.get_args(typing.get_args(commands.Command)[0])


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_the_type_the_cli_sends_is_the_models_own(model: type[commands.AddComment]) -> None:
    assert wire_type(model.__name__) == model.model_fields["type"].default
    assert command_models()[wire_type(model.__name__)] is model


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (commands.JoinChatRoom, {"roomId": "a#b", "userId": "bob"}),
        (commands.AddComment, {"roomId": "art", "userId": "bob", "text": " \n "}),
        (commands.AddComment, {"roomId": "no spaces", "userId": "a"}),
        (commands.BanUser, {"roomId": "art", "userId": "carol", "targetUserId": "b#c", "durationSeconds": 0}),
        (commands.SetRoomPolicy, {"roomId": "art", "userId": "alice"}),
        (commands.LeaveChatRoom, {"roomId": "art", "userId": "bob", "commandId": "a b", "extra": 1}),
    ],
)
def test_the_console_refuses_a_command_in_the_words_the_cli_uses(
    model: type[commands.AddComment], fields: dict[str, object]
) -> None:
    with pytest.raises(CliError) as cli:
        validated(model, fields, "invalid command")
    with pytest.raises(ConsoleError) as console:
        validated_command({"type": wire_type(model.__name__), **fields})

    assert (console.value.status, str(console.value)) == (400, str(cli.value))


def test_a_body_without_a_known_type_is_refused_by_the_union() -> None:
    with pytest.raises(ConsoleError, match=r"^invalid command: .*type"):
        validated_command({"type": "shout", "roomId": "art"})
    with pytest.raises(ConsoleError, match=r"^invalid command: "):
        validated_command({"roomId": "art"})
