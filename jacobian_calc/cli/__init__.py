"""The ``jac`` command line."""
