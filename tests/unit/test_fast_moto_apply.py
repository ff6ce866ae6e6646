"""The fast local DynamoDB applies only to the moto it was written against, and can be turned off."""

from __future__ import annotations

import moto
import pytest

from roomcast_local import __main__ as local_main
from roomcast_local import fast_moto


def test_it_refuses_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "5.3.0")

    with pytest.raises(fast_moto.FastMotoError, match=r"patches moto 5\.2\.5, but moto 5\.3\.0 is installed"):
        fast_moto.apply()
    assert not fast_moto.applied()


def test_the_stack_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(moto, "__version__", "5.3.0")

    assert local_main.main(["aws", "--aws-port", "0"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "ROOMCAST_FAST_MOTO=0" in error


def test_it_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOMCAST_FAST_MOTO", "0")

    assert fast_moto.apply_if_enabled() is False
    assert not fast_moto.applied()


def test_apply_and_revert_restore_moto_as_it_was() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    originals = (Table.query, DynamoDBBackend.transact_write_items, DynamoDBBackend.update_item)
    with fast_moto.patched():
        assert fast_moto.applied()
        assert Table.query is not originals[0]
    assert (Table.query, DynamoDBBackend.transact_write_items, DynamoDBBackend.update_item) == originals
