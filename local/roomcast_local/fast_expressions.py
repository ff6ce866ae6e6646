"""moto 5.2.5's condition and update expressions parsed once per expression string, not once per use.

moto 5.2.5 parses a ``ConditionExpression`` (and a ``FilterExpression``) from scratch every time it
needs it: ``ConditionExpressionParser.parse`` lexes the string (six regular expressions looked up
through ``re.compile`` per token), resolves ``#names`` and ``:values`` into the tokens, then folds
them through seven passes into a syntax tree and builds moto's ``Op``/``Func`` objects from it. A
comment's ``TransactWriteItems`` (the receipt's Put, the join item's Update, the comment's Put, each
with a condition) parses each condition three times (the response's validation, the transaction's
check, then ``put_item``/``update_item``): nine parses, about 40 % of the transaction's CPU in the
local stack's process.

Here ``parse`` keeps, per expression string, what moto's own parser made of it with every name and
value lookup answered by a placeholder: the syntax tree (placeholders where names and values go), the
lookups in the order moto made them, and the names and values it reports as found. A later parse of
the same string replays those lookups through the parser's own ``_lookup_expression_attribute_name``
and ``_lookup_expression_attribute_value`` against the request's mappings, in moto's order (so a
missing ``#name`` or ``:value`` raises moto's same exception, the first one moto would meet), puts
the answers into a fresh copy of the tree (new nodes, new children lists) and hands that to moto's
own ``_make_op_condition``. It is equivalent because in moto's parser only the lookups read the
names and values: which tokens there are, their kinds, the tree's shape and every structural error
depend on the string alone, and the looked-up objects are only carried in the nodes to
``_make_op_condition``, which turns them into ``AttributePath`` and ``AttributeValue`` (and raises
there, as moto does, for a malformed value). A string whose placeholder parse fails (a syntax error,
a reserved word) is noted as such, and that parse and every later one of it go to moto's ``parse``
with the request's mappings, so its error is moto's own, in moto's order. An empty expression goes to
moto's ``parse`` too. The kept strings are capped (``LIMIT``, then the cache starts again).

``UpdateExpressionParser.make`` (the tokenizer and the recursive parsers) runs twice per Update in
a transaction (the response's validation, then ``update_item``). Its syntax tree depends on the
string alone, so here ``make`` keeps, per string, the tree moto built, pickled, and answers each call
with a fresh unpickled copy: a new tree equal to moto's (same classes, attributes, parent links),
shared with no one, for about a fifth of the parse's CPU (18 against 84 microseconds for the
comment's ``SET LastPosition = :position``). A string moto refuses is not kept: each call raises
moto's error again.

Applied with the fast local DynamoDB (fast_moto.apply, which refuses any moto but 5.2.5; so
``ROOMCAST_FAST_MOTO=0`` runs plain moto); on another moto ``apply()`` patches nothing. ``apply()`` is
idempotent, ``revert()`` undoes it. tests/unit/test_fast_expressions.py,
test_fast_expressions_transactions.py and test_fast_update_expressions.py compare its answers with moto's.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moto
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

TARGET_MOTO = "5.2.5"
LIMIT = 1024

_saved: dict[str, Any] = {}
_lock = threading.Lock()
# expression string -> what its placeholder parse left, or None: its parse failed, moto's parse does each
_plans: dict[str, _Plan | None] = {}
_updates: dict[str, bytes] = {}  # update expression string -> moto's syntax tree of it, pickled

_NODE = ConditionExpressionParser.Node
Lookup = Callable[[ConditionExpressionParser, str], Any]


class _Slot:
    """Where the answer to the lookup at ``index`` goes in the tree."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _Recorder:
    """Stands for a request's names or values: notes each lookup and answers with its placeholder."""

    def __init__(self, lookup: Lookup, lookups: list[tuple[Lookup, str]]) -> None:
        self.lookup, self.lookups = lookup, lookups

    def __getitem__(self, key: str) -> _Slot:
        self.lookups.append((self.lookup, key))
        return _Slot(len(self.lookups) - 1)


@dataclass(frozen=True)
class _Plan:
    tree: Any  # moto's syntax tree (ConditionExpressionParser.Node), placeholders for names and values
    lookups: tuple[tuple[Lookup, str], ...]
    names_found: tuple[str, ...]
    values_found: tuple[str, ...]


def apply() -> None:
    if _saved or moto.__version__ != TARGET_MOTO:
        return
    _saved["parse"] = ConditionExpressionParser.__dict__["parse"]
    _saved["make"] = UpdateExpressionParser.__dict__["make"]
    ConditionExpressionParser.parse = _parse  # type: ignore[method-assign,assignment]
    UpdateExpressionParser.make = classmethod(_make)


def revert() -> None:
    if _saved:
        ConditionExpressionParser.parse = _saved.pop("parse")  # type: ignore[method-assign]
        UpdateExpressionParser.make = _saved.pop("make")
        with _lock:
            _plans.clear()
            _updates.clear()


def _parse(parser: ConditionExpressionParser) -> Any:
    expression = parser.condition_expression
    if not expression or type(expression) is not str or type(parser) is not ConditionExpressionParser:
        return _saved["parse"](parser)
    with _lock:
        known = expression in _plans
        plan = _plans.get(expression)
    if not known:
        plan = _plan(expression)
        with _lock:
            if len(_plans) >= LIMIT:
                _plans.clear()
            _plans[expression] = plan
    if plan is None:
        return _saved["parse"](parser)
    answers = [lookup(parser, key) for lookup, key in plan.lookups]
    node = _filled(plan.tree, answers)
    parser.expr_attr_names_found.extend(plan.names_found)
    parser.expr_attr_values_found.extend(plan.values_found)
    return parser._make_op_condition(node)


def _plan(expression: str) -> _Plan | None:
    """moto's parse of ``expression`` with placeholders for names and values, or None if it fails."""
    lookups: list[tuple[Lookup, str]] = []
    names = _Recorder(ConditionExpressionParser._lookup_expression_attribute_name, lookups)
    values = _Recorder(ConditionExpressionParser._lookup_expression_attribute_value, lookups)
    parser = ConditionExpressionParser(expression, names, values)  # type: ignore[arg-type]
    built: list[Any] = []
    parser._make_op_condition = built.append  # type: ignore[method-assign,assignment]
    try:
        _saved["parse"](parser)
    except Exception:  # noqa: BLE001 - moto's parse with the request's mappings raises what it raises
        return None
    (tree,) = built
    return _Plan(tree, tuple(lookups), tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found))


def _filled(node: Any, answers: list[Any]) -> Any:
    """A fresh copy of the tree (new nodes, new children lists), each placeholder replaced by its answer."""
    value = node.value
    if type(value) is _Slot:
        value = answers[value.index]
    children = [_filled(child, answers) for child in node.children] if node.children else []
    return _NODE(node.nonterminal, node.kind, node.text, value, children)


def _make(parser_class: type[UpdateExpressionParser], expression: Any) -> Any:
    keep = type(expression) is str and parser_class is UpdateExpressionParser
    kept = _updates.get(expression) if keep else None
    if kept is not None:
        return pickle.loads(kept)  # bytes this process pickled itself
    tree = _saved["make"].__func__(parser_class, expression)
    if keep:
        with _lock:
            if len(_updates) >= LIMIT:
                _updates.clear()
            _updates[expression] = pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)
    return tree
