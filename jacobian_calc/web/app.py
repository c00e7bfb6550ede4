"""The web application of ``jac serve``: the page, its static files, and the HTTP API.

Routes
------
``GET /``
    The page (a static file: its script and styles are files too, so the
    Content-Security-Policy forbids every inline script and every other origin).
``POST /api/run``
    A JSON body of options (see :mod:`.form`) -> exactly what ``jac ... --format json``
    prints; ``{"error": ...}`` with 400 for bad input, 413 for a body over the limit,
    503 with ``Retry-After`` when every worker is busy and the queue is full.
``POST /api/page``
    The same body -> everything the page shows: the JSON document, the LaTeX of the
    result and of its derivation, the spy picture, the equivalent command line.
``GET /api/download?...&as=latex|standalone|json|numpy|torch``
    The result as a file, for the options in the page's URL.
``GET /api/status``
    The worker processes and the queue.
``GET /api/features``
    The modes and optional fields (compact Jacobians, claims) this ``jac`` has.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import form as forms
from .pool import Busy, JobFailed, Pool, PoolSettings

#: Sent with every answer: no inline scripts or styles, nothing from another origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Downloads: format -> (file name, media type).
DOWNLOADS = {
    "latex": ("jacobian.tex", "application/x-tex"),
    "standalone": ("jacobian-standalone.tex", "application/x-tex"),
    "json": ("jacobian.json", "application/json"),
    "numpy": ("backward_numpy.py", "text/x-python"),
    "torch": ("backward_torch.py", "text/x-python"),
}


@dataclass(frozen=True)
class ServerSettings:
    """What ``jac serve`` was started with.

    Attributes
    ----------
    pool : PoolSettings
        Workers, queue and memory cap.
    timeout : float
        Seconds one request may take (a request may ask for less).
    max_nodes : int or None
        The ``--max-nodes`` of every request (None: the calculator's default).
    max_body : int
        Bytes of the largest request body accepted.
    allowed_hosts : tuple of str or None
        Host names the server answers to (None: any). A server on localhost answers only
        to its local names, so a web page elsewhere cannot reach it by DNS rebinding.
    """

    pool: PoolSettings = PoolSettings()
    timeout: float = 20.0
    max_nodes: int | None = None
    max_body: int = 64 * 1024
    allowed_hosts: tuple | None = None


class Refused(Exception):
    """An answer other than 200: its status, message and extra headers."""

    def __init__(self, status: int, message: str, caret: str | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.caret, self.headers = status, message, caret, headers

    def response(self) -> JSONResponse:
        body = {"error": self.message}
        if self.caret:
            body["caret"] = self.caret
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def static_folder() -> str:
    """The folder of the page's files (the package's data)."""
    return str(resources.files("jacobian_calc.web") / "static")


def create_app(settings: ServerSettings | None = None) -> Starlette:
    """The Starlette application, its worker pool started and stopped with it."""
    settings = settings or ServerSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.pool = Pool(settings.pool)
        await app.state.pool.start()
        try:
            yield
        finally:
            await app.state.pool.stop()

    async def index(request: Request) -> Response:
        return FileResponse(f"{static_folder()}/index.html", media_type="text/html")

    async def run(request: Request) -> Response:
        try:
            form = await _body_form(request, settings.max_body)
            answer = await _execute(request, settings, form, [{"args": form.arguments("json")}])
            first = _first(answer)
            return Response(first["out"], media_type="application/json")
        except Refused as refused:
            return refused.response()

    async def page(request: Request) -> Response:
        try:
            form = await _body_form(request, settings.max_body)
            runs = [{"args": form.arguments("json")},
                    {"args": form.arguments("latex"), "optional": True},
                    {"args": form.arguments("derivation"), "optional": True}]
            if form.mode == "jacobian" and not form.at and _has_matplotlib():
                runs.append({"args": form.arguments("json"), "optional": True, "spy": True})
            answer = await _execute(request, settings, form, runs)
            first = _first(answer)
            json_run, latex_run, derivation_run, spy_run = answer["runs"] + [{}] * (4 - len(
                answer["runs"]))
            view = {"command": form.command_line(), "query": form.query(),
                    "document": json.loads(json_run["out"]),
                    "latex": _text_of(latex_run), "derivation": _text_of(derivation_run),
                    "spy": spy_run.get("spy"),
                    "warnings": _warnings(first["err"]), "status": first["code"]}
            return JSONResponse(view)
        except Refused as refused:
            return refused.response()

    async def download(request: Request) -> Response:
        items = [(k, v) for k, v in request.query_params.multi_items() if k != "as"]
        fmt = request.query_params.get("as", "latex")
        try:
            if fmt not in DOWNLOADS:
                raise Refused(400, f"unknown download {fmt[:40]!r}; choose "
                                   f"{', '.join(DOWNLOADS)}")
            try:
                form = forms.from_query(items)
            except forms.FormError as exc:
                raise Refused(400, str(exc)) from None
            answer = await _execute(request, settings, form, [{"args": form.arguments(fmt)}])
            name, media = DOWNLOADS[fmt]
            return Response(_first(answer)["out"], media_type=media,
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        except Refused as refused:
            return refused.response()

    async def status(request: Request) -> Response:
        return JSONResponse(request.app.state.pool.status())

    async def features(request: Request) -> Response:
        return JSONResponse(forms.features())

    routes = [
        Route("/", index),
        Route("/api/run", run, methods=["POST"]),
        Route("/api/page", page, methods=["POST"]),
        Route("/api/download", download),
        Route("/api/status", status),
        Route("/api/features", features),
        Mount("/static", StaticFiles(directory=static_folder()), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    if settings.allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.add_middleware(_SecurityHeaders)
    return app


class _SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer (pure ASGI middleware)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in names:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _body_form(request: Request, limit: int) -> forms.Form:
    """The form of the request's JSON body."""
    try:
        return forms.from_json(await _json_body(request, limit))
    except forms.FormError as exc:
        raise Refused(400, str(exc)) from None


async def _json_body(request: Request, limit: int) -> object:
    """The request's JSON body, read no further than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Refused(413, f"the request body is over the limit of {limit:,} bytes "
                           "(jac serve --max-body)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the request body is over the limit of {limit:,} bytes "
                               "(jac serve --max-body)")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(400, f"the body is not JSON ({str(exc)[:80]})") from None
    except RecursionError:
        raise Refused(400, "the body is nested too deeply") from None


async def _execute(request: Request, settings: ServerSettings, form: forms.Form,
                   runs: list[dict]) -> dict:
    """Run ``runs`` in a worker within the request's limits; refusals as :class:`Refused`."""
    timeout = settings.timeout
    if form.timeout is not None:
        if form.timeout > settings.timeout:
            raise Refused(400, f"timeout {form.timeout:g} s is over this server's limit of "
                               f"{settings.timeout:g} s (jac serve --timeout)")
        timeout = form.timeout
    max_nodes = settings.max_nodes
    if form.max_nodes is not None:
        if settings.max_nodes is not None and form.max_nodes > settings.max_nodes:
            raise Refused(400, f"max_nodes {form.max_nodes:,} is over this server's limit of "
                               f"{settings.max_nodes:,} (jac serve --max-nodes)")
        max_nodes = form.max_nodes
    job = {"runs": runs, "timeout": timeout, "max_nodes": max_nodes}
    try:
        answer = await request.app.state.pool.run(job)
    except Busy:
        raise Refused(503, "the server is busy; try again in a moment",
                      headers={"Retry-After": "2"}) from None
    except JobFailed as failed:
        raise Refused(failed.status, failed.message) from None
    if "error" in answer:
        raise Refused(400, answer["error"])
    return answer


def _first(answer: dict) -> dict:
    """The first run's answer, or its error as :class:`Refused` (the command's message)."""
    first = answer["runs"][0]
    if first.get("code") in (0, 1):
        return first
    lines = [line for line in first.get("err", "").splitlines()
             if not line.startswith("Warning: ")]
    message = lines[0] if lines else "the request failed"
    message = message[len("Error: "):] if message.startswith("Error: ") else message
    caret = "\n".join(lines[1:]) or None
    raise Refused(400, message, caret=caret)


def _text_of(run: dict) -> str | None:
    return run.get("out") if run.get("code") in (0, 1) else None


def _warnings(err: str) -> list[str]:
    return [line[len("Warning: "):] for line in err.splitlines() if line.startswith("Warning: ")]


def _has_matplotlib() -> bool:
    import importlib.util  # noqa: PLC0415
    return importlib.util.find_spec("matplotlib") is not None
