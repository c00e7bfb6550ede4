"""The ``jac`` program (and ``python -m jacobian_calc``).

``jac serve ...`` starts the web page (:mod:`jacobian_calc.web`); anything else is the
calculator (:func:`jacobian_calc.cli.main.main`). Only a first argument that is exactly
``serve`` starts the server: an expression that is the name ``serve`` is written after
``--`` (``jac -- serve``) or after an option (``jac --wrt serve serve``).
"""

from __future__ import annotations

import sys

from .cli.start import guard


def main(argv: list[str] | None = None) -> None:
    """Run ``jac`` with ``argv`` (default: the command line)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["serve"]:
        from .web.command import serve_command  # noqa: PLC0415 - the web extra, when asked
        serve_command.main(args=args[1:], prog_name="jac serve")
    else:
        if argv is None:  # the program itself: Ctrl-C while it loads is one line and 130
            guard()
        from .cli.main import main as calculator  # noqa: PLC0415
        calculator.main(args=args)


if __name__ == "__main__":  # pragma: no cover
    main()
