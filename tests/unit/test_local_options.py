"""`python -m roomcast_local up`'s poller options: a bad value is a one-line usage error, before anything starts."""

from __future__ import annotations

import pytest

from roomcast_local.__main__ import main
from roomcast_local.stack_config import StackConfig


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--sqs-pollers", "0", "argument --sqs-pollers: must be at least 1, not 0"),
        ("--sqs-pollers", "two", "argument --sqs-pollers: 'two' is not a number"),
        ("--stream-poll-interval", "0", "argument --stream-poll-interval: must be at least 0.01, not 0"),
        ("--stream-batch-window", "-0.1", "argument --stream-batch-window: must be at least 0.0, not -0.1"),
    ],
)
def test_a_bad_poller_option_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", option, value])

    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def test_a_busy_shard_is_read_again_a_batch_window_after_its_last_read_began() -> None:
    config = StackConfig(stream_batch_window=0.1)

    assert config.busy_shard_wait(began=10.0, now=10.03) == pytest.approx(0.07)
    assert config.busy_shard_wait(began=10.0, now=10.25) == 0.0  # the batch took longer: read again at once


def test_a_batch_window_of_zero_reads_a_busy_shard_back_to_back() -> None:
    assert StackConfig(stream_batch_window=0.0).busy_shard_wait(began=10.0, now=10.0) == 0.0
