"""The local stack reads template parameters and conditions as CloudFormation would: the review hook's
function and budget resolve from them; `up --parameter-overrides` refuses what it cannot take in one line."""

from __future__ import annotations

import pytest

from roomcast_local import events, template
from roomcast_local import invoke as local_invoke
from roomcast_local.__main__ import main


def provisioned(**parameters: str) -> template.Provisioned:
    refs = {"AWS::StackName": "rc", "AWS::Region": "eu-west-1", "AWS::AccountId": template.ACCOUNT}
    refs |= {"ChatTable": "rc-ChatTable", "CommandDeadLetterQueue": "http://queue", "JwtSecret": "arn:secret"}
    return template.name_functions(template.Provisioned(refs=refs, parameters=parameters))


def command_environment(**parameters: str) -> dict[str, str]:
    return template.function_spec("CommandFunction", provisioned(**parameters)).environment


def test_by_default_the_command_function_reviews_with_the_sample_within_200_ms() -> None:
    environment = command_environment()
    assert environment["REVIEW_FUNCTION"] == "arn:aws:lambda:eu-west-1:123456789012:function:rc-ReviewFunction"
    assert environment["REVIEW_BUDGET_MS"] == "200"


def test_parameters_name_another_review_function_and_budget() -> None:
    other = "arn:aws:lambda:eu-west-1:123456789012:function:my-reviewer"
    environment = command_environment(ReviewFunctionArn=other, ReviewBudgetMs="500")
    assert (environment["REVIEW_FUNCTION"], environment["REVIEW_BUDGET_MS"]) == (other, "500")


def test_the_sample_takes_its_word_lists_from_parameters() -> None:
    spec = template.function_spec("ReviewFunction", provisioned(ReviewBlockedWords="spam,scam"))
    assert (spec.environment["BLOCKED_WORDS"], spec.environment["MASKED_WORDS"]) == ("spam,scam", "")
    assert spec.timeout == 3


def test_conditions_combine_as_cloudformation_evaluates_them() -> None:
    stack = provisioned(ReviewFunctionArn="x")
    assert stack.condition("ReviewBySample") is False
    assert provisioned().condition("ReviewBySample") is True
    assert stack._evaluate(
        {"Fn::Or": [{"Condition": "ReviewBySample"}, {"Fn::Not": [{"Condition": "ReviewBySample"}]}]}
    )


def test_a_reference_to_nothing_in_the_template_is_named() -> None:
    with pytest.raises(KeyError, match="NoSuchThing is neither a resource nor a parameter"):
        provisioned().resolve({"Ref": "NoSuchThing"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ReviewBlockedWords", "'ReviewBlockedWords' is not KEY=VALUE"),
        ("NoSuchParameter=1", "'NoSuchParameter' is not a parameter of template.yaml ("),
    ],
)
def test_a_bad_parameter_override_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", "--parameter-overrides", value])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_the_review_sample_event_runs_through_the_sample_function() -> None:
    """`roomcast invoke ReviewFunction -e events/review-1-comment.json`, as the local invoke runs it."""
    [path] = events.samples("review-")
    spec = template.function_spec(events.function_for(path), provisioned(ReviewMaskedWords="darn"))
    assert local_invoke.invoke(spec, events.load(path)) == {"verdict": "modify", "text": "oh **** it"}
