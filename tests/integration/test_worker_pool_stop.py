"""A stopping stack's worker pools: closed, they start no worker and end the idle ones; killed, at once."""

from __future__ import annotations

import signal

import pytest

from roomcast_local.workers import FunctionError, WorkerPool
from support.stack import Stack

pytestmark = pytest.mark.integration


def pool_of(stack: Stack) -> WorkerPool:
    return WorkerPool(stack.spec("AuthorizerFunction"), {}, lambda source, line: None, size=1)


def test_a_closed_pool_refuses_invocations_and_ends_its_idle_workers(stack: Stack) -> None:
    pool = pool_of(stack)
    pool.warm()

    workers = pool.close()

    with pytest.raises(FunctionError, match="the stack is stopping"):
        pool.invoke({})
    assert [worker.process.wait(timeout=30) for worker in workers] == [-signal.SIGTERM]


def test_a_killed_pool_kills_its_workers(stack: Stack) -> None:
    pool = pool_of(stack)
    pool.warm()

    pool.kill()

    with pytest.raises(FunctionError, match="the stack is stopping"):
        pool.invoke({})
    assert [worker.process.wait(timeout=30) for worker in pool.close()] == [-signal.SIGKILL]
