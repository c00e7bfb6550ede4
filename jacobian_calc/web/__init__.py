"""``jac serve``: the calculator as a web page and an HTTP API, for the lecture hall.

Needs the ``web`` extra (``pip install "jacobian_calc[web]"``: Starlette and uvicorn).
Every request runs the ``jac`` command in a worker process (:mod:`.worker`) of a small
pool (:mod:`.pool`) with the request's limits; :mod:`.form` turns a request into the
command's arguments, :mod:`.app` is the web application, :mod:`.serve` starts it.
The page typesets maths with KaTeX, shipped in ``static/katex`` with its licence.
"""
