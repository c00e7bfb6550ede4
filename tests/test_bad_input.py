"""A corpus of bad input: every item is refused with exit status 2 and one ``Error:`` line.

Nothing in the corpus may run code: injection payloads try to create a
sentinel file, and the test checks that it never appears. Oversized input
(huge numbers, long or deep expressions, enormous shapes) must be refused
quickly, before any real work.
"""

from __future__ import annotations

import os
import tempfile

import pytest
from click.testing import CliRunner

from jacobian_calc import JacobianError, jacobian
from jacobian_calc.cli.main import main

# One name for every process (no process id in it): the test ids contain it, and
# pytest-xdist's workers must collect the same ids.
SENTINEL = os.path.join(tempfile.gettempdir(), "jac-sentinel")
S = SENTINEL
TENSOR = ["--shape", "A=2x3", "--shape", "x=3"]

# Injection attempts: (id, expression). Each would create SENTINEL if executed.
INJECTIONS = [
    ("import os.system", f"__import__('os').system('touch {S}')"),
    ("import double quotes", f'__import__("os").system("touch {S}")'),
    ("open", f"open('{S}', 'w')"),
    ("open write", f"open('{S}', 'w').write('pwned')"),
    ("eval", f"eval(\"open('{S}', 'w')\")"),
    ("exec", f"exec(\"open('{S}', 'w')\")"),
    ("compile", f"exec(compile(\"open('{S}','w')\", 'f', 'exec'))"),
    ("lambda call", f"(lambda: open('{S}', 'w'))()"),
    ("lambda", "lambda x: x"),
    ("subclasses", "x.__class__.__bases__[0].__subclasses__()"),
    ("tuple class", "().__class__"),
    ("list class", "[].__class__.__mro__"),
    ("globals attr", "f.__globals__"),
    ("builtins", "__builtins__"),
    ("builtins open", f"__builtins__.open('{S}', 'w')"),
    ("getattr", "getattr(x, '__class__')"),
    ("globals subscript", "globals()['os']"),
    ("comprehension", f"[open('{S}', 'w') for _ in (1,)]"),
    ("generator", f"sum(open('{S}', 'w') for i in x)"),
    ("set comprehension", "{x for x in y}"),
    ("dict comprehension", "{x: y for x in y}"),
    ("walrus", f"(f := open('{S}', 'w'))"),
    ("walrus plain", "(y := x + 1)"),
    ("f-string", f"f\"{{open('{S}', 'w')}}\""),
    ("conditional", f"x if open('{S}', 'w') else y"),
    ("boolean and", f"open('{S}', 'w') and x"),
    ("boolean or", "x or y"),
    ("comparison", f"x == open('{S}', 'w')"),
    ("chained comparison", "0 < x < 1"),
    ("statement import", "import os"),
    ("statement from import", "from os import system"),
    ("semicolon", f"x; open('{S}', 'w')"),
    ("assignment", f"x = open('{S}', 'w')"),
    ("del statement", "del x"),
    ("assert statement", "assert x"),
    ("comment", f"x # ; open('{S}', 'w')"),
    ("backslash continuation", f"x \\\n; open('{S}', 'w')"),
    ("backslash escape", "x\\x00"),
    ("bytes literal", "b'\\x00'"),
    ("string literal", "'x'"),
    ("empty string", "''"),
    ("subscript", "x[0]"),
    ("slice", "x[0:1]"),
    ("attribute real", "x.real"),
    ("attribute dict", "x.__dict__"),
    ("dunder name", "__import__"),
    ("underscore name", "_x + 1"),
    ("dunder call", "__import__(x)"),
    ("starred", "*x, y"),
    ("yield", "yield x"),
    ("await", "await x"),
    ("set literal", "{x}"),
    ("dict literal", "{x: y}"),
    ("list literal", "[x, y]"),
    ("nested tuple", "(x, y) + 1"),
    ("keyword call", f"sin(x, file=open('{S}', 'w'))"),
    ("NUL byte", "x\x00 + 1"),
    ("NUL then payload", f"x\x00; open('{S}', 'w')"),
]

# Characters that must be refused.
CHARACTERS = [
    ("BEL", "x\x07y"),
    ("ESC sequence", "x\x1b[31m"),
    ("DEL", "x\x7f"),
    ("backspace", "x\x08y"),
    ("vertical tab", "x\x0by"),
    ("form feed", "x\x0cy"),
    ("Cyrillic x", "\u0445 + 1"),
    ("Cyrillic a in name", "\u0430lpha*x"),
    ("fullwidth x", "\uff58 + 1"),
    ("fullwidth digit", "x + \uff11"),
    ("Greek pi", "\u03c0*x"),
    ("Greek alpha", "\u03b1*x"),
    ("zero-width space", "x\u200b+y"),
    ("zero-width joiner", "x\u200d+y"),
    ("word joiner", "x\u2060+y"),
    ("byte order mark", "\ufeffx"),
    ("right-to-left override", "x\u202e+y"),
    ("no-break space", "\u00a0x"),
    ("superscript two", "x\u00b2"),
    ("minus sign", "x\u2212y"),
    ("multiplication sign", "x\u00d7y"),
    ("math italic x", "\U0001d465"),
    ("roman numeral ten", "\u2179"),
    ("dollar", "x $ y"),
    ("question mark", "x ? y"),
    ("backtick", "`x`"),
]

# Syntax and grammar errors.
SYNTAX = [
    ("empty components", "x,,y"),
    ("trailing comma", "x,"),
    ("leading comma", ",x"),
    ("only comma", ","),
    ("empty", ""),
    ("blank", "   "),
    ("tab only", "\t"),
    ("unclosed paren", "(x"),
    ("unopened paren", "x)"),
    ("unbalanced nested", "sin((x)"),
    ("unclosed call", "sin("),
    ("dangling power", "x**"),
    ("dangling plus", "x +"),
    ("lone at", "@"),
    ("juxtaposition", "x y"),
    ("number then name", "2x"),
    ("double dot", "x..T"),
    ("floor division", "x // y"),
    ("modulo", "x % y"),
    ("bitwise and", "x & y"),
    ("bitwise or", "x | y"),
    ("invert", "~x"),
    ("not", "not x"),
    ("shift", "x << 2"),
    ("is", "x is y"),
    ("in", "x in y"),
    ("hex literal", "0x10"),
    ("binary literal", "0b101"),
    ("octal literal", "0o17"),
    ("complex literal", "1j*x"),
    ("True", "True*x"),
    ("None", "None"),
    ("Ellipsis", "..."),
    ("function without call", "sin"),
    ("function arity", "sin(x, y)"),
    ("function no args", "sin()"),
    ("undefined function no args", "f()"),
    ("constant called", "pi(x)"),
    ("bad keyword", "sum(x, bogus=1)"),
    ("bad axis value", "sum(x, axis=5)"),
    ("axis not a number", "sum(x, axis=y)"),
    ("keepdims not bool", "sum(x, keepdims=1)"),
    ("keyword on unary", "sin(x=1)"),
    ("reserved word", "lambda"),
    ("CRLF split", "x\r\ny"),
]

# Oversized input: must be refused in under a second.
HUGE = [
    ("2**10**10", "2**10**10"),
    ("9^9^9", "9^9^9"),
    ("10**100000", "10**100000"),
    ("1e999999", "1e999999"),
    ("1e-999999", "1e-999999"),
    ("negative tower", "2**-10**10"),
    ("power of power", "(2**1000)**1000"),
    ("tower of twos", "2**2**2**2**2"),
    ("float power", "10.0**400000"),
    ("huge times x", "x*99999**99999"),
    ("6000-digit literal", "1" * 6000),
    ("long sum", "x+" * 60000 + "x"),
    ("long name", "x" * 100001),
    ("long blank", " " * 100001 + "x"),
    ("deep parens", "(" * 150 + "x" + ")" * 150),
    ("deep calls", "sin(" * 150 + "x" + ")" * 150),
    ("deep brackets", "[" * 5000 + "x" + "]" * 5000),
    ("power chain", "x**" * 200 + "x"),
    ("unary minus chain", "0 + " + "-" * 3000 + "x"),
    ("unary plus chain", "+" * 99990 + "x"),
    ("deep parens 10000", "(" * 10000 + "x" + ")" * 10000),
]

# Option errors: (id, argv).
OPTIONS = [
    ("shape letters", ["x", "--shape", "A=2y3"]),
    ("shape zero", ["x", "--shape", "A=0x3"]),
    ("shape negative", ["x", "--shape", "A=-1"]),
    ("shape no equals", ["x", "--shape", "A"]),
    ("shape no name", ["x", "--shape", "=2x3"]),
    ("shape no dims", ["x", "--shape", "A="]),
    ("shape three dims", ["x", "--shape", "A=2x3x4"]),
    ("shape fraction", ["x", "--shape", "A=1.5"]),
    ("shape trailing x", ["x", "--shape", "A=2x"]),
    ("shape leading digit of a name", ["x", "--shape", "A=3y"]),
    ("shape enormous", ["x", "--shape", "A=99999999999999999999x2"]),
    ("shape over size limit", ["sum(A)", "--shape", "A=1000x1000"]),
    ("shape twice", ["x", "--shape", "A=2x3", "--shape", "A=3x2"]),
    ("shape bad name", ["x", "--shape", "1A=2"]),
    ("shape dotted name", ["x", "--shape", "A.b=2"]),
    ("shape dunder name", ["x", "--shape", "__class__=2"]),
    ("shape fullwidth name", ["x", "--shape", "\uff21=2"]),
    ("shape and let", ["x", "--shape", "x=2", "--let", "x=y"]),
    ("wrt undeclared tensor", ["A@x", *TENSOR, "--wrt", "B"]),
    ("wrt undeclared tensor 2", ["x.T", "--shape", "x=2", "--wrt", "y"]),
    ("wrt duplicate", ["x", "--wrt", "x,x"]),
    ("wrt empty item", ["x", "--wrt", "x,,y"]),
    ("wrt dotted", ["x", "--wrt", "os.system"]),
    ("wrt expression", ["x", "--wrt", "x-1"]),
    ("wrt empty", ["x", "--wrt", ""]),
    ("wrt comma", ["x", "--wrt", ","]),
    ("wrt digit first", ["x", "--wrt", "1x"]),
    ("wrt underscore", ["x", "--wrt", "_x"]),
    ("wrt Cyrillic", ["x", "--wrt", "\u0445"]),
    ("wrt intermediate", ["y", "--let", "y=x**2", "--wrt", "y"]),
    ("wrt no value", ["x", "--wrt"]),
    ("matmul inner dims", ["X@W", "--shape", "X=2x3", "--shape", "W=2x3"]),
    ("vector matmul dims", ["x@W", "--shape", "x=3", "--shape", "W=2x2"]),
    ("broadcast matrices", ["A+B", "--shape", "A=2x3", "--shape", "B=3x2"]),
    ("broadcast bias", ["A+b", "--shape", "A=2x3", "--shape", "b=2"]),
    ("hadamard mismatch", ["hadamard(A, B)", "--shape", "A=2x3", "--shape", "B=2"]),
    ("scalar matmul", ["x@y"]),
    ("softmax scalar", ["softmax(x)"]),
    ("outer of matrix", ["outer(A, x)", *TENSOR]),
    ("axis out of range", ["sum(x, axis=1)", "--shape", "x=3"]),
    ("variable called", ["A(x)", *TENSOR]),
    ("array component list", ["x, x", "--shape", "x=3"]),
    ("let no equals", ["y", "--let", "y"]),
    ("let no name", ["y", "--let", "=x"]),
    ("let no body", ["y", "--let", "y="]),
    ("let self cycle", ["y", "--let", "y=y+1"]),
    ("let cycle", ["y", "--let", "y=z", "--let", "z=y"]),
    ("let bad name", ["y", "--let", "1y=x"]),
    ("let two components", ["y", "--let", "y=x,z"]),
    ("let twice", ["y", "--let", "y=x", "--let", "y=z"]),
    ("let dunder name", ["x", "--let", "__import__=x"]),
    ("let injection", ["y", "--let", f"y=open('{S}', 'w')"]),
    ("let import", ["y", "--let", f"y=__import__('os').system('touch {S}')"]),
    ("let shadows function", ["sin(x)", "--let", "sin=x"]),
    ("at no equals", ["x", "--at", "x"]),
    ("at word", ["x", "--at", "x=abc"]),
    ("at log pole", ["log(x)", "--at", "x=0"]),
    ("at reciprocal pole", ["1/x", "--at", "x=0"]),
    ("at sqrt negative", ["sqrt(x)", "--at", "x=-1"]),
    ("at twice", ["x", "--at", "x=1,x=2"]),
    ("at division by zero", ["x", "--at", "x=1/0"]),
    ("at too large", ["x**2", "--at", "x=1e400"]),
    ("at unknown name", ["x", "--at", "y=1"]),
    ("at missing value", ["x*y", "--at", "x=1"]),
    ("at no name", ["x", "--at", "=1"]),
    ("at trailing comma", ["x", "--at", "x=1,"]),
    ("at nan", ["x", "--at", "x=nan"]),
    ("at inf", ["x", "--at", "x=inf"]),
    ("at injection", ["x", "--at", f"x=open('{S}', 'w')"]),
    ("at import", ["x", "--at", "x=__import__('os')"]),
    ("at huge", ["x", "--at", "x=2**10**10"]),
    ("at fullwidth digit", ["x", "--at", "x=\uff11"]),
    ("at undefined function", ["f(x)", "--at", "x=1"]),
    ("layout unknown", ["x", "--layout", "sideways"]),
    ("layout empty", ["x", "--layout", ""]),
    ("layout capitalised", ["x", "--layout", "Numerator"]),
    ("format unknown", ["x", "--format", "xml"]),
    ("no expression", []),
    ("unknown option", ["x", "--bogus"]),
    ("extra argument", ["x", "y"]),
    ("max-length zero", ["x", "--max-length", "0"]),
    ("max-depth negative", ["x", "--max-depth", "-1"]),
    ("max-entries word", ["x", "--max-entries", "abc"]),
    ("simplify-timeout zero", ["x", "--simplify-timeout", "0"]),
    ("chain without let", ["x**2", "--wrt", "x", "--chain"]),
    ("in-terms-of-output scalar", ["sigmoid(x)", "--in-terms-of-output"]),
    ("in-terms-of-output no function", ["X@W", "--wrt", "W", "--shape", "X=2x2",
                                        "--shape", "W=2x2", "--in-terms-of-output"]),
    ("entries over limit", ["X@W", "--wrt", "W", "--shape", "X=300x300",
                            "--shape", "W=300x300"]),
    ("no variables", ["2 + 3"]),
]

EXPRESSIONS = INJECTIONS + CHARACTERS + SYNTAX + HUGE
CORPUS = ([(f"expr: {i}", [e]) for i, e in EXPRESSIONS]
          + [(f"option: {i}", argv) for i, argv in OPTIONS])
HUGE_IDS = {f"expr: {i}" for i, _ in HUGE} | {"option: shape enormous",
                                              "option: entries over limit",
                                              "option: at huge"}


def test_corpus_is_large_and_ids_are_unique():
    assert len(CORPUS) >= 110
    ids = [i for i, _ in CORPUS]
    assert len(ids) == len(set(ids))


@pytest.fixture
def no_sentinel():
    if os.path.exists(SENTINEL):
        os.unlink(SENTINEL)
    yield
    created = os.path.exists(SENTINEL)
    if created:
        os.unlink(SENTINEL)
    assert not created, "an injection payload was executed"


def run(argv: list[str]):
    return CliRunner().invoke(main, argv)


#: Oversized input is refused before any real work: at most this many budget checks
#: (one per node evaluated, entry differentiated or printed; see ``conftest.Work``).
UP_FRONT_CHECKS = 50


@pytest.mark.parametrize("argv", [argv for _, argv in CORPUS], ids=[i for i, _ in CORPUS])
def test_bad_input_is_refused(argv, no_sentinel, request, work):
    result = run(argv)
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("Error:") for line in lines), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "internal error" not in result.output
    assert result.stdout == "" or result.stdout.startswith("Usage:")
    if request.node.callspec.id in HUGE_IDS:
        assert work.checks <= UP_FRONT_CHECKS, f"{work.checks} checks before refusing"


@pytest.mark.parametrize("text", [e for _, e in EXPRESSIONS],
                         ids=[i for i, _ in EXPRESSIONS])
def test_bad_expression_raises_jacobian_error_in_api(text, no_sentinel, work):
    """The library raises its own error type, never anything else, before real work."""
    with pytest.raises(JacobianError):
        jacobian(text)
    assert work.checks <= UP_FRONT_CHECKS, f"{work.checks} checks before refusing"


@pytest.mark.parametrize("text, message", [
    (f"__import__('os').system('touch {S}')", "strings are not allowed"),
    ("x.__class__", "attribute access"),
    ("__builtins__", "may not start with '_'"),
    ("lambda x: x", "lambdas are not allowed"),
    ("[x for x in y]", "comprehensions are not allowed"),
    ("(y := 3)", "assignment expressions are not allowed"),
    ("x < y", "comparisons are only allowed as the condition of where"),
    ("x and y", "boolean operators are not allowed"),
    ("x = 1", "statements are not allowed"),
    ("x # c", "comments are not allowed"),
    ("x \\\n+ y", "backslashes are not allowed"),
    ("x[0]", "a scalar has no entries to index"),
    ("x[y]", "indices are integer literals"),
    ("\u0445 + 1", "U+0445"),
    ("x\u200b+y", "U+200B"),
    ("x\x00", "U+0000"),
    ("2**10**10", "too large"),
    ("1e999999", "digits"),
    ("x+" * 60000 + "x", "over the limit of 100,000"),
    ("(" * 150 + "x" + ")" * 150, "nested deeper than 100"),
    ("x,,y", "empty component"),
])
def test_refusal_names_the_problem(text, message):
    result = run([text])
    assert result.exit_code == 2
    first = next(line for line in result.stderr.splitlines() if line.startswith("Error:"))
    assert message in first


def test_parse_error_shows_caret_under_column():
    result = run(["x + y[i]"])
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: indices are integer literals")
    assert lines[0].endswith("(column 7)")
    assert lines[1] == "  x + y[i]"
    assert lines[2] == "        ^"


def test_error_output_goes_to_stderr_only():
    result = run(["x +"])
    assert result.stdout == ""
    assert result.stderr.startswith("Error:")


@pytest.mark.parametrize("name", ["eval", "exec", "open", "compile", "print", "system"])
def test_builtin_names_are_refused_with_their_name(name, no_sentinel):
    """Calling a Python builtin's name runs nothing: it is an unknown function, refused."""
    result = run([f"{name}(x)", "--format", "json"])
    assert result.exit_code == 2
    assert f"unknown function {name!r}" in result.output


def test_limits_can_be_raised():
    """A refusal names its option; raising the limit lets the input through."""
    text = "(" * 120 + "x" + ")" * 120
    assert run([text]).exit_code == 2
    assert run([text, "--max-depth", "200"]).exit_code == 0
    assert run(["10**6000 + x**2"]).exit_code == 2
    result = run(["10**6000 + x**2", "--max-digits", "7000", "--format", "json"])
    assert result.exit_code == 0
    assert '"2*x"' in result.stdout


# -- numbers between Python's int/str limit and --max-digits --------------------------------

def test_integer_literal_within_digit_limit_is_accepted():
    """Python's own 4,300-digit int/str limit must not undercut --max-digits."""
    import sys
    before = sys.get_int_max_str_digits()
    result = run(["1" * 4500 + "*x"])
    assert result.exit_code == 0, result.output
    assert sys.get_int_max_str_digits() == before  # the interpreter's limit is restored


def test_max_digits_raises_the_integer_literal_limit():
    result = run(["1" * 4500 + "*x", "--max-digits", "10000"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("argv", [["10**4400*x"], ["10**4400*x", "--format", "json"],
                                  ["10**6000*x", "--max-digits", "7000"]])
def test_large_constant_within_limit_is_printed(argv):
    result = run(argv)
    assert result.exit_code == 0, result.output
    assert "1" + "0" * 4400 in result.stdout


# -- once-known bugs, now regression tests ---------------------------------------------------

def test_empty_at_is_refused():
    result = run(["x", "--at", ""])
    assert result.exit_code == 2


def test_let_on_constant_name_is_refused():
    result = run(["pi*x", "--let", "pi=x"])
    assert result.exit_code == 2, result.output


def test_shape_on_constant_name_is_refused():
    result = run(["pi + A", "--shape", "pi=2", "--shape", "A=2"])
    assert result.exit_code == 2, result.output
