"""The API is a library: every misuse raises JacobianError, never a raw exception.

One table of misuse calls over the public functions (``jacobian``, ``jacobians``,
``chain``, ``JacobianResult.evaluate``, ``read_json``, ``Limits``, and ``backprop``
where it exists). Each must raise :class:`JacobianError` (wrong types raise its
subclass :class:`JacobianTypeError`, also a ``TypeError``) with a message in the
API's words, in well under a second, and nothing passed as a value may run.
"""

from __future__ import annotations

import json
import math
import re
import threading
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import jacobian_calc
from jacobian_calc.cli.words import cli_words, error_message
from jacobian_calc import (JacobianError, JacobianTypeError, Limits, chain, jacobian, jacobians,
                           read_json)

x, y = sp.symbols("x y", real=True)
NEVER = "jacobian_calc_misuse_sentinel"  # set by code that must never run


def _result():
    return jacobian("x**2 + y", wrt="x,y")


def _array_result():
    return jacobian("sum(X)", wrt="X", shapes={"X": (2, 2)})


def _doc(entries, **extra) -> str:
    return json.dumps({"layout": "numerator", "of": ["f"], **extra,
                       "jacobians": [{"wrt": ["x"], "shape": [1, 1], "entries": entries}]})


class Weird:
    """An object whose conversions misbehave."""

    def __index__(self):
        raise RuntimeError("no")

    def __float__(self):
        raise RuntimeError("no")

    def __str__(self):
        return "Weird"


CODE = f"__import__('builtins').setattr(__import__('builtins'), '{NEVER}', 1)"

#: (id, callable) -- each must raise JacobianError.
MISUSE = [
    # -- what to differentiate --------------------------------------------------------
    ("of-None", lambda: jacobian(None)),
    ("of-bytes", lambda: jacobian(b"x")),
    ("of-bytearray", lambda: jacobian(bytearray(b"x"))),
    ("of-object", lambda: jacobian(object())),
    ("of-dict", lambda: jacobian({"x": 1})),
    ("of-set", lambda: jacobian({"x"})),
    ("of-empty-list", lambda: jacobian([])),
    ("of-list-None", lambda: jacobian(["x", None])),
    ("of-nested-list", lambda: jacobian([["x"]])),
    ("of-empty-string", lambda: jacobian("")),
    ("of-blank", lambda: jacobian("   ")),
    ("of-bool", lambda: jacobian(True)),
    ("of-number-only", lambda: jacobian(3)),
    ("of-float-only", lambda: jacobian(1.5)),
    ("of-lambda", lambda: jacobian(lambda t: t)),
    ("of-code", lambda: jacobian(CODE)),
    ("of-dunder", lambda: jacobian("x.__class__")),
    ("of-numpy-array", lambda: jacobian(np.array([1.0, 2.0]))),
    ("of-empty-matrix", lambda: jacobian(sp.Matrix([]))),
    ("of-relational", lambda: jacobian(sp.Eq(x, 1))),
    ("of-complex-sympy", lambda: jacobian(sp.I * x)),
    ("of-noncommutative", lambda: jacobian(sp.Symbol("A", commutative=False) * x)),
    ("of-integral", lambda: jacobian(sp.Integral(x, x))),
    ("of-too-long", lambda: jacobian("+".join(["x"] * 60_000))),
    ("of-too-deep", lambda: jacobian("(" * 200 + "x" + ")" * 200)),
    ("of-huge-power", lambda: jacobian("(3*x)**(10**12)")),
    ("of-big-coefficient", lambda: jacobian("(2*x)**1000000")),
    ("of-div-zero", lambda: jacobian("x/(1-1)")),
    ("of-log-zero", lambda: jacobian("x*log(0)")),
    ("of-sqrt-minus-one", lambda: jacobian("x*sqrt(-1)")),
    ("of-unknown-function", lambda: jacobian("foo(x)")),
    ("of-builtin", lambda: jacobian("exec(x)")),
    # -- wrt ------------------------------------------------------------------------
    ("wrt-int", lambda: jacobian("x", wrt=1)),
    ("wrt-float", lambda: jacobian("x", wrt=1.5)),
    ("wrt-bool", lambda: jacobian("x", wrt=True)),
    ("wrt-bytes", lambda: jacobian("x", wrt=b"x")),
    ("wrt-object", lambda: jacobian("x", wrt=object())),
    ("wrt-empty-list", lambda: jacobian("x", wrt=[])),
    ("wrt-list-int", lambda: jacobian("x", wrt=[1])),
    ("wrt-list-None", lambda: jacobian("x", wrt=[None])),
    ("wrt-duplicate", lambda: jacobian("x", wrt=["x", "x"])),
    ("wrt-empty-item", lambda: jacobian("x", wrt="x,,y")),
    ("wrt-empty-string", lambda: jacobian("x", wrt="")),
    ("wrt-bad-name", lambda: jacobian("x", wrt="1x")),
    ("wrt-builtin", lambda: jacobian("x", wrt="exec")),
    ("wrt-function-name", lambda: jacobian("x", wrt="sin")),
    ("wrt-set", lambda: jacobian("x", wrt={"x"})),
    ("wrt-dict", lambda: jacobian("x", wrt={"x": 1})),
    ("wrt-sympy-number", lambda: jacobian("x", wrt=sp.Integer(1))),
    ("wrt-sympy-expr", lambda: jacobian("x", wrt=sp.sin(x))),
    ("wrt-intermediate", lambda: jacobian("y", wrt="y", lets={"y": "x"})),
    ("wrt-undeclared", lambda: jacobian("sum(X)", wrt="Z", shapes={"X": 2})),
    ("wrt-code", lambda: jacobian("x", wrt=CODE)),
    # -- layout and flags -----------------------------------------------------------
    ("layout-None", lambda: jacobian("x", layout=None)),
    ("layout-int", lambda: jacobian("x", layout=1)),
    ("layout-abbrev", lambda: jacobian("x", layout="num")),
    ("layout-list", lambda: jacobian("x", layout=["numerator"])),
    ("simplify-string", lambda: jacobian("x", simplify="yes")),
    ("simplify-int", lambda: jacobian("x", simplify=1)),
    ("simplify-None", lambda: jacobian("x", simplify=None)),
    ("output-form-string", lambda: jacobian("x", in_terms_of_output="yes")),
    ("output-form-not-elementwise", lambda: jacobian("x*y", in_terms_of_output=True)),
    ("output-form-name-clash", lambda: jacobian("sigmoid(Y)", shapes={"Y": 2},
                                                in_terms_of_output=True)),
    # -- shapes ---------------------------------------------------------------------
    ("shapes-string", lambda: jacobian("sum(X)", shapes="X=2")),
    ("shapes-list", lambda: jacobian("sum(X)", shapes=["X"])),
    ("shapes-int", lambda: jacobian("sum(X)", shapes=1)),
    ("shapes-None-dims", lambda: jacobian("sum(X)", shapes={"X": None})),
    ("shapes-superscript", lambda: jacobian("sum(X)", shapes={"X": "²"})),
    ("shapes-fullwidth", lambda: jacobian("sum(X)", shapes={"X": "２"})),
    ("shapes-arabic-indic", lambda: jacobian("sum(X)", shapes={"X": "٢"})),
    ("shapes-negative", lambda: jacobian("sum(X)", shapes={"X": -1})),
    ("shapes-zero", lambda: jacobian("sum(X)", shapes={"X": 0})),
    ("shapes-three-dims", lambda: jacobian("sum(X)", shapes={"X": (2, 3, 4)})),
    ("shapes-empty-tuple", lambda: jacobian("sum(X)", shapes={"X": ()})),
    ("shapes-float", lambda: jacobian("sum(X)", shapes={"X": 2.5})),
    ("shapes-bool", lambda: jacobian("sum(X)", shapes={"X": True})),
    ("shapes-text", lambda: jacobian("sum(X)", shapes={"X": "a-b"})),
    ("shapes-mixed", lambda: jacobian("sum(X)", shapes={"X": (2, "2a")})),
    ("shapes-int-key", lambda: jacobian("sum(X)", shapes={1: 2})),
    ("shapes-None-key", lambda: jacobian("sum(X)", shapes={None: 2})),
    ("shapes-function-key", lambda: jacobian("sum(X)", shapes={"sin": 2})),
    ("shapes-entry-like-key", lambda: jacobian("sum(X)", shapes={"X_1": 2})),
    ("shapes-huge", lambda: jacobian("sum(X)", shapes={"X": 10 ** 9})),
    ("shapes-nan", lambda: jacobian("sum(X)", shapes={"X": float("nan")})),
    ("shapes-nested", lambda: jacobian("sum(X)", shapes={"X": [2, [3]]})),
    ("shapes-numpy-float", lambda: jacobian("sum(X)", shapes={"X": np.float64(2)})),
    ("shapes-weird", lambda: jacobian("sum(X)", shapes={"X": Weird()})),
    ("shapes-code-key", lambda: jacobian("sum(X)", shapes={CODE: 2})),
    ("shapes-matrix-symbol-clash", lambda: jacobian(sp.MatrixSymbol("A", 2, 2)[0, 0],
                                                    shapes={"A": (3, 3)})),
    ("shapes-and-let", lambda: jacobian("y", shapes={"y": 2}, lets={"y": "x"})),
    # -- lets -----------------------------------------------------------------------
    ("lets-string", lambda: jacobian("y", lets="y=x")),
    ("lets-list", lambda: jacobian("y", lets=["y=x"])),
    ("lets-int", lambda: jacobian("y", lets=1)),
    ("lets-None-value", lambda: jacobian("y", lets={"y": None})),
    ("lets-int-value", lambda: jacobian("y", lets={"y": 1})),
    ("lets-empty-value", lambda: jacobian("y", lets={"y": ""})),
    ("lets-two-components", lambda: jacobian("y", lets={"y": "x, x"})),
    ("lets-empty-name", lambda: jacobian("y", lets={"": "x"})),
    ("lets-int-name", lambda: jacobian("y", lets={1: "x"})),
    ("lets-self-cycle", lambda: jacobian("y", lets={"y": "y + x"})),
    ("lets-cycle", lambda: jacobian("a", lets={"a": "b", "b": "a"})),
    ("lets-long-cycle", lambda: jacobian("a0", lets={f"a{i}": f"a{(i + 1) % 500} + x"
                                                     for i in range(500)})),
    ("lets-function-name", lambda: jacobian("y", lets={"sin": "x"})),
    ("lets-object-value", lambda: jacobian("y", lets={"y": object()})),
    ("lets-bytes-value", lambda: jacobian("y", lets={"y": b"x"})),
    ("lets-code-value", lambda: jacobian("y", lets={"y": CODE})),
    # -- functions ------------------------------------------------------------------
    ("functions-int", lambda: jacobian("f(x)", functions=1)),
    ("functions-list-int", lambda: jacobian("f(x)", functions=[1])),
    ("functions-bad-name", lambda: jacobian("f(x)", functions="1f")),
    ("functions-builtin-op", lambda: jacobian("f(x)", functions=["sin"])),
    ("functions-None-item", lambda: jacobian("f(x)", functions=[None])),
    ("functions-object", lambda: jacobian("f(x)", functions=object())),
    ("functions-python-builtin", lambda: jacobian("f(x)", functions=["exec"])),
    # -- limits ---------------------------------------------------------------------
    ("limits-None", lambda: jacobian("x", limits=None)),
    ("limits-dict", lambda: jacobian("x", limits={})),
    ("limits-string", lambda: jacobian("x", limits="x")),
    ("limits-int", lambda: jacobian("x", limits=1)),
    ("limits-max-entries", lambda: jacobian("X@W", wrt="W", shapes={"X": (300, 300),
                                                                    "W": (300, 300)})),
    ("limits-max-nodes", lambda: jacobian("sum(X@X)", shapes={"X": (100, 100)})),
    ("limits-timeout", lambda: jacobian("softmax(l)", shapes={"l": 30}, simplify=True,
                                        limits=Limits(timeout=0.5))),
    ("Limits-zero", lambda: Limits(max_length=0)),
    ("Limits-negative", lambda: Limits(max_depth=-1)),
    ("Limits-float-for-int", lambda: Limits(max_entries=1.5)),
    ("Limits-string", lambda: Limits(max_nodes="10")),
    ("Limits-None", lambda: Limits(max_output=None)),
    ("Limits-bool", lambda: Limits(max_size=True)),
    ("Limits-timeout-zero", lambda: Limits(timeout=0)),
    ("Limits-timeout-negative", lambda: Limits(timeout=-1)),
    ("Limits-timeout-nan", lambda: Limits(timeout=float("nan"))),
    ("Limits-timeout-inf", lambda: Limits(timeout=math.inf)),
    ("Limits-timeout-string", lambda: Limits(timeout="1")),
    ("Limits-simplify-nan", lambda: Limits(simplify_seconds=float("nan"))),
    ("Limits-unknown", lambda: Limits(max_widgets=3)),
    ("Limits-too-many", lambda: Limits(*range(1, 12))),
    ("Limits-twice", lambda: Limits(5, max_length=5)),
    # -- call signatures ------------------------------------------------------------
    ("jacobian-no-args", lambda: jacobian()),
    ("jacobian-extra-positional", lambda: jacobian("x", "x", "numerator")),
    ("jacobian-unknown-keyword", lambda: jacobian("x", wrtt="x")),
    ("jacobians-two-groups-for-jacobian", lambda: jacobian("sum(X) + y", wrt="X,y",
                                                           shapes={"X": 2})),
    ("jacobians-of-None", lambda: jacobians(None)),
    ("jacobians-shapes-string", lambda: jacobians("sum(X)", shapes="X=2")),
    ("jacobians-limits-None", lambda: jacobians("x", limits=None)),
    ("jacobians-unknown-keyword", lambda: jacobians("x", shape={"X": 2})),
    # -- chain ----------------------------------------------------------------------
    ("chain-no-lets", lambda: chain("y", "x")),
    ("chain-empty-lets", lambda: chain("y", "x", lets={})),
    ("chain-lets-string", lambda: chain("y", "x", lets="y=x")),
    ("chain-wrt-None", lambda: chain("y", None, lets={"y": "x"})),
    ("chain-wrt-int", lambda: chain("y", 1, lets={"y": "x"})),
    ("chain-shapes", lambda: chain("sum(y)", "x", lets={"y": "x"}, shapes={"x": 2})),
    ("chain-layout", lambda: chain("y", "x", lets={"y": "x"}, layout="sideways")),
    ("chain-cycle", lambda: chain("a", "x", lets={"a": "b", "b": "a + x"})),
    ("chain-limits-None", lambda: chain("y", "x", lets={"y": "x"}, limits=None)),
    ("chain-of-None", lambda: chain(None, "x", lets={"y": "x"})),
    # -- JacobianResult.evaluate ----------------------------------------------------
    ("evaluate-None", lambda: _result().evaluate(None)),
    ("evaluate-int", lambda: _result().evaluate(1)),
    ("evaluate-list", lambda: _result().evaluate([1, 2])),
    ("evaluate-empty-text", lambda: _result().evaluate("")),
    ("evaluate-malformed-text", lambda: _result().evaluate("x=")),
    ("evaluate-repeated-text", lambda: _result().evaluate("x=1,x=2")),
    ("evaluate-value-None", lambda: _result().evaluate({"x": None, "y": 1})),
    ("evaluate-value-syntax", lambda: _result().evaluate({"x": "1+", "y": 1})),
    ("evaluate-value-code", lambda: _result().evaluate({"x": CODE, "y": 1})),
    ("evaluate-value-import", lambda: _result().evaluate({"x": "__import__('os')", "y": 1})),
    ("evaluate-value-complex", lambda: _result().evaluate({"x": 1j, "y": 1})),
    ("evaluate-value-numpy-complex", lambda: _result().evaluate({"x": np.complex128(1j),
                                                                  "y": 1})),
    ("evaluate-value-sympy-I", lambda: _result().evaluate({"x": sp.I, "y": 1})),
    ("evaluate-value-text-complex", lambda: _result().evaluate({"x": "sqrt(-1)", "y": 1})),
    ("evaluate-value-symbol", lambda: _result().evaluate({"x": sp.Symbol("z"), "y": 1})),
    ("evaluate-value-text-symbol", lambda: _result().evaluate({"x": "z", "y": 1})),
    ("evaluate-value-nan", lambda: _result().evaluate({"x": float("nan"), "y": 1})),
    ("evaluate-value-inf", lambda: _result().evaluate({"x": float("inf"), "y": 1})),
    ("evaluate-value-huge-int", lambda: _result().evaluate({"x": 10 ** 400, "y": 1})),
    ("evaluate-value-sympy-oo", lambda: _result().evaluate({"x": sp.oo, "y": 1})),
    ("evaluate-value-bool", lambda: _result().evaluate({"x": True, "y": 1})),
    ("evaluate-value-object", lambda: _result().evaluate({"x": object(), "y": 1})),
    ("evaluate-value-decimal", lambda: _result().evaluate({"x": Decimal("1.5"), "y": 1})),
    ("evaluate-value-weird", lambda: _result().evaluate({"x": Weird(), "y": 1})),
    ("evaluate-value-list-for-scalar", lambda: _result().evaluate({"x": [1, 2], "y": 1})),
    ("evaluate-value-huge-text", lambda: _result().evaluate({"x": "9^9^9", "y": 1})),
    ("evaluate-value-pole", lambda: _result().evaluate({"x": "log(0)", "y": 1})),
    ("evaluate-key-int", lambda: _result().evaluate({1: 2})),
    ("evaluate-key-None", lambda: _result().evaluate({None: 1})),
    ("evaluate-unknown-name", lambda: _result().evaluate({"x": 1, "y": 1, "z": 1})),
    ("evaluate-missing-name", lambda: jacobian("x*y", wrt="x").evaluate({"x": 1})),
    ("evaluate-array-wrong-shape", lambda: _array_result().evaluate({"X": [[1, 2]]})),
    ("evaluate-array-ragged", lambda: _array_result().evaluate({"X": [[1, 2], [3]]})),
    ("evaluate-array-scalar", lambda: _array_result().evaluate({"X": 1})),
    ("evaluate-array-strings", lambda: _array_result().evaluate({"X": [["a", "b"],
                                                                         ["c", "d"]]})),
    ("evaluate-pole", lambda: jacobian("log(x)").evaluate({"x": 0})),
    ("evaluate-point-file-missing", lambda: _result().evaluate("@/nonexistent/point.json")),
    # -- read_json ------------------------------------------------------------------
    ("read-None", lambda: read_json(None)),
    ("read-int", lambda: read_json(1)),
    ("read-dict", lambda: read_json({"entries": [["x"]]})),
    ("read-bad-bytes", lambda: read_json(b"\xff\xfe\x00")),
    ("read-empty", lambda: read_json("")),
    ("read-truncated", lambda: read_json("{")),
    ("read-deep", lambda: read_json("[" * 100_000 + "]" * 100_000)),
    ("read-deep-entries", lambda: read_json('{"entries": ' + "[" * 5000 + '"x"' + "]" * 5000
                                             + "}")),
    ("read-ragged", lambda: read_json(_doc([["x"], ["x", "y"]]))),
    ("read-code-entry", lambda: read_json(_doc([[CODE]]))),
    ("read-dunder-entry", lambda: read_json(_doc([["x.__class__"]]))),
    ("read-object-entry", lambda: read_json(_doc([[{"a": 1}]]))),
    ("read-bool-entry", lambda: read_json(_doc([[True]]))),
    ("read-null-entry", lambda: read_json(_doc([[None]]))),
    ("read-mixed-bool", lambda: read_json(_doc([["x", True]]))),
    ("read-huge-entry-number", lambda: read_json(_doc([["9^9^9"]]))),
    ("read-too-long", lambda: read_json(" " * 100 + "{}", limits=Limits(max_output=10))),
    ("read-limits-None", lambda: read_json("{}", limits=None)),
    ("read-functions-int", lambda: read_json(json.dumps({"functions": 1}))),
    ("read-functions-builtin", lambda: read_json(json.dumps(
        {"functions": ["exec"], "entries": [["exec(x)"]]}))),
    ("read-shared-int", lambda: read_json(_doc([["S1"]], shared=1))),
    ("read-shared-bad-name", lambda: read_json(_doc([["x"]], shared={"1S": "x"}))),
    ("read-shared-builtin-name", lambda: read_json(_doc([["x"]], shared={"exec": "x"}))),
    ("read-shared-code", lambda: read_json(_doc([["S1"]], shared={"S1": CODE}))),
    ("read-shared-not-string", lambda: read_json(_doc([["S1"]], shared={"S1": 1}))),
]

if hasattr(jacobian_calc, "backprop"):
    MISUSE += [
        ("backprop-of-None", lambda: jacobian_calc.backprop(None, "W")),
        ("backprop-wrt-None", lambda: jacobian_calc.backprop("sum(W)", None,
                                                             shapes={"W": 2})),
        ("backprop-points-negative", lambda: jacobian_calc.backprop(
            "sum(W)", "W", shapes={"W": 2}, points=-1)),
        ("backprop-upstream-int", lambda: jacobian_calc.backprop(
            "W", "W", shapes={"W": 2}, upstream=1)),
        ("backprop-upstream-collides", lambda: jacobian_calc.backprop(
            "X@W", "W", shapes={"X": (2, 2), "W": (2, 2)}, upstream="X")),
        ("backprop-limits-None", lambda: jacobian_calc.backprop(
            "sum(W)", "W", shapes={"W": 2}, limits=None)),
        ("backprop-too-big", lambda: jacobian_calc.backprop(
            "X@W", "W", shapes={"X": (300, 300), "W": (300, 300)})),
    ]


def test_the_table_is_large_and_ids_are_unique():
    ids = [name for name, _ in MISUSE]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 147


@pytest.mark.parametrize("name, call", MISUSE, ids=[name for name, _ in MISUSE])
def test_misuse_raises_jacobian_error(name, call):
    import builtins
    with pytest.raises(JacobianError) as info:
        call()
    message = str(info.value)
    assert message and "internal error" not in message
    assert not re.search(r"--[a-z]", message), message  # the API's words, not the CLI's
    assert not hasattr(builtins, NEVER)


TYPE_ERRORS = ["of-None", "of-object", "wrt-int", "shapes-string", "lets-list", "limits-None",
               "Limits-string", "Limits-unknown", "jacobian-no-args", "read-None",
               "evaluate-value-object", "functions-int"]


@pytest.mark.parametrize("name", TYPE_ERRORS)
def test_wrong_types_raise_the_type_error_subclass(name):
    call = dict(MISUSE)[name]
    with pytest.raises(JacobianTypeError):
        call()
    with pytest.raises(TypeError):
        call()


def test_messages_name_arguments_as_the_api_does():
    with pytest.raises(JacobianError) as info:
        jacobian("X@W", wrt="W", shapes={"X": (300, 300), "W": (300, 300)})
    assert "limits.max_entries" in str(info.value)
    assert "--max-entries" in error_message(info.value)
    with pytest.raises(JacobianError) as info:
        Limits(timeout=float("nan"))
    assert str(info.value).startswith("limits.timeout must be")
    assert error_message(info.value).startswith("--timeout must be")


# -- what is accepted, and the values passed to evaluate -----------------------------------

@pytest.mark.parametrize("dims", [np.int64(2), sp.Integer(2), "2", (2,), [2], 2])
def test_integer_like_shapes_are_accepted(dims):
    assert jacobian("sum(X)", wrt="X", shapes={"X": dims}).shape == (2,)


@pytest.mark.parametrize("value, slope", [
    (0.5, 1.0), (1, 2.0), (Fraction(1, 2), 1.0), (np.float64(0.5), 1.0), (np.int64(0), 0.0),
    (sp.Rational(1, 2), 1.0), ("1/2", 1.0), ("pi/4 - pi/4 + 1/2", 1.0), ("4**(1/2)", 4.0)])
def test_evaluate_takes_numbers_and_text_through_the_parser(value, slope):
    J = jacobian("x**2", wrt="x")
    assert J.evaluate({"x": value})[0, 0] == pytest.approx(slope)


def test_evaluate_never_sympifies_text(monkeypatch):
    import sys
    real = sp.sympify

    def guard(a, *args, **kwargs):
        if isinstance(a, str):
            raise AssertionError(f"sympify called on {a!r}")
        return real(a, *args, **kwargs)
    monkeypatch.setattr(sp, "sympify", guard)
    monkeypatch.setattr(sys.modules["sympy.core.sympify"], "sympify", guard)
    J = jacobian("x**2 + y", wrt="x,y")
    assert J.evaluate({"x": "1/2", "y": 1}).tolist() == [[1.0, 1.0]]
    with pytest.raises(JacobianError):
        J.evaluate({"x": CODE, "y": 1})


def test_api_limits_work_off_the_main_thread(work):
    """No alarm off the main thread: the deadline is checked between steps instead."""
    outcome = {}

    def run():
        try:
            jacobian("sum(exp(X@X@X))", shapes={"X": (20, 20)},
                     limits=Limits(timeout=0.2, max_nodes=10 ** 8))
            outcome["result"] = "finished"
        except JacobianError as exc:
            outcome["result"] = str(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()  # a deadline that only the alarm could enforce would let this finish
    assert "limits.timeout" in outcome["result"]
    assert work.checks < 1000  # stopped while evaluating, long before differentiating


def test_no_alarm_is_left_behind():
    import signal
    jacobian("sin(x)**2 + cos(x)**2", simplify=True)
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_an_alarm_in_use_is_not_taken_over():
    import signal
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        assert jacobian("sin(x)**2 + cos(x)**2", simplify=True).nnz == 0
        assert signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_the_api_is_never_told_a_command_line_option():
    """What a result's text says to do names the API's arguments; ``jac`` names its options."""
    J = jacobian("X@W", wrt="W", shapes={"X": (8, 8), "W": (8, 8)})  # a summary
    text = str(J)
    assert "to_text(full=True)" in text and "--" not in text
    assert "use --full to show all" in cli_words(J.to_text())
    from jacobian_calc import Message
    note = Message("kept unsimplified (raise it with {{simplify_timeout}})")
    assert "limits.simplify_seconds" in note and "--" not in note
