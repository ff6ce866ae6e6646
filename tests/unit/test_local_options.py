"""`python -m roomcast_local up`'s poller options: a bad value is a one-line usage error, before anything starts."""

from __future__ import annotations

import pytest

from roomcast_local.__main__ import main


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--sqs-pollers", "0", "argument --sqs-pollers: must be at least 1, not 0"),
        ("--sqs-pollers", "two", "argument --sqs-pollers: 'two' is not a number"),
        ("--stream-poll-interval", "0", "argument --stream-poll-interval: must be at least 0.01, not 0"),
    ],
)
def test_a_bad_poller_option_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", option, value])

    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
