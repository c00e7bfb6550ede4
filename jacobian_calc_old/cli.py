"""The ``jac`` command: a thin layer over the public API."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings

import click

from .errors import JacobianError
from .limits import DEFAULT_LIMITS, Limits

EPILOG = """\b
Examples:
  jac "sin(x1-x2), cos(x1-x2)" --wrt x1,x2
  jac "10*x^2*y^2" --layout denominator
  jac "y2**2" --wrt w1 --let y1=a*w1 --let y2=y1+b1 --chain
  jac "exp(l1)/(exp(l1)+exp(l2)), exp(l2)/(exp(l1)+exp(l2))" --simplify
  jac "x1*x2" --at x1=0.5,x2=2 --format json
  jac "A@x" --wrt A --shape A=2x3 --shape x=3
  jac "X@W" --wrt W --shape X=2x3 --shape W=3x2 --flatten --format latex
  jac "X@W" --wrt W --shape X=2x3 --shape W=3x2 --derivation --standalone
  jac "mean(sigmoid(X@W + b))" --wrt W,b --shape X=4x3 --shape W=3x2 --shape b=2 --backprop
  jac --rules
"""


def _limits(options: dict) -> Limits:
    values = {name: options[name] for name in
              ("max_length", "max_depth", "max_digits", "max_size", "max_entries")
              if options.get(name) is not None}
    if options.get("simplify_timeout") is not None:
        values["simplify_seconds"] = options["simplify_timeout"]
    return Limits(**{**DEFAULT_LIMITS.__dict__, **values})


def _lets(items: tuple[str, ...]) -> dict[str, str]:
    lets: dict[str, str] = {}
    for item in items:
        name, sep, expr = item.partition("=")
        if not sep or not name.strip():
            raise JacobianError(f"malformed --let {item!r}: expected NAME=EXPR")
        if name.strip() in lets:
            raise JacobianError(f"intermediate {name.strip()!r} is defined twice")
        lets[name.strip()] = expr
    return lets


def _shapes(items: tuple[str, ...]) -> dict:
    from .shapes import parse_shape_option
    shapes: dict = {}
    for item in items:
        name, dims = parse_shape_option(item)
        if name in shapes:
            raise JacobianError(f"{name} is declared twice with --shape")
        shapes[name] = dims
    return shapes


def _format(options: dict) -> str:
    """--derivation and --standalone are LaTeX: they turn the default text format into it."""
    if not (options["derivation"] or options["standalone"]) or options["fmt"] == "latex":
        return options["fmt"]
    if options["fmt"] == "json":
        raise JacobianError("--derivation and --standalone produce LaTeX, not JSON")
    return "latex"


def _latex_settings(options: dict) -> dict:
    return {"derivation": options["derivation"], "standalone": options["standalone"],
            "matrix_env": options["matrix_env"], "transpose": options["transpose_tex"],
            "element_style": options["element_style"]}


def write_output(text: str, path: str | None) -> None:
    """Print, or write atomically: a temporary file renamed over the target."""
    if path is None:
        click.echo(text)
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".jac-", suffix=".tmp")
    except OSError as exc:
        raise JacobianError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise JacobianError(f"cannot write {path}: {exc.strerror}") from None


@click.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                               "max_content_width": 100})
@click.argument("exprs", required=False)
@click.option("--wrt", help="Inputs, comma-separated, in column order (default: all names).")
@click.option("--layout", type=click.Choice(["numerator", "denominator"]),
              default="numerator", show_default=True,
              help="numerator: m x n (rows are gradients); denominator: the transpose.")
@click.option("--let", "lets", multiple=True, metavar="NAME=EXPR",
              help="Define an intermediate quantity (repeatable).")
@click.option("--chain", is_flag=True, help="Also show the factor Jacobians of the chain rule.")
@click.option("--simplify/--no-simplify", default=False, show_default=True,
              help="Simplify each entry (within --simplify-timeout seconds).")
@click.option("--at", metavar="NAME=VALUE,...", help="Evaluate numerically at a point.")
@click.option("--format", "fmt", type=click.Choice(["text", "latex", "json"]),
              default="text", show_default=True)
@click.option("--shape", "shapes", multiple=True, metavar="NAME=DIMS",
              help="Declare a matrix (A=2x3) or vector (x=3); undeclared names are scalars.")
@click.option("--flatten", is_flag=True, help="Show a 3D/4D Jacobian as a 2-D matrix.")
@click.option("--full", is_flag=True, help="Show every block of a large tensor.")
@click.option("--in-terms-of-output", is_flag=True,
              help="Write element-wise and softmax derivatives via their output (Y, p).")
@click.option("--backprop", is_flag=True,
              help="Gradients w.r.t. --wrt by contraction (explicit) and by rules (compact).")
@click.option("--upstream", default="dY", show_default=True, metavar="NAME",
              help="Name of the upstream gradient of a non-scalar output.")
@click.option("--check", is_flag=True, help="With --backprop: exit 1 if the routes disagree.")
@click.option("--rules", is_flag=True, help="List the compact backprop rules and exit.")
@click.option("--derivation", is_flag=True,
              help="LaTeX: the steps as slides show them (implies --format latex).")
@click.option("--standalone", is_flag=True,
              help="LaTeX: a complete document for pdflatex (implies --format latex).")
@click.option("--matrix-env", type=click.Choice(["pmatrix", "bmatrix"]), default="pmatrix",
              show_default=True, help="LaTeX matrix environment.")
@click.option("--transpose", "transpose_tex", type=click.Choice([r"^{\top}", "^T"]),
              default=r"^{\top}", show_default=True, help="LaTeX transpose mark.")
@click.option("--element-style", type=click.Choice(["upper", "lower"]), default="upper",
              show_default=True, help="LaTeX entries of A: A_{ij} (upper) or a_{ij} (lower).")
@click.option("--spy", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw the non-zero pattern of the flattened Jacobian (needs matplotlib).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to FILE (atomically) instead of standard output.")
@click.option("--max-length", type=click.IntRange(1), default=None,
              help=f"Longest expression accepted [{DEFAULT_LIMITS.max_length:,}].")
@click.option("--max-depth", type=click.IntRange(1), default=None,
              help=f"Deepest nesting accepted [{DEFAULT_LIMITS.max_depth}].")
@click.option("--max-digits", type=click.IntRange(1), default=None,
              help=f"Most digits of any exact number [{DEFAULT_LIMITS.max_digits:,}].")
@click.option("--max-size", type=click.IntRange(1), default=None,
              help=f"Most entries of a declared variable [{DEFAULT_LIMITS.max_size:,}].")
@click.option("--max-entries", type=click.IntRange(1), default=None,
              help=f"Most entries of a Jacobian [{DEFAULT_LIMITS.max_entries:,}].")
@click.option("--simplify-timeout", type=click.FloatRange(0, min_open=True), default=None,
              help=f"Seconds per entry for --simplify [{DEFAULT_LIMITS.simplify_seconds:g}].")
@click.version_option(package_name="jacobian_calc")
def main(exprs, **options) -> None:
    """Explicit symbolic Jacobians, in numerator or denominator layout.

    EXPRS is a comma-separated list of components, e.g. "sin(x1-x2), cos(x1-x2)".
    Operators: + - * / ** (or ^) and, with --shape, @ and .T; functions: sin cos
    tan sec csc cot asin acos atan sinh cosh tanh exp log ln sqrt abs sign
    sigmoid relu softplus step, and sum mean softmax hadamard outer ones_like
    on arrays;
    constants pi and E. Any other name called like f(x1, x2) is an undefined
    function whose derivatives stay symbolic. ReLU's derivative is 1 at 0.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run(exprs, options)
    except JacobianError as exc:
        _fail(exc)
    except click.exceptions.Exit:
        raise
    except RecursionError:
        _fail(JacobianError("expression too deeply nested to process",
                            hint="simplify the input"))
    except MemoryError:
        _fail(JacobianError("out of memory", hint="ask for a smaller Jacobian"))
    except Exception as exc:  # a bug: still one line, never a traceback
        _fail(JacobianError(f"internal error ({type(exc).__name__}: {exc})"))


def _fail(exc: JacobianError) -> None:
    click.echo(f"Error: {exc}", err=True)
    caret = exc.caret()
    if caret:
        click.echo(caret, err=True)
    sys.exit(2)


def run(exprs: str | None, options: dict) -> None:
    """Carry out one ``jac`` invocation (errors propagate as JacobianError)."""
    from . import report
    if options.get("rules"):
        from .backprop_report import rules_text
        write_output(rules_text(), options["output"])
        return
    if exprs is None:
        raise JacobianError("no expression given; try: jac \"sin(x1-x2), cos(x1-x2)\" "
                            "--wrt x1,x2 (see jac --help)")
    limits = _limits(options)
    request = report.Request(
        exprs=exprs, wrt=options["wrt"], layout=options["layout"],
        lets=_lets(options["lets"]), shapes=_shapes(options["shapes"]),
        chain=options["chain"], simplify=options["simplify"], at=options["at"],
        fmt=_format(options), flatten=options["flatten"], full=options["full"],
        in_terms_of_output=options["in_terms_of_output"], backprop=options["backprop"],
        upstream=options["upstream"], check=options["check"], limits=limits,
        latex=_latex_settings(options), spy=options["spy"])
    from .parser import int_digits
    with int_digits(10 * limits.max_digits):  # exact results may print long integers
        text, notes = report.produce(request)
    for note in notes:
        click.echo(f"Warning: {note}", err=True)
    write_output(text, options["output"])
    if request.spy:
        report.write_spy(request)
    if request.check and any(n.startswith("DISAGREE") for n in notes):
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
