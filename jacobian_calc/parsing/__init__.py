"""Reading user input: expressions, declared shapes, values of points.

Only this layer reads raw text, and nothing it reads is ever evaluated by
Python.
"""

from .parser import callable_names, int_digits, parse, parse_expression
from .shapes import declared_name, normalize_shapes, parse_dims, parse_shape_option

__all__ = ["parse", "parse_expression", "int_digits", "callable_names", "declared_name",
           "normalize_shapes", "parse_dims", "parse_shape_option"]
