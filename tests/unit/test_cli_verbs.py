"""The group's table of verbs (roomcast_cli.group.VERBS), from which each verb's module is loaded when it runs."""

from __future__ import annotations

import importlib

import click
import pytest

from roomcast_cli.group import VERBS, roomcast


def defined_in(module_name: str) -> set[str]:
    module = importlib.import_module(f"roomcast_cli.{module_name}")
    found = [value for value in vars(module).values() if isinstance(value, click.Command)]
    return {str(command.name) for command in (*found, *getattr(module, "COMMANDS", ()))}


@pytest.mark.parametrize("module_name", sorted(set(VERBS.values())))
def test_every_verb_a_module_defines_is_in_the_table_under_that_module(module_name: str) -> None:
    assert defined_in(module_name) == {verb for verb, module in VERBS.items() if module == module_name}


def test_each_verb_of_the_table_is_found_by_its_name() -> None:
    with click.Context(roomcast) as ctx:
        commands = {verb: roomcast.get_command(ctx, verb) for verb in VERBS}

    assert {verb: command.name if command else None for verb, command in commands.items()} == {v: v for v in VERBS}
    assert roomcast.get_command(ctx, "shout") is None
