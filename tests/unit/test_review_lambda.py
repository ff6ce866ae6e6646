"""The review hook's Lambda adapter on botocore's Stubber (the request it sends, each answer it maps),
and the local endpoint's Invoke middleware on werkzeug's test client."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from werkzeug.test import Client
from werkzeug.wrappers import Response

from roomcast.adapters.review_lambda import LambdaReviewer, review_client
from roomcast.domain.review import Allow, Deny, Modify, ReviewFailed
from roomcast_local.lambda_invoke import LambdaInvoke, resolver
from roomcast_local.workers import FunctionError

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:roomcast-ReviewFunction"


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> tuple[LambdaReviewer, Stubber]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    reviewer = LambdaReviewer(review_client(200), ARN)
    return reviewer, Stubber(reviewer.client)


def answer(payload: bytes, **extra: Any) -> dict[str, Any]:
    return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(payload), len(payload)), **extra}


def test_the_client_waits_the_budget_at_most_and_never_retries() -> None:
    config = review_client(200).meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.2, 0.2)
    assert config.retries["total_max_attempts"] == 1


@pytest.mark.parametrize(
    ("payload", "verdict"),
    [
        (b'{"verdict": "allow"}', Allow()),
        (b'{"verdict": "deny", "reason": "blocked word: spam"}', Deny("blocked word: spam")),
        (b'{"verdict": "modify", "text": "oh ****"}', Modify("oh ****")),
    ],
)
def test_one_synchronous_invoke_with_the_comment_gives_the_verdict(
    stubbed: tuple[LambdaReviewer, Stubber], payload: bytes, verdict: object
) -> None:
    reviewer, stubber = stubbed
    request = {"roomId": "art", "userId": "bob", "text": "hi"}
    expected = {"FunctionName": ARN, "InvocationType": "RequestResponse", "Payload": json.dumps(request).encode()}
    stubber.add_response("invoke", answer(payload), expected)
    with stubber:
        assert reviewer.review("art", "bob", "hi") == verdict
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (answer(b'{"errorMessage": "boom"}', FunctionError="Unhandled"), "failed \\(Unhandled\\)"),
        (answer(b"not json"), "not JSON"),
        (answer(b'{"verdict": "perhaps"}'), "unreadable answer"),
    ],
    ids=["function error", "not json", "unknown verdict"],
)
def test_a_bad_answer_is_a_failed_review(
    stubbed: tuple[LambdaReviewer, Stubber], response: dict[str, Any], problem: str
) -> None:
    reviewer, stubber = stubbed
    stubber.add_response("invoke", response)
    with stubber, pytest.raises(ReviewFailed, match=problem):
        reviewer.review("art", "bob", "hi")


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "TooManyRequestsException", "AccessDeniedException"])
def test_an_error_of_the_lambda_service_is_a_failed_review(stubbed: tuple[LambdaReviewer, Stubber], code: str) -> None:
    reviewer, stubber = stubbed
    stubber.add_client_error("invoke", service_error_code=code, http_status_code=400)
    with stubber, pytest.raises(ReviewFailed, match=code):
        reviewer.review("art", "bob", "hi")


# ---- the local endpoint's Invoke ---------------------------------------------------------


def moto_stand_in(environ: dict[str, Any], start_response: Any) -> Any:
    return Response("moto", status=418)(environ, start_response)


def invoke_app(invoke: Any) -> Client:
    app = LambdaInvoke(moto_stand_in)
    known = resolver(
        {"ReviewFunction": "roomcast-ReviewFunction"}, {("ReviewFunction", "Arn"): ARN}, ["ReviewFunction"]
    )
    app.functions = (known, invoke)
    return Client(app)


@pytest.mark.parametrize("name", ["ReviewFunction", "roomcast-ReviewFunction", ARN, f"{ARN}:$LATEST"])
def test_invoke_runs_the_named_function_and_answers_its_result(name: str) -> None:
    calls: list[tuple[str, Any]] = []
    client = invoke_app(lambda logical, event: calls.append((logical, event)) or {"verdict": "allow"})
    response = client.post(f"/2015-03-31/functions/{name}/invocations", data=b'{"text": "hi"}')
    assert (response.status_code, response.get_json()) == (200, {"verdict": "allow"})
    assert calls == [("ReviewFunction", {"text": "hi"})]


def test_a_raising_function_is_lambdas_function_error() -> None:
    def fail(logical: str, event: Any) -> Any:
        raise FunctionError("ReviewFunction: ValueError: boom")

    response = invoke_app(fail).post(f"/2015-03-31/functions/{ARN}/invocations", data=b"{}")
    assert (response.status_code, response.headers["X-Amz-Function-Error"]) == (200, "Unhandled")
    assert response.get_json()["errorMessage"] == "ReviewFunction: ValueError: boom"


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/2015-03-31/functions/nothing/invocations", {}, 404, "ResourceNotFoundException"),
        (f"/2015-03-31/functions/{ARN}/invocations", {"X-Amz-Invocation-Type": "Event"}, 400, "InvalidParameterValue"),
    ],
)
def test_unknown_functions_and_asynchronous_invokes_are_refused(
    path: str, headers: dict[str, str], status: int, code: str
) -> None:
    response = invoke_app(lambda logical, event: None).post(path, data=b"{}", headers=headers)
    assert response.status_code == status
    assert response.headers["x-amzn-ErrorType"].startswith(code)


def test_every_other_request_is_motos() -> None:
    assert invoke_app(lambda logical, event: None).post("/", data=b"Action=ListQueues").status_code == 418
