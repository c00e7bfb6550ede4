"""Options are never ignored: a repeated single-value option, or one that has no
effect on what was asked, is an error naming it.

click keeps the last of a repeated option (``--layout numerator --layout
denominator``) and accepts options the request never reads (``--at`` with
``--backprop``); both are refused here, before anything is computed.
"""

from __future__ import annotations

from collections import defaultdict

import click
from click.core import ParameterSource

from .. import JacobianError
from ..render import check_target

#: Where the command keeps its arguments as given (set by the command's parse_args).
ARGS_KEY = "jacobian_calc.args"


def given_options(ctx: click.Context) -> set[str]:
    """Names of the options the user gave (on the command line or in the environment)."""
    explicit = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return {p.name for p in ctx.command.get_params(ctx)
            if isinstance(p, click.Option) and ctx.get_parameter_source(p.name) in explicit}


def repeated(ctx: click.Context, args: list[str]) -> list[str]:
    """Messages for single-value options given more than once in ``args``."""
    options = [p for p in ctx.command.get_params(ctx) if isinstance(p, click.Option)]
    by_flag = {flag: p for p in options for flag in p.opts + p.secondary_opts}
    seen: dict[str, list[str]] = defaultdict(list)
    i = 0
    while i < len(args) and args[i] != "--":
        token = args[i]
        flag, value = _split(token, by_flag)
        p = by_flag.get(flag)
        if p is not None and not p.is_flag and value is None:
            i += 1  # the option's value is the next token
            value = args[i] if i < len(args) else ""
        if p is not None and not p.multiple:
            seen[p.name].append(flag if p.is_flag else f"{flag} {value}")
        i += 1
    return [f"{' and '.join(uses)}: {_names(by_flag, name)} may be given once"
            for name, uses in seen.items() if len(uses) > 1]


def _split(token: str, by_flag: dict) -> tuple[str, str | None]:
    """``--layout=x`` -> ("--layout", "x"); ``-ofile`` -> ("-o", "file"); else (token, None)."""
    if token.startswith("--") and "=" in token:
        flag, _, value = token.partition("=")
        return flag, value
    if not token.startswith("--") and len(token) > 2 and token[:2] in by_flag:
        return token[:2], token[2:]
    return token, None


def _names(by_flag: dict, name: str) -> str:
    return "/".join(f for f, p in by_flag.items() if p.name == name and f.startswith("--"))


def _flag(ctx: click.Context, name: str) -> str:
    """How the user wrote option ``name`` (``--no-simplify`` or ``--simplify``)."""
    for p in ctx.command.get_params(ctx):
        if p.name == name:
            value = ctx.params.get(name)
            if p.secondary_opts and value is False:
                return p.secondary_opts[0]
            return p.opts[-1] if p.opts[-1].startswith("--") else p.opts[0]
    return "--" + name.replace("_", "-")


#: Options that apply only to LaTeX output.
LATEX_ONLY = ("matrix_env", "transpose_tex", "element_style")
#: What --backprop does not read.
NOT_WITH_BACKPROP = ("chain", "in_terms_of_output", "flatten", "layout", "shared", "compact",
                     "index_form")
#: What only --backprop reads.
BACKPROP_ONLY = ("check", "upstream", "onehot", "inline", "expand")
#: What --hessian does not read, and what it reads besides the common options.
NOT_WITH_HESSIAN = ("chain", "in_terms_of_output", "upstream", "inline", "expand", "shared",
                    "compact", "index_form")
HESSIAN_READS = ("check", "onehot", "signs")


def inapplicable(ctx: click.Context, exprs: str | None, options: dict,
                 given: set[str]) -> list[str]:
    """Messages for the given options that would have no effect on this request."""
    fmt = options["fmt"]
    if options["derivation"] or options["standalone"]:
        fmt = "latex" if fmt == "text" else fmt
    rules = {}
    if options.get("rules"):
        rules.update({n: "--rules" for n in given if n not in ("rules", "output")})
    if options.get("hessian"):
        rules.update({n: "--hessian" for n in NOT_WITH_HESSIAN if n in given})
    elif options.get("backprop"):
        rules.update({n: "--backprop" for n in NOT_WITH_BACKPROP if n in given})
    if not options.get("backprop") and not options.get("hessian"):
        rules.update({n: "without --backprop" for n in BACKPROP_ONLY if n in given})
    if not options.get("hessian") and "signs" in given:
        rules["signs"] = "without --hessian"
    if "compact" in given and options.get("at") is not None:
        rules.setdefault("compact", "with --at")
    if "simplify_timeout" in given and not options.get("simplify"):
        rules.setdefault("simplify_timeout", "without --simplify")
    if fmt != "latex":
        rules.update({n: "without --format latex" for n in LATEX_ONLY if n in given})
    if "full" in given and (fmt != "text" or options.get("at") is not None):
        rules.setdefault("full", "with --at" if options.get("at") is not None
                         else f"with --format {fmt}")
    if "shared" in given and (fmt == "latex" or options.get("at") is not None):
        rules.setdefault("shared", "with --at" if options.get("at") is not None
                         else "with --format latex")
    messages = [f"{_flag(ctx, name)} has no effect {_with(where)}" for name, where in rules.items()]
    if options.get("rules") and exprs is not None:
        messages.insert(0, "--rules takes no expression")
    return messages


def _with(where: str) -> str:
    return where if where.startswith(("with ", "without ")) else f"with {where}"


def check(ctx: click.Context, exprs: str | None, options: dict) -> None:
    """Refuse repeated single-value options and options that do not apply."""
    problems = repeated(ctx, ctx.meta.get(ARGS_KEY, []))
    problems += inapplicable(ctx, exprs, options, given_options(ctx))
    if problems:
        raise JacobianError("; ".join(problems),
                            hint="give each option once, and only where it applies "
                                 "(see jac --help)")
    for option in ("output", "spy"):  # a directory or a device: refused before any work
        if options.get(option) == "":
            raise JacobianError(f"--{option} needs a file name")
        if options.get(option) is not None:
            check_target(options[option])
