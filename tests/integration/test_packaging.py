"""What `pip install` of this repository gives, in a fresh virtualenv, run from another directory.

`pip install roomcast` is the domain package for producers; `roomcast[cli,local]` adds the command
line and the local stack. Needs PyPI (or pip's cache): `-m "not network"` skips it offline.

One virtualenv for the session: the plain install is checked first, then [cli] is added to it, then
[local] (a virtualenv per install would download and unpack the runtime three times).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.network]

ROOT = Path(__file__).resolve().parents[2]
# What the build reads; copied so that pip's in-tree build leaves no build/ folder in the checkout.
SOURCES = ("pyproject.toml", "README.md", "shared", "local")


@dataclass
class Installed:
    """What ran after `pip install REPO`, then `pip install "REPO[cli]"`, then `pip install "REPO[cli,local]"`."""

    plain: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    cli: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    local: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)


def _copy_sources(into: Path) -> Path:
    into.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, into / name)
    return into


def _without_aws(home: Path) -> dict[str, str]:
    """No credentials and no configuration of any kind: nothing real can be reached or signed for."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "ROOMCAST_"))}
    for name in ("config", "credentials"):
        (home / name).write_text("")
    return environment | {
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(home),
    }


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    repo = _copy_sources(base / "repo")
    elsewhere = base / "elsewhere"  # not the checkout, nor above it: no template.yaml to be found
    elsewhere.mkdir()
    environment = _without_aws(base)
    venv.EnvBuilder(with_pip=True).create(base / "venv")
    python, roomcast = str(base / "venv" / "bin" / "python"), str(base / "venv" / "bin" / "roomcast")

    def pip(*args: str) -> None:
        # --no-compile: nothing here runs often enough for byte-compiling botocore to pay for itself.
        quiet = ["--quiet", "--no-compile", "--disable-pip-version-check"]
        subprocess.run([python, "-m", "pip", "install", *quiet, *args], check=True, timeout=900, cwd=elsewhere)

    def run(*argv: str, **more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, capture_output=True, text=True, cwd=elsewhere, env=environment | more, timeout=120, check=False
        )

    result = Installed()
    pip(str(repo))
    result.plain["import"] = run(python, "-c", "from roomcast.models import AddComment; print(AddComment.__name__)")
    result.plain["roomcast"] = run(roomcast, "--help")
    pip(f"{repo}[cli]")
    result.cli["help"] = run(roomcast, "--help")
    result.cli["no region"] = run(roomcast, "history", "art", "--stack", "roomcast")
    result.cli["no credentials"] = run(roomcast, "--region", "eu-west-1", "--stack", "roomcast", "history", "art")
    event = "events/command-1-create-chat-room.json"
    result.cli["invoke"] = run(roomcast, "invoke", "CommandFunction", "-e", event, ROOMCAST_ROOT=str(ROOT))
    pip(f"{repo}[cli,local]")
    result.local["help"] = run(roomcast, "--help")
    result.local["invoke"] = run(roomcast, "invoke", "CommandFunction", "-e", event)
    result.local["imports"] = run(python, "-c", "import roomcast_local.stack, moto.server, aiohttp, cfn_flip")
    return result


def one_line_failure(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode not in (0, None), done
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_the_plain_install_is_the_domain_package_for_producers(installed: Installed) -> None:
    done = installed.plain["import"]

    assert (done.returncode, done.stdout, done.stderr) == (0, "AddComment\n", "")


def test_the_plain_install_says_how_to_get_the_command_line(installed: Installed) -> None:
    err = one_line_failure(installed.plain["roomcast"])

    assert err.startswith('roomcast: the command line is not installed: pip install "roomcast[cli]"')


def test_cli_gives_a_working_roomcast_help(installed: Installed) -> None:
    for done in (installed.cli["help"], installed.local["help"]):
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout.startswith("usage: roomcast")
        for verb in ("create-room", "delete-room", "join", "leave", "comment", "watch", "history", "token", "invoke"):
            assert f"  {verb} " in done.stdout


def test_a_deployed_stack_without_a_region_is_one_line(installed: Installed) -> None:
    err = one_line_failure(installed.cli["no region"])

    assert err == "roomcast: no AWS region: pass --region or configure one for the profile\n"


def test_a_deployed_stack_without_credentials_is_one_line(installed: Installed) -> None:
    err = one_line_failure(installed.cli["no credentials"])

    assert err == "roomcast: NoCredentialsError: Unable to locate credentials\n"


def test_invoke_without_the_local_extra_says_to_install_it(installed: Installed) -> None:
    err = one_line_failure(installed.cli["invoke"])

    assert err.startswith('roomcast: roomcast invoke needs the local stack\'s packages: pip install "roomcast[local]"')


def test_invoke_outside_a_checkout_says_it_needs_one(installed: Installed) -> None:
    err = one_line_failure(installed.local["invoke"])

    assert err.startswith("roomcast: roomcast invoke needs a Roomcast checkout (template.yaml, functions/)")


def test_the_local_extra_brings_the_local_stack(installed: Installed) -> None:
    done = installed.local["imports"]

    assert (done.returncode, done.stderr) == (0, ""), done.stderr
