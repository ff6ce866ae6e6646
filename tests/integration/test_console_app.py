"""The console's application as the gateway serves it, over real HTTP, without a stack behind it:
its page, its redirect, and a failing stack answered as one line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from roomcast_local.console import Console, LogRing


async def _get(tmp_path: Path, path: str) -> tuple[int, str, Any]:
    console = Console(tmp_path / "no-stack.json", LogRing(), "v1")
    root = web.Application()
    root.add_subapp("/console", console.app())
    async with TestClient(TestServer(root)) as client:
        response = await client.get(path, allow_redirects=False)
        text = await response.text()
        return response.status, response.headers.get("Location", ""), text


def get(tmp_path: Path, path: str) -> tuple[int, str, Any]:
    return asyncio.run(_get(tmp_path, path))


def test_console_without_its_slash_redirects_to_the_page(tmp_path: Path) -> None:
    assert get(tmp_path, "/console")[:2] == (302, "/console/")
    status, _, page = get(tmp_path, "/console/")
    assert status == 200 and 'src="static/console.js"' in page
    assert get(tmp_path, "/console/static/console.css")[0] == 200
    assert get(tmp_path, "/console/nothing-here")[0] == 404


def test_a_stack_that_cannot_be_read_is_a_one_line_502(tmp_path: Path) -> None:
    status, _, body = get(tmp_path, "/console/api/dlq")
    assert status == 502
    assert body == '{"error": "CliError: the local stack is not running: start it with `make run`"}'
