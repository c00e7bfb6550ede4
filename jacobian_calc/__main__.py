"""``python -m jacobian_calc`` is the ``jac`` command."""

from .cli.start import main

if __name__ == "__main__":  # pragma: no cover
    main()
