"""``python -m jacobian_calc`` runs the ``jac`` command."""

from .cli import main

if __name__ == "__main__":
    main()
