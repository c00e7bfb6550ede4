"""The ``jac`` command: every option and output format, through click's CliRunner."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import sympy as sp
from click.testing import CliRunner

from jacobian_calc import jacobian, jacobians, read_entry
from jacobian_calc.cli.main import main
from jacobian_calc.symbolic.symbols import entry_symbol, scalar_symbol

CARD = "sin(x1-x2), cos(x1-x2)"
LETS = ["--let", "y1=a*w1", "--let", "y2=y1+b1"]
LAYOUTS = ("numerator", "denominator")
FORMATS = ("text", "latex", "json")


def jac(*args: str, ok: bool = True):
    """Run ``jac`` with ``args``; by default assert it succeeded."""
    result = CliRunner().invoke(main, list(args))
    if ok:
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
    return result


def jac_json(*args: str) -> dict:
    return json.loads(jac(*args, "--format", "json").stdout)


_CONSTANTS = {"pi", "E"}


def flat(nested):
    if isinstance(nested, list):
        return [x for item in nested for x in flat(item)]
    return [nested]


# -- JSON: exact document shape and round trip -----------------------------------------

def test_json_document_has_exactly_the_documented_keys():
    doc = jac_json(CARD, "--wrt", "x1,x2")
    assert set(doc) == {"format", "version", "kind", "layout", "of", "functions", "jacobians"}
    assert (doc["format"], doc["version"], doc["kind"]) == ("jacobian_calc", 2, "jacobian")
    assert doc["layout"] == "numerator"
    assert doc["of"] == ["sin(x1 - x2)", "cos(x1 - x2)"]
    assert isinstance(doc["jacobians"], list) and len(doc["jacobians"]) == 1
    item = doc["jacobians"][0]
    assert set(item) == {"wrt", "shape", "entries", "sympy"}
    assert item["wrt"] == ["x1", "x2"]
    assert item["shape"] == [2, 2]
    assert item["entries"] == [["cos(x1 - x2)", "-cos(x1 - x2)"],
                               ["-sin(x1 - x2)", "sin(x1 - x2)"]]


ROUND_TRIP = [
    (CARD, []),
    ("sin(x1-x2), cos(x1-x2), tan(x1-x2)", []),
    ("sigmoid(a*b), relu(a - b), softplus(a)*b", []),
    ("exp(l1)/(exp(l1)+exp(l2)), exp(l2)/(exp(l1)+exp(l2))", []),
    ("sqrt(x^2 + 1) + abs(y) + atan(x*y) + log(x^2+y^2) + pi*x", []),
    ("y2**2", ["--wrt", "w1", *LETS]),
    ("x@W + b", ["--wrt", "W", "--shape", "x=3", "--shape", "W=3x2", "--shape", "b=2"]),
    ("sigmoid(X@W)", ["--wrt", "W", "--shape", "X=2x2", "--shape", "W=2x2"]),
    ("softmax(l)", ["--wrt", "l", "--shape", "l=3"]),
    ("mean(relu(X))", ["--wrt", "X", "--shape", "X=2x3"]),
    ("10*x^2*y^2, x_1*E", []),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("expr, extra", ROUND_TRIP, ids=[c[0] for c in ROUND_TRIP])
def test_json_entries_round_trip(expr, extra, layout):
    doc = jac_json(expr, *extra, "--layout", layout)
    api = jacobians(expr, **_api_options(extra), layout=layout)
    assert doc["layout"] == layout
    assert len(doc["jacobians"]) == len(api)
    for item, J in zip(doc["jacobians"], api):
        assert item["shape"] == list(J.shape)
        assert item["wrt"] == J.wrt
        entries = flat(item["entries"])
        want = J.as_object_array().flatten().tolist()
        assert len(entries) == len(want)
        for text, expr_ in zip(entries, want):
            assert isinstance(text, str)
            assert read_entry(text) == expr_, text


def _api_options(extra: list[str]) -> dict:
    """The Python-API keywords equivalent to CLI options (for the cases above)."""
    opts: dict = {"shapes": {}, "lets": {}}
    it = iter(extra)
    for flag in it:
        value = next(it)
        if flag == "--wrt":
            opts["wrt"] = value
        elif flag == "--shape":
            name, dims = value.split("=")
            opts["shapes"][name] = dims
        elif flag == "--let":
            name, body = value.split("=", 1)
            opts["lets"][name] = body
    return opts


def test_json_round_trip_recovers_real_symbols():
    doc = jac_json("x1*x2", "--wrt", "x1,x2")
    entries = [read_entry(e) for e in flat(doc["jacobians"][0]["entries"])]
    assert entries == [scalar_symbol("x2"), scalar_symbol("x1")]
    assert all(s.is_real for e in entries for s in e.free_symbols)


# -- --wrt ---------------------------------------------------------------------------------

def test_wrt_selects_and_orders_columns():
    doc = jac_json("x1**2 + 5*x2", "--wrt", "x2,x1")
    assert doc["jacobians"][0]["wrt"] == ["x2", "x1"]
    assert doc["jacobians"][0]["entries"] == [["5", "2*x1"]]


def test_wrt_default_is_all_names_in_natural_order():
    doc = jac_json("x10 + x2**2 + x1")
    assert doc["jacobians"][0]["wrt"] == ["x1", "x2", "x10"]
    assert doc["jacobians"][0]["entries"] == [["1", "2*x2", "1"]]


def test_wrt_absent_name_warns_on_stderr_and_gives_zero_column():
    result = jac("x1**2", "--wrt", "x1,z")
    assert "Warning: z does not appear" in result.stderr
    assert "Warning" not in result.stdout
    assert "∂/∂z" in result.stdout
    doc = jac_json("x1**2", "--wrt", "x1,z")
    assert doc["jacobians"][0]["entries"] == [["2*x1", "0"]]


def test_wrt_two_arrays_gives_two_jacobians():
    doc = jac_json("A@x", "--wrt", "A,x", "--shape", "A=2x3", "--shape", "x=3")
    assert [j["wrt"] for j in doc["jacobians"]] == [["A"], ["x"]]
    assert [j["shape"] for j in doc["jacobians"]] == [[2, 2, 3], [2, 3]]


# -- --layout --------------------------------------------------------------------------------

def test_layout_denominator_is_transpose_in_json():
    num = jac_json("3*x^2*y, 2*x + y^8, x*y", "--wrt", "x,y")["jacobians"][0]
    den = jac_json("3*x^2*y, 2*x + y^8, x*y", "--wrt", "x,y", "--layout",
                   "denominator")["jacobians"][0]
    assert num["shape"] == [3, 2] and den["shape"] == [2, 3]
    assert den["entries"] == [list(col) for col in zip(*num["entries"])]
    assert num["entries"] == [["6*x*y", "3*x**2"], ["2", "8*y**7"], ["y", "x"]]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_in_text_header_and_labels(layout):
    out = jac("3*x^2*y, 2*x + y^8, x*y", "--wrt", "x,y", "--layout", layout).stdout
    assert f"{layout} layout" in out
    shape = "3 x 2" if layout == "numerator" else "2 x 3"
    assert f"shape {shape}" in out
    first_label = out.split("\n")[4].split()[0]  # the first row label
    assert first_label == ("∂f1" if layout == "numerator" else "∂/∂x")


def test_layout_tensor_shape_in_json():
    args = ["A@x", "--wrt", "A", "--shape", "A=2x3", "--shape", "x=3"]
    assert jac_json(*args)["jacobians"][0]["shape"] == [2, 2, 3]
    assert jac_json(*args, "--layout", "denominator")["jacobians"][0]["shape"] == [2, 3, 2]


# -- --let and --chain ---------------------------------------------------------------------

def test_let_repeated_defines_intermediates():
    doc = jac_json("y2**2", "--wrt", "w1", *LETS)
    assert read_entry(doc["jacobians"][0]["entries"][0][0]) == \
        2 * scalar_symbol("a") * (scalar_symbol("a") * scalar_symbol("w1") + scalar_symbol("b1"))


def test_let_order_does_not_matter():
    a = jac_json("y2**2", "--wrt", "w1", "--let", "y2=y1+b1", "--let", "y1=a*w1")
    b = jac_json("y2**2", "--wrt", "w1", *LETS)
    assert a["jacobians"] == b["jacobians"]


def test_chain_text_says_product_equals_direct():
    out = jac("y2**2", "--wrt", "w1", *LETS, "--chain").stdout
    chain_line = next(line for line in out.splitlines() if line.startswith("Chain rule:"))
    assert chain_line.endswith("= ∂f/∂y2 · ∂y2/∂y1 · ∂y1/∂w1")
    assert "equals the direct Jacobian" in out
    assert "DIFFERS" not in out
    assert "2*y2" in out


def test_chain_json_has_factors_and_agreement():
    doc = jac_json("y2**2", "--wrt", "w1", *LETS, "--chain")
    assert set(doc) == {"format", "version", "kind", "layout", "of", "functions", "jacobians",
                        "chain"}
    assert doc["chain"]["agree"] is True
    assert [f["entries"] for f in doc["chain"]["factors"]] == [[["2*y2"]], [["1"]], [["a"]]]
    assert [f["wrt"] for f in doc["chain"]["factors"]] == [["y2"], ["y1"], ["w1"]]


def test_chain_latex_writes_the_product():
    out = jac("y2**2", "--wrt", "w1", *LETS, "--chain", "--format", "latex").stdout
    assert r"\frac{\partial f}{\partial y_{2}}" in out
    assert r"\begin{pmatrix} 2 y_{2} \end{pmatrix}" in out


def test_chain_without_let_is_an_error():
    result = jac("x**2", "--wrt", "x", "--chain", ok=False)
    assert result.exit_code == 2
    assert "--let" in result.output


# -- --simplify ------------------------------------------------------------------------------

SOFTMAX2 = "exp(l1)/(exp(l1)+exp(l2)), exp(l2)/(exp(l1)+exp(l2))"


def test_simplify_and_no_simplify():
    raw = jac_json("(x**2 - 1)/(x - 1)", "--no-simplify")["jacobians"][0]["entries"]
    simple = jac_json("(x**2 - 1)/(x - 1)", "--simplify")["jacobians"][0]["entries"]
    default = jac_json("(x**2 - 1)/(x - 1)")["jacobians"][0]["entries"]
    assert simple == [["1"]]
    assert raw == default
    assert raw != simple
    assert sp.simplify(read_entry(raw[0][0]) - 1) == 0


def test_simplify_softmax_entries_are_equal_to_raw():
    raw = jac_json(SOFTMAX2)["jacobians"][0]["entries"]
    simple = jac_json(SOFTMAX2, "--simplify")["jacobians"][0]["entries"]
    for r, s in zip(flat(raw), flat(simple)):
        assert sp.simplify(read_entry(r) - read_entry(s)) == 0
    assert sum(map(len, flat(simple))) < sum(map(len, flat(raw)))


def test_simplify_timeout_option_is_accepted():
    doc = jac_json("(x**2 - 1)/(x - 1)", "--simplify", "--simplify-timeout", "5")
    assert doc["jacobians"][0]["entries"] == [["1"]]


# -- --at ------------------------------------------------------------------------------------

def test_at_gives_numbers_in_json():
    doc = jac_json("x1*x2", "--at", "x1=0.5,x2=2")
    item = doc["jacobians"][0]
    assert item["values"] == [[2.0, 0.5]]
    assert all(isinstance(v, float) for v in flat(item["values"]))
    assert doc["at"] == "x1=0.5,x2=2"


def test_at_accepts_constants_and_expressions():
    doc = jac_json("sin(x)", "--at", "x=pi/3")
    assert doc["jacobians"][0]["values"][0][0] == pytest.approx(0.5, rel=1e-14)


def test_at_circle_values():
    doc = jac_json("cos(2*pi*t), sin(2*pi*t)", "--at", "t=0.25")
    values = flat(doc["jacobians"][0]["values"])
    assert values[0] == pytest.approx(-2 * 3.141592653589793, rel=1e-14)
    assert abs(values[1]) < 1e-12


def test_at_in_text_and_latex():
    out = jac("x1*x2", "--at", "x1=0.5,x2=2").stdout
    assert "at x1=0.5,x2=2" in out
    assert re.search(r"│\s+2\s+0\.5", out)
    latex = jac("x1*x2", "--at", "x1=0.5,x2=2", "--format", "latex").stdout
    assert r"\begin{pmatrix} 2 & 0.5 \end{pmatrix}" in latex


def test_at_with_denominator_layout():
    doc = jac_json("x1*x2", "--at", "x1=0.5,x2=2", "--layout", "denominator")
    assert doc["jacobians"][0]["values"] == [[2.0], [0.5]]


def test_at_with_tensor():
    doc = jac_json("A@x", "--wrt", "A", "--shape", "A=2x2", "--shape", "x=2",
                   "--at", "x_1=3,x_2=4")
    assert doc["jacobians"][0]["values"] == [[[3.0, 4.0], [0.0, 0.0]],
                                              [[0.0, 0.0], [3.0, 4.0]]]


# -- --format ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_and_layout_runs(fmt, layout):
    out = jac(CARD, "--wrt", "x1,x2", "--format", fmt, "--layout", layout).stdout
    assert out.strip()
    if fmt == "json":
        assert json.loads(out)["layout"] == layout
    elif fmt == "latex":
        assert r"\begin{pmatrix}" in out and r"\cos{\left(x_{1} - x_{2} \right)}" in out
        assert "Jacobian" not in out
    else:
        assert "Jacobian ∂f/∂(x1, x2)" in out and "cos(x1 - x2)" in out


def test_latex_of_card_example_exact():
    out = jac(CARD, "--format", "latex").stdout.strip()
    assert out == (r"\begin{pmatrix} \cos{\left(x_{1} - x_{2} \right)} & "
                   r"- \cos{\left(x_{1} - x_{2} \right)} \\ - \sin{\left(x_{1} - x_{2} \right)}"
                   r" & \sin{\left(x_{1} - x_{2} \right)} \end{pmatrix}")


def test_text_is_the_default_format():
    assert jac(CARD).stdout == jac(CARD, "--format", "text").stdout


# -- --shape, --flatten, --full ------------------------------------------------------------------

def test_shape_declares_arrays():
    out = jac("A@x", "--wrt", "A", "--shape", "A=2x3", "--shape", "x=3").stdout
    assert "shape 2 x 2 x 3, 6 non-zero of 12" in out
    assert "∂y/∂A[i=1] =" in out and "∂y/∂A[i=2] =" in out


@pytest.mark.parametrize("spec", ["A=2x3", "A=2,3", "A=2×3", "A=2*3", "A = 2x3"])
def test_shape_spellings(spec):
    doc = jac_json("sum(A)", "--wrt", "A", "--shape", spec)
    assert doc["jacobians"][0]["shape"] == [2, 3]


def test_flatten_text():
    args = ["X@W", "--wrt", "W", "--shape", "X=2x3", "--shape", "W=3x2"]
    blocks = jac(*args).stdout
    flat_ = jac(*args, "--flatten").stdout
    assert "flattened to 4 x 6" in flat_
    assert "flattened" not in blocks
    assert "∂Y/∂W[" in blocks and "∂Y/∂W[" not in flat_


def test_flatten_latex_is_a_4_by_6_matrix():
    out = jac("X@W", "--wrt", "W", "--shape", "X=2x3", "--shape", "W=3x2", "--flatten",
              "--format", "latex").stdout
    body = out.strip().removeprefix(r"\begin{pmatrix}").removesuffix(r"\end{pmatrix}")
    rows = body.split(r"\\")
    assert len(rows) == 4
    assert all(len(r.split("&")) == 6 for r in rows)
    assert rows[0].split("&")[0].strip() == "X_{11}"


def test_flatten_json_is_two_dimensional():
    doc = jac_json("X@W", "--wrt", "W", "--shape", "X=2x3", "--shape", "W=3x2", "--flatten")
    assert doc["jacobians"][0]["shape"] == [4, 6]


def test_full_shows_every_block():
    args = ["X@W", "--wrt", "W", "--shape", "X=5x5", "--shape", "W=5x5"]
    summary = jac(*args).stdout
    full = jac(*args, "--full").stdout
    assert "more blocks" in summary and "--full" in summary
    assert "more blocks" not in full
    assert full.count("∂Y/∂W[") == 25
    assert summary.count("∂Y/∂W[") == 3


# -- -o / --output -----------------------------------------------------------------------------------

def test_output_file_is_written(tmp_path):
    target = tmp_path / "J.json"
    result = jac(CARD, "--format", "json", "-o", str(target))
    assert result.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == jac_json(CARD)
    assert [p.name for p in tmp_path.iterdir()] == ["J.json"]  # no temporary left


def test_output_file_is_replaced(tmp_path):
    target = tmp_path / "J.txt"
    target.write_text("old contents")
    jac(CARD, "--output", str(target))
    assert target.read_text(encoding="utf-8") == jac(CARD).stdout


def test_output_to_missing_directory_fails_without_file(tmp_path):
    target = tmp_path / "missing" / "J.txt"
    result = jac(CARD, "-o", str(target), ok=False)
    assert result.exit_code == 2
    assert any(line.startswith("Error:") for line in result.output.splitlines())
    assert "Traceback" not in result.output
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_output_to_a_directory_fails(tmp_path):
    result = jac(CARD, "-o", str(tmp_path), ok=False)
    assert result.exit_code == 2
    assert any(line.startswith("Error:") for line in result.output.splitlines())
    assert list(tmp_path.iterdir()) == []


def test_error_writes_no_output_file(tmp_path):
    target = tmp_path / "J.txt"
    result = jac("sin(", "-o", str(target), ok=False)
    assert result.exit_code == 2
    assert not target.exists()


# -- --in-terms-of-output -------------------------------------------------------------------------------

def test_in_terms_of_output_option():
    doc = jac_json("sigmoid(X)", "--wrt", "X", "--shape", "X=1x2", "--in-terms-of-output")
    entries = [read_entry(e) for e in flat(doc["jacobians"][0]["entries"])]
    Y1, Y2 = entry_symbol("Y", (0, 0)), entry_symbol("Y", (0, 1))
    assert [sp.expand(e) for e in entries] == [sp.expand(Y1 * (1 - Y1)), 0, 0,
                                              sp.expand(Y2 * (1 - Y2))]
    plain = jac_json("sigmoid(X)", "--wrt", "X", "--shape", "X=1x2")
    assert "Y_1_1" not in json.dumps(plain)


# -- limits options --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["x1 + x2 + x3", "--max-length", "5"], "over the limit of 5"),
    (["sin(sin(sin(x)))", "--max-depth", "2"], "nested deeper than 2"),
    (["x + 123456", "--max-digits", "3"], "more than 3 digits"),
    (["sum(A)", "--shape", "A=3x3", "--max-size", "4"], "over the limit of 4"),
    (["A@x", "--wrt", "A", "--shape", "A=3x3", "--shape", "x=3", "--max-entries", "10"],
     "over the limit of 10"),
])
def test_limit_options_refuse(args, message):
    result = jac(*args, ok=False)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.startswith("Error:")


@pytest.mark.parametrize("args", [
    ["x1 + x2 + x3", "--max-length", "50"],
    ["sin(sin(sin(x)))", "--max-depth", "10"],
    ["x + 123456", "--max-digits", "10"],
    ["sum(A)", "--shape", "A=3x3", "--max-size", "9"],
    ["A@x", "--wrt", "A", "--shape", "A=3x3", "--shape", "x=3", "--max-entries", "27"],
])
def test_limit_options_allow_within_limit(args):
    jac(*args)


# -- help, version, module entry point ----------------------------------------------------------------

def test_help_contains_examples_and_options():
    out = jac("--help").stdout
    assert "Examples:" in out
    assert 'jac "sin(x1-x2), cos(x1-x2)" --wrt x1,x2' in out
    assert 'jac "A@x" --wrt A --shape A=2x3 --shape x=3' in out
    for option in ("--wrt", "--layout", "--let", "--chain", "--simplify / --no-simplify",
                   "--at", "--format", "--shape", "--flatten", "--full", "-o, --output"):
        assert option in out
    assert jac("-h").stdout == out


def test_help_examples_all_run():
    """Every example printed by --help works as written."""
    import shlex
    out = jac("--help").stdout
    examples = [line.strip() for line in out.splitlines() if line.strip().startswith("jac ")]
    assert len(examples) >= 5
    for line in examples:
        jac(*shlex.split(line)[1:])


def test_version():
    out = jac("--version").stdout
    assert re.search(r"\d+\.\d+\.\d+", out)


def test_no_expression_is_an_error_with_hint():
    result = jac(ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no expression given")


def test_python_dash_m_works(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "jacobian_calc", CARD, "--format", "json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == jac_json(CARD)


def test_python_dash_m_error_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "jacobian_calc", "__import__('os')"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error:")
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_text_output_matches_api():
    J = jacobian(CARD, wrt="x1,x2")
    assert jac(CARD, "--wrt", "x1,x2").stdout.strip() == J.to_text().strip()


def test_the_cli_freezes_the_imported_heap_once_per_process():
    import gc

    runner = CliRunner()
    assert runner.invoke(main, ["x*y", "--wrt", "x"]).exit_code == 0
    frozen = gc.get_freeze_count()
    assert frozen > 0  # SymPy's tables are out of every later collection
    garbage = [[i] for i in range(1000)]
    assert runner.invoke(main, ["x*y", "--wrt", "y"]).exit_code == 0
    assert gc.get_freeze_count() == frozen  # not the garbage of later requests
    del garbage
