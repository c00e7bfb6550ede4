"""The ``jac`` command: a thin layer over the public API.

``--help``, ``--version`` and ``--rules`` are answered from the operation
registry alone; the derivations (and SymPy) are imported only when there is
something to compute.
"""

from __future__ import annotations

import gc
import sys
import warnings

import click

from .. import DEFAULT_LIMITS, JacobianError, progress
from ..render import functions_text, rules_text
from . import checks, start
from .options import from_options
from .output import fail, interrupted, write_output
from .words import cli_words

EPILOG = """\b
Examples:
  jac "sin(x1-x2), cos(x1-x2)" --wrt x1,x2
  jac "10*x^2*y^2" --layout denominator
  jac "y2**2" --wrt w1 --let y1=a*w1 --let y2=y1+b1 --chain
  jac "f(g(x))" --function f,g
  jac "x1*x2" --at x1=0.5,x2=2 --format json
  jac "A@x" --wrt A --shape A=2x3 --shape x=3
  jac "trace(A@X)" --wrt X --shape A=2x2 --shape X=2x2
  jac "X@W" --wrt W --shape X=2x3 --shape W=3x2 --flatten --format latex
  jac "mean(sigmoid(X@W + b))" --wrt W,b --shape X=4x3 --shape W=3x2 --shape b=2 --backprop
  jac "-sum(T*log(softmax(Z)))" --wrt Z --shape Z=2x3 --shape T=2x3 --backprop --onehot T
  jac "x.T@A@x" --wrt x --shape x=3 --shape A=3x3 --hessian
  jac "softmax(l)" --wrt l --shape l=3 --compact
  jac "X@W + b" --wrt W --shape X=4x3 --shape W=3x2 --shape b=2 --backprop --claim "dW = X.T @ dY"
  jac "mean(tanh(X@W))" --wrt W --shape X=4x3 --shape W=3x2 --backprop --format numpy --check
  jac --rules
"""

HELP = """Explicit symbolic Jacobians, in numerator or denominator layout.

EXPRS is a comma-separated list of components, e.g. "sin(x1-x2), cos(x1-x2)"
(an expression may start with '-'). Operators: + - * / ** (or ^) and, with
--shape, @ (matrix product) and .T; NumPy broadcasting. Functions:

\b
{functions}

Undefined functions such as f(g(x)) must be declared with --function.
ReLU's derivative is 1 at 0; sign and step have derivative 0.
"""


class ExpressionFirstCommand(click.Command):
    """A command whose expression may start with '-' (``jac "-sum(T*log(P))"``).

    A token that starts with '-' but is no option of the command, and is not
    the value of the option before it, is the expression.
    """

    def format_help_text(self, ctx, formatter):
        self.help = HELP.format(functions=functions_text(90))  # operations registered by now
        super().format_help_text(ctx, formatter)

    def parse_args(self, ctx, args):
        args = self._expression_last(ctx, list(args))
        ctx.meta[checks.ARGS_KEY] = list(args)
        return super().parse_args(ctx, args)

    def _expression_last(self, ctx, args: list[str]) -> list[str]:
        if "--" in args:
            return args
        takes_value = {name for p in self.get_params(ctx) if isinstance(p, click.Option)
                       and not p.is_flag for name in p.opts}
        known = {name for p in self.get_params(ctx) if isinstance(p, click.Option)
                 for name in p.opts + p.secondary_opts}
        previous = None
        for i, token in enumerate(args):
            if (token.startswith("-") and len(token) > 1 and token.split("=")[0] not in known
                    and not token.startswith("--") and previous not in takes_value):
                return args[:i] + args[i + 1:] + ["--", token]
            previous = token
        return args


@click.command(cls=ExpressionFirstCommand, epilog=EPILOG, help=HELP,
               context_settings={"help_option_names": ["-h", "--help"],
                                 "max_content_width": 100})
@click.argument("exprs", required=False)
@click.option("--wrt", help="Inputs, comma-separated, in column order (default: all names).")
@click.option("--layout", type=click.Choice(["numerator", "denominator"]),
              default="numerator", show_default=True,
              help="numerator: m x n (rows are gradients); denominator: the transpose.")
@click.option("--let", "lets", multiple=True, metavar="NAME=EXPR",
              help="Define an intermediate quantity (repeatable).")
@click.option("--function", "functions", multiple=True, metavar="F,G",
              help="Declare undefined functions of scalars, e.g. --function f,g.")
@click.option("--chain", is_flag=True, help="Also show the factor Jacobians of the chain rule.")
@click.option("--simplify/--no-simplify", default=False, show_default=True,
              help="Simplify each entry (within --simplify-timeout seconds).")
@click.option("--at", metavar="NAME=VALUE,...",
              help="Evaluate numerically at a point (x=0.5, A=[[1,2],[3,4]], or @point.json).")
@click.option("--format", "fmt", type=click.Choice(["text", "latex", "json", "numpy", "torch"]),
              default="text", show_default=True,
              help="numpy, torch: a Python module of the --backprop steps (or of the compact "
                   "--hessian).")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=DIMS",
              help="Declare a matrix (A=2x3) or vector (x=3); undeclared names are scalars.")
@click.option("--symmetric", "symmetric", multiple=True, metavar="S",
              help="A declared square matrix is symmetric (S_i_j and S_j_i one symbol): "
                   "its derivative is G + G.T - diag(G), the Matrix Cookbook's.")
@click.option("--flatten", is_flag=True, help="Show a 3D/4D Jacobian as a 2-D matrix.")
@click.option("--full", is_flag=True, help="Show every block of a large tensor.")
@click.option("--in-terms-of-output", is_flag=True,
              help="Write element-wise and softmax derivatives via their output (Y, p).")
@click.option("--index-form", is_flag=True,
              help="Also the Jacobian in index notation, for every size: "
                   "(∂Y/∂W)[i,j,k,l] = X[i,k] δ[j,l].")
@click.option("--backprop", is_flag=True,
              help="Gradients w.r.t. --wrt as named backward steps, each checked.")
@click.option("--upstream", default=None, metavar="NAME",
              help="Name of the upstream gradient of an array output [d + the output's "
                   "name, e.g. dY].")
@click.option("--onehot", default=None, metavar="T",
              help="With --backprop: targets whose rows are one-hot (sum to 1), so "
                   "softmax with cross-entropy gives dZ = (P - T) / N.")
@click.option("--inline", is_flag=True,
              help="With --backprop: gradients fully substituted, not in the step names.")
@click.option("--expand", is_flag=True,
              help="With --backprop: also the explicit gradient entry by entry, in the "
                   "variables' entries (small cases).")
@click.option("--hessian", is_flag=True,
              help="The Hessian w.r.t. --wrt (blocks for several variables), its symmetry "
                   "checked, and a compact form where one is found.")
@click.option("--signs", default=None, metavar="T",
              help="With --hessian: arrays whose entries are -1 or 1 (so T**2 = 1).")
@click.option("--check", is_flag=True,
              help="With --backprop or --hessian: exit 1 if the routes disagree; with "
                   "--format numpy|torch: also run the code and compare it.")
@click.option("--compact", is_flag=True,
              help="Also the compact Jacobian (diag(p) - outer(p, p), W.T; for a matrix "
                   "the linear map dY = X @ dW and its vec form), proved entry by entry; at "
                   "symbolic sizes (X=Nxd) proved for all sizes in index notation.")
@click.option("--claim", "claims", multiple=True, metavar="NAME=FORMULA",
              help="Check your answer, e.g. --claim \"dW = X.T @ dY\" (repeatable): "
                   "proved or refuted, and why; exit 1 if any is refuted.")
@click.option("--rules", is_flag=True, help="List the compact backprop rules and exit.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress line on a terminal (it shows for requests over a second).")
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
@click.option("--spy", type=str, default=None, metavar="FILE.png",
              help="Also draw the non-zero pattern of the flattened Jacobian (needs matplotlib).")
@click.option("-o", "--output", type=str, default=None, metavar="FILE",
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
              help=f"Most entries of a Jacobian or any array [{DEFAULT_LIMITS.max_entries:,}].")
@click.option("--max-nodes", type=click.IntRange(1), default=None,
              help=f"Most expression nodes one stage may build [{DEFAULT_LIMITS.max_nodes:,}].")
@click.option("--max-output", type=click.IntRange(1), default=None,
              help=f"Most characters of output [{DEFAULT_LIMITS.max_output:,}].")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None,
              help=f"Seconds for the whole request [{DEFAULT_LIMITS.timeout:g}].")
@click.option("--simplify-timeout", type=click.FloatRange(0, min_open=True), default=None,
              help=f"Seconds per entry for --simplify [{DEFAULT_LIMITS.simplify_seconds:g}].")
@click.option("--shared/--no-shared", default=None,
              help="Print subexpressions shared by entries once, as S1, S2, ... "
                   "[default: when that shortens a large output a lot].")
@click.version_option(package_name="jacobian_calc")
def main(exprs, **options) -> None:
    try:
        with warnings.catch_warnings(), start.interruptible():
            warnings.simplefilter("ignore")
            run(exprs, options)
    except JacobianError as exc:
        fail(exc)
    except click.exceptions.Exit:
        raise
    except KeyboardInterrupt:
        interrupted()
    except RecursionError:
        fail(JacobianError("expression too deeply nested to process",
                           hint="simplify the input"))
    except MemoryError:
        fail(JacobianError("out of memory", hint="ask for a smaller Jacobian"))
    except Exception as exc:  # a bug: still one line, never a traceback
        fail(JacobianError(f"internal error ({type(exc).__name__}: {exc})"))


def _freeze_imports() -> None:
    """Leave what the imports built (SymPy's tables, most of the heap) out of every later
    garbage collection, the one at exit included: a tenth of a small request's wall time.

    Once per process: a process that runs many requests (the tests) freezes only
    its start, never the garbage of the requests.
    """
    if not gc.get_freeze_count():
        gc.freeze()


def run(exprs: str | None, options: dict) -> None:
    """Carry out one ``jac`` invocation (errors propagate as JacobianError)."""
    context = click.get_current_context(silent=True)
    if context is not None:
        checks.check(context, exprs, options)
    if options.get("rules"):
        write_output(rules_text(), options["output"])
        return
    if exprs is None:
        raise JacobianError("no expression given; try: jac \"sin(x1-x2), cos(x1-x2)\" "
                            "--wrt x1,x2 (see jac --help)")
    from . import request  # noqa: PLC0415 - the derivations load only when needed
    _freeze_imports()
    stream = click.get_text_stream("stderr")
    reporter = None if options["quiet"] or not stream.isatty() else progress.Terminal(stream)
    with progress.reporting(reporter):
        text, notes, code = request.produce(from_options(exprs, options))
    for note in notes:
        click.echo(f"Warning: {cli_words(note)}", err=True)
    write_output(text, options["output"])
    if code:
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
