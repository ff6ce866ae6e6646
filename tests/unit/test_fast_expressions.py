"""Condition expressions parsed once per string give moto's own answers and moto's own errors.

Each case runs through moto's plain parser and through the patched one (the patched one twice, and
after the same string was seen with other names and values), and the results must be the same: the
operator tree (types and every attribute), what it says of a few items, the names and values moto
reports as found, or the exception's type and message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.dynamodb.comparisons import ConditionExpressionParser, get_filter_expression
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from roomcast_local import fast_expressions

NAMES = {"#s": "Status", "#p": "Pos", "#m": "Map", "#n": "Nested"}
VALUES = {
    ":v": {"S": "deadLettered"},
    ":n": {"N": "5"},
    ":lo": {"N": "1"},
    ":hi": {"N": "9"},
    ":pre": {"S": "dead"},
    ":t": {"S": "N"},
    ":a": {"S": "a"},
    ":b": {"S": "b"},
}
PASSING = [
    "attribute_not_exists(PK)",
    "attribute_exists(PK) AND #s <> :v",
    "attribute_not_exists(PK) OR #s = :v",
    "NOT (#p BETWEEN :lo AND :hi) OR (Kind IN (:a, :b) AND size(Kind) < :n)",
    "begins_with(#s, :pre) AND contains(#s, :pre) AND attribute_type(#p, :t)",
    "#m.#n = :a OR Tags[0] = :b OR #m.Innr.Deep >= :a",
    "#p > :lo AND #p <= :hi AND #p <> :n",
    "(#s = :v)",
    "  #s   =   :v  ",
]
FAILING: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = [
    ("#s = :missing", NAMES, VALUES),  # an undefined value
    ("#missing = :v", NAMES, VALUES),  # an undefined name
    ("#missing = :missing", NAMES, VALUES),  # both: moto meets the name first
    ("#s = :v", None, VALUES),  # no names at all
    ("#s = :v", NAMES, None),
    ("Status = :v", NAMES, VALUES),  # a reserved word
    ("#s = :missing AND Status = :v", NAMES, VALUES),  # the lookup fails before the reserved word
    ("#s = = :v", NAMES, VALUES),  # syntax
    ("((#s = :v))", NAMES, VALUES),  # redundant parentheses
    ("#s = :v AND", NAMES, VALUES),
    ("attribute_exists(:v)", NAMES, VALUES),  # a value where a path goes
    ("size(#s, #p) > :n", NAMES, VALUES),
    ("#s = :v)", NAMES, VALUES),
    ("#s ! :v", NAMES, VALUES),  # no token
    ("#s = :bad", NAMES, {**VALUES, ":bad": {}}),  # a malformed value: moto's _make_op_condition refuses it
    ("#s = :bad", NAMES, {**VALUES, ":bad": "text"}),
]
ITEMS = [
    None,
    Item(DynamoType({"S": "h"}), None, {"PK": {"S": "h"}}),
    Item(
        DynamoType({"S": "h"}),
        None,
        {
            "PK": {"S": "h"},
            "Status": {"S": "deadLettered"},
            "Pos": {"N": "5"},
            "Kind": {"S": "a"},
            "Tags": {"L": [{"S": "b"}]},
            "Map": {"M": {"Nested": {"S": "a"}, "Innr": {"M": {"Deep": {"S": "z"}}}}},
        },
    ),
    Item(DynamoType({"S": "h"}), None, {"PK": {"S": "h"}, "Status": {"S": "applied"}, "Pos": {"N": "12"}}),
]


@pytest.fixture
def patched() -> Iterator[None]:
    fast_expressions.apply()
    try:
        yield
    finally:
        fast_expressions.revert()


def _shape(value: Any) -> Any:
    """An operator tree as plain data: each object's type and attributes, all the way down."""
    if isinstance(value, list | tuple):
        return [_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return (type(value).__name__, {k: _shape(v) for k, v in vars(value).items()})
    return value


def _outcome(expression: str, names: dict[str, Any] | None, values: dict[str, Any] | None) -> Any:
    parser = ConditionExpressionParser(expression, names, values)
    try:
        op = parser.parse()
    except Exception as error:  # noqa: BLE001 - whatever moto raises is part of its answer
        return ("raised", type(error), str(error))
    answers: list[Any] = []
    for item in ITEMS:
        try:
            answers.append(op.expr(item))
        except Exception as error:  # noqa: BLE001 - whatever moto raises is part of its answer
            answers.append(("raised", type(error), str(error)))
    return _shape(op), answers, parser.expr_attr_names_found, parser.expr_attr_values_found


def _plain_and_patched(expression: str, names: dict[str, Any] | None, values: dict[str, Any] | None) -> list[Any]:
    plain = _outcome(expression, names, values)
    fast_expressions.apply()
    try:
        return [plain, _outcome(expression, names, values), _outcome(expression, names, values)]
    finally:
        fast_expressions.revert()


@pytest.mark.parametrize("expression", PASSING)
def test_a_valid_expression_gives_moto_s_tree_and_verdicts(expression: str) -> None:
    plain, first, again = _plain_and_patched(expression, NAMES, VALUES)

    assert plain[0] != "raised"
    assert first == plain
    assert again == plain


@pytest.mark.parametrize(("expression", "names", "values"), FAILING)
def test_a_bad_expression_raises_moto_s_error(
    expression: str, names: dict[str, Any] | None, values: dict[str, Any] | None
) -> None:
    plain, first, again = _plain_and_patched(expression, names, values)

    assert plain[0] == "raised"
    assert first == plain
    assert again == plain


def test_a_name_that_is_not_a_string_is_carried_as_moto_carries_it() -> None:
    plain, first, again = _plain_and_patched("#s = :v", {"#s": {"S": "odd"}}, VALUES)

    assert first == plain
    assert again == plain


def test_the_same_string_with_other_names_and_values_gives_their_answers(patched: None) -> None:
    expression = "#a = :x AND attribute_not_exists(#b)"
    cases: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = [
        ({"#a": "Status", "#b": "Pos"}, {":x": {"S": "deadLettered"}}),
        ({"#a": "Pos", "#b": "Status"}, {":x": {"N": "5"}}),
        ({"#a": "Kind", "#b": "Nope"}, {":x": {"S": "a"}, ":unused": {"S": "u"}}),
        ({"#a": "Kind"}, {":x": {"S": "a"}}),  # #b missing, after the string was seen with it
        ({"#a": "Kind", "#b": "Pos"}, {}),
        ({"#a": "Status", "#b": "Pos"}, {":x": {"S": "applied"}}),
    ]
    patched_outcomes = [_outcome(expression, names, values) for names, values in cases]
    fast_expressions.revert()

    assert patched_outcomes == [_outcome(expression, names, values) for names, values in cases]


def test_the_tree_it_keeps_is_not_changed_by_what_moto_builds(patched: None) -> None:
    op: Any = get_filter_expression("#s = :v OR attribute_exists(#p)", NAMES, VALUES)
    op.lhs.lhs.path.append("changed")  # a caller changing its answer must not change the next one's

    again: Any = get_filter_expression("#s = :v OR attribute_exists(#p)", NAMES, VALUES)

    assert again.lhs.lhs.path == ["Status"]


def test_an_empty_expression_is_moto_s_default(patched: None) -> None:
    assert type(get_filter_expression("", NAMES, VALUES)).__name__ == "OpDefault"
    assert type(get_filter_expression(None, NAMES, VALUES)).__name__ == "OpDefault"


def test_it_patches_only_moto_5_2_5(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto

    original = ConditionExpressionParser.parse
    monkeypatch.setattr(moto, "__version__", "5.3.0")

    fast_expressions.apply()

    assert ConditionExpressionParser.parse is original


def test_it_comes_and_goes_with_the_fast_local_dynamodb() -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    from roomcast_local import fast_moto

    originals = (ConditionExpressionParser.parse, UpdateExpressionParser.make)
    with fast_moto.patched():
        assert ConditionExpressionParser.parse is not originals[0]
        assert UpdateExpressionParser.make != originals[1]
    assert (ConditionExpressionParser.parse, UpdateExpressionParser.make) == originals
