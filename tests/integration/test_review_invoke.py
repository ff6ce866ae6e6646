"""The review hook over real HTTP: the Lambda adapter (botocore's lambda client, the budget as its
timeouts, no retries) calls the local AWS endpoint's Invoke, which runs functions/review_function in
a worker process of its own, as the local stack does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from roomcast.adapters.review_lambda import LambdaReviewer, review_client
from roomcast.domain.review import Allow, Deny, Modify, ReviewFailed
from roomcast_local import lambda_invoke, template
from roomcast_local.aws_endpoint import AwsEndpoint
from roomcast_local.processes import free_port
from roomcast_local.workers import WorkerPool

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
WORDS = {"ReviewBlockedWords": "spam", "ReviewMaskedWords": "darn", "ReviewSlowWords": "sloth"}
# Generous for the verdicts (a loaded machine); the late answer sleeps a second, past a 200 ms budget.
GENEROUS_MS = 5_000


@pytest.fixture(scope="module")
def endpoint(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[tuple[str, template.Provisioned]]:
    server = AwsEndpoint("127.0.0.1", free_port(), REGION)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for key, value in {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch_module.setenv(key, value)
    monkeypatch_module.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch_module.setenv("AWS_SECRET_ACCESS_KEY", "local")
    provisioned = template.name_functions(
        template.Provisioned(
            refs={
                "AWS::StackName": f"r{uuid.uuid4().hex[:8]}",
                "AWS::Region": REGION,
                "AWS::AccountId": "1",
                "ChatTable": "unused",  # the globals' TABLE_NAME, which the review function does not read
            },
            parameters=WORDS,
        )
    )
    pool = WorkerPool(template.function_spec("ReviewFunction", provisioned), {}, lambda source, line: None)
    pool.invoke({"text": "warm"})  # the cold start, outside every budget below
    resolve = lambda_invoke.resolver(provisioned.refs, provisioned.attrs, template.functions())
    server.invocations.functions = (resolve, lambda logical, event: pool.invoke(event))
    yield url, provisioned
    pool.stop()
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def reviewer(url: str, function: str, budget_ms: int = GENEROUS_MS) -> LambdaReviewer:
    return LambdaReviewer(review_client(budget_ms, url), function)


def test_the_sample_function_allows_denies_and_masks_through_invoke(
    endpoint: tuple[str, template.Provisioned],
) -> None:
    url, provisioned = endpoint
    review = reviewer(url, provisioned.attrs[("ReviewFunction", "Arn")])
    assert review.review("art", "bob", "hello there") == Allow()
    assert review.review("art", "bob", "buy Spam now") == Deny("blocked word: spam")
    assert review.review("art", "bob", "oh darn") == Modify("oh ****")


def test_the_function_is_found_by_name_as_well_as_by_arn(endpoint: tuple[str, template.Provisioned]) -> None:
    url, provisioned = endpoint
    by_name = reviewer(url, provisioned.refs["ReviewFunction"])
    assert by_name.review("art", "bob", "spam") == Deny("blocked word: spam")


def test_an_answer_later_than_the_budget_is_a_failed_review_sent_once(
    endpoint: tuple[str, template.Provisioned],
) -> None:
    url, provisioned = endpoint
    review = reviewer(url, provisioned.attrs[("ReviewFunction", "Arn")], budget_ms=200)
    sent: list[Any] = []
    review.client.meta.events.register("before-send.lambda.Invoke", lambda request, **_: sent.append(request))
    with pytest.raises(ReviewFailed, match="ReadTimeout"):
        review.review("art", "bob", "a sloth comment")
    assert len(sent) == 1  # no botocore retry: one request spent the budget


def test_an_unknown_function_is_a_failed_review(endpoint: tuple[str, template.Provisioned]) -> None:
    unknown = reviewer(endpoint[0], "no-such-function")
    with pytest.raises(ReviewFailed, match="ResourceNotFoundException"):
        unknown.review("art", "bob", "hello")
