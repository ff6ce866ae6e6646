"""Which stack the CLI talks to: the local one (its state file) or a deployed one (its CloudFormation outputs).

boto3, botocore and the domain package are imported when a verb first needs them, not with this module.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from roomcast_cli.common import CHOICE, NOT_RUNNING, CliError

if TYPE_CHECKING:
    from roomcast.usecases.ports import Store
    from roomcast_local.template import Provisioned

STATE = Path(".roomcast") / "local-stack.json"


@dataclasses.dataclass(frozen=True)
class Choice:
    """--stack/--region/--profile as given, after the verb or before it (after wins)."""

    stack: str | None
    region: str | None
    profile: str | None

    @classmethod
    def of(cls, ctx: click.Context, stack: str | None, region: str | None, profile: str | None) -> Choice:
        before = ctx.find_root().params
        choice = cls(
            stack if stack is not None else before.get("stack"),
            region if region is not None else before.get("region"),
            profile if profile is not None else before.get("profile"),
        )
        ctx.find_root().meta[CHOICE] = choice
        if choice.stack is None and (choice.region is not None or choice.profile is not None):
            raise click.UsageError("--region and --profile go with --stack (the local stack has its own)")
        return choice


def checkout() -> Path | None:
    """The Roomcast checkout (template.yaml, functions/, events/).

    $ROOMCAST_ROOT, else the current directory or the nearest one above it with a template.yaml, else
    the checkout roomcast_local is installed from in editable mode. Located, not imported: finding
    the package's file does not run it.
    """
    if os.environ.get("ROOMCAST_ROOT"):
        return Path(os.environ["ROOMCAST_ROOT"])
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file():
            return folder
    spec = importlib.util.find_spec("roomcast_local")
    if spec is not None and spec.origin is not None:
        root = Path(spec.origin).resolve().parents[2]
        if (root / "template.yaml").is_file():
            return root
    return None


def state_path() -> Path:
    # Read at call time, so tests and scripts can point one process at several stacks.
    if os.environ.get("ROOMCAST_LOCAL_STATE"):
        return Path(os.environ["ROOMCAST_LOCAL_STATE"])
    return (checkout() or Path.cwd()) / STATE


def _local_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(NOT_RUNNING) from None
    except (OSError, ValueError) as error:
        raise CliError(f"{NOT_RUNNING} (its state file {path} is unreadable: {error})") from error
    fields_ok = isinstance(data, dict) and all(isinstance(data.get(key), str) for key in ("aws_endpoint_url", "region"))
    if not fields_ok or not isinstance(data.get("outputs"), dict):
        raise CliError(f"{NOT_RUNNING} (its state file {path} is unreadable: not a state this version writes)")
    return data


def _has_credentials() -> bool:
    return bool(os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"))


@dataclasses.dataclass
class Target:
    """A Roomcast stack: its outputs, and AWS clients pointed at it."""

    outputs: dict[str, str]
    region: str
    aws_endpoint_url: str | None = None  # the local emulator's; None for AWS itself
    state: dict[str, Any] | None = None
    stack_name: str | None = None
    stack_id: str | None = None
    profile: str | None = None
    session: Any = None  # boto3.Session for a deployed stack; botocore's own for the local one, made on first use

    @classmethod
    def of(cls, choice: Choice) -> Target:
        return cls.local() if choice.stack is None else cls.deployed(choice.stack, choice.region, choice.profile)

    @classmethod
    def local(cls, path: Path | None = None) -> Target:
        """The local stack whose state file is ``path`` (by default the one state_path() finds)."""
        state = _local_state(path or state_path())
        # No session yet: a publish sends without one (publish.send_fast), and importing botocore's
        # session is a good part of a publish's start-up.
        return cls(
            outputs={str(k): str(v) for k, v in state["outputs"].items()},
            region=state["region"],
            aws_endpoint_url=state["aws_endpoint_url"],
            state=state,
        )

    @classmethod
    def deployed(cls, stack_name: str, region: str | None, profile: str | None) -> Target:
        import boto3

        session = boto3.Session(profile_name=profile, region_name=region)
        if session.region_name is None:
            raise CliError("no AWS region: pass --region or configure one for the profile")
        target = cls(outputs={}, region=session.region_name, stack_name=stack_name, profile=profile, session=session)
        stack = target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        target.stack_id = stack["StackId"]
        target.outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        return target

    @property
    def is_local(self) -> bool:
        return self.state is not None

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise CliError(f"the stack has no output {key}") from None

    def client(self, service: str) -> Any:
        if self.is_local:
            return self._session().create_client(
                service, region_name=self.region, endpoint_url=self.aws_endpoint_url, config=self._config()
            )
        return self.session.client(service, config=self._config())

    def _session(self) -> Any:
        """The session; for the local stack, botocore's own, made on first use."""
        if self.session is None and self.is_local:
            import botocore.session

            self.session = botocore.session.Session()
            # The emulator accepts any credentials; fake ones mean nothing real is ever sent to it and
            # the CLI works on a machine with no AWS configuration at all.
            if not _has_credentials():
                self.session.set_credentials("local", "local")
        return self.session

    def store(self) -> Store:
        import boto3

        from roomcast.adapters.dynamodb import dynamodb_store

        session = boto3.Session(botocore_session=self._session()) if self.is_local else self.session
        # The repository speaks plain Python values, as the resource API's client does.
        dynamodb = session.resource("dynamodb", endpoint_url=self.aws_endpoint_url, config=self._config())
        return dynamodb_store(self.output("ChatTableName"), dynamodb.meta.client)

    def _config(self) -> Any:
        from botocore.config import Config

        if self.is_local:
            # A local endpoint that refuses a connection is not running: retrying only delays saying so.
            return Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2)
        return Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5)

    def secret(self) -> str:
        """The key that signs connection tokens (what the authorizer verifies them with)."""
        value = self.client("secretsmanager").get_secret_value(SecretId=self.output("JwtSecretArn"))
        return str(value["SecretString"])

    def token(self, user: str, ttl_seconds: int | None = None, *, single_use: bool = False) -> str:
        from roomcast import auth

        secret = self.secret()
        try:
            return auth.issue_token(user, secret, ttl_seconds or auth.DEFAULT_TOKEN_TTL_SECONDS, single_use=single_use)
        except ValueError as error:  # a user id that cannot be a token's subject, or an empty key
            raise CliError(f"cannot issue a token for {user!r}: {error}") from error

    def provisioned(self) -> Provisioned:
        """What Ref resolves to for each logical id of the template, as function_spec needs it."""
        if self.state is not None:
            from roomcast_local.state import LocalState

            try:
                return LocalState(**self.state).provisioned()
            except (TypeError, ValueError) as error:
                raise CliError(f"{NOT_RUNNING} (its state file is unreadable: {error})") from error
        return self._deployed_refs()

    def _deployed_refs(self) -> Provisioned:
        from roomcast_local.template import Provisioned

        assert self.stack_name is not None and self.stack_id is not None
        # arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
        _, partition, _, _, account, _ = self.stack_id.split(":", 5)
        refs = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": account,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        }
        attrs: dict[tuple[str, str], str] = {}
        pages = self.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=self.stack_name)
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if "PhysicalResourceId" in resource:
                    logical, physical = resource["LogicalResourceId"], resource["PhysicalResourceId"]
                    refs[logical] = physical
                    if resource.get("ResourceType") == "AWS::Lambda::Function":
                        # !GetAtt Fn.Arn (the CommandFunction's REVIEW_FUNCTION names the review function so)
                        attrs[(logical, "Arn")] = f"arn:{partition}:lambda:{self.region}:{account}:function:{physical}"
        return Provisioned(refs=refs, attrs=attrs)

    def function_environment(self) -> dict[str, str]:
        """What a function run in this process needs on top of the template's variables to reach this stack."""
        environment = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.aws_endpoint_url is not None:
            environment["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
            if not _has_credentials():
                environment |= {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
        if self.profile is not None:
            environment["AWS_PROFILE"] = self.profile
        return environment

    def unreachable(self, url: str, error: BaseException) -> CliError:
        if self.is_local:
            return CliError(f"{NOT_RUNNING} (nothing answers at {url})")
        return CliError(f"cannot reach {url}: {error}")
