"""What a running local stack publishes for its clients (the CLI, tests, `roomcast invoke`).

``.roomcast/local-stack.json``: the endpoints, the physical names of the template's resources
(what Ref and GetAtt resolve to) and the template's Outputs, resolved the way CloudFormation
would resolve them for a deployed stack.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from roomcast_local.template import ROOT, Provisioned, load, name_functions

# Where `make run` publishes its state unless ROOMCAST_LOCAL_STATE names another file.
STATE_FILE = ROOT / ".roomcast" / "local-stack.json"
# A deployed stack's region comes from here (sam deploy); the local stack mirrors it.
SAMCONFIG = ROOT / "samconfig.toml"
FALLBACK_REGION = "eu-west-1"


def state_file() -> Path:
    """The state file every reader and the stack itself use: $ROOMCAST_LOCAL_STATE, or .roomcast/local-stack.json."""
    return Path(os.environ.get("ROOMCAST_LOCAL_STATE") or STATE_FILE)


def default_region(samconfig: Path = SAMCONFIG) -> str:
    """samconfig.toml's deploy region (default environment), so the local ARNs name the region deploys go to."""
    try:
        config = tomllib.loads(samconfig.read_text())
    except FileNotFoundError:
        return FALLBACK_REGION
    for command in ("deploy", "global"):
        region = config.get("default", {}).get(command, {}).get("parameters", {}).get("region")
        if region:
            return str(region)
    return FALLBACK_REGION


@dataclass
class LocalState:
    aws_endpoint_url: str
    ws_url: str  # what clients connect to, stage included
    callback_url: str  # what functions post to (@connections)
    region: str
    refs: dict[str, str]
    attrs: dict[str, str]  # "Logical.Attribute" -> value
    environment: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)
    # The sender id SQS (moto) records for every message here: the producer commandIds are scoped by.
    producer: str = ""

    @classmethod
    def of(
        cls, provisioned: Provisioned, aws_endpoint_url: str, ws_url: str, callback_url: str, producer: str = ""
    ) -> LocalState:
        state = cls(
            producer=producer,
            aws_endpoint_url=aws_endpoint_url,
            ws_url=ws_url,
            callback_url=callback_url,
            region=provisioned.refs["AWS::Region"],
            refs=dict(provisioned.refs),
            attrs={f"{logical}.{attr}": value for (logical, attr), value in provisioned.attrs.items()},
            environment=dict(provisioned.environment),
        )
        state.outputs = state.resolve_outputs()
        return state

    def provisioned(self) -> Provisioned:
        attrs: dict[tuple[str, str], str] = {}
        for key, value in self.attrs.items():
            logical, attr = key.split(".", 1)
            attrs[(logical, attr)] = value
        # A state saved before functions had names gets them now: they follow from the stack's prefix.
        return name_functions(Provisioned(refs=dict(self.refs), attrs=attrs, environment=dict(self.environment)))

    def resolve_outputs(self) -> dict[str, str]:
        """The template's Outputs; the WebSocket URLs are the local gateway's."""
        provisioned = self.provisioned()
        outputs: dict[str, str] = {}
        for name, output in load().get("Outputs", {}).items():
            try:
                outputs[name] = str(provisioned.resolve(output["Value"]))
            except KeyError:
                continue  # a resource the local stack has no stand-in for (a layer, a function name)
        outputs["WebSocketUrl"] = self.ws_url
        outputs["WebSocketCallbackUrl"] = self.callback_url
        return outputs

    def save(self, path: Path | None = None) -> None:
        write_atomically(path or state_file(), json.dumps(asdict(self), indent=2) + "\n")


def write_atomically(path: Path, text: str, durable: bool = False) -> None:
    """Readers see the old file or the new one, never half of one; ``durable`` also survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w") as out:
        out.write(text)
        if durable:
            out.flush()
            os.fsync(out.fileno())
    temporary.replace(path)


def load_state(path: Path | None = None) -> LocalState | None:
    """The running stack's state, or None if no local stack has published one."""
    try:
        data: dict[str, Any] = json.loads((path or state_file()).read_text())
    except FileNotFoundError:
        return None
    return LocalState(**data)
