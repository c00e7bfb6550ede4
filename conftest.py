"""Collection set-up for the whole repository: the web server's modules (the ``web``
extra) are left out of the doctests when Starlette is not installed."""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("starlette") else [
    "jacobian_calc/web/app.py", "jacobian_calc/web/serve.py"]
