"""``jac serve``: the calculator as a local web page (needs the ``web`` extra)."""

from __future__ import annotations

import click

from ..cli.output import fail
from ..core.errors import JacobianError


@click.command(name="serve", context_settings={"help_option_names": ["-h", "--help"],
                                               "max_content_width": 100})
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (localhost only unless told otherwise).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes computing requests.")
@click.option("--queue", type=click.IntRange(0, 10_000), default=8, show_default=True,
              help="Requests waiting for a worker before the server answers 503.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=20.0,
              show_default=True, help="Seconds per request; a worker past it is stopped.")
@click.option("--max-nodes", type=click.IntRange(1), default=None,
              help="The --max-nodes of every request [the calculator's default].")
@click.option("--memory", type=click.IntRange(0), default=2048, show_default=True,
              help="MiB of address space of each worker (RLIMIT_AS; 0: no cap).")
@click.option("--max-body", type=click.IntRange(1), default=64 * 1024, show_default=True,
              help="Bytes of the largest request body.")
def serve_command(host, port, workers, queue, timeout, max_nodes, memory, max_body) -> None:
    """Serve the calculator as a web page and an HTTP API (POST /api/run).

    \b
    Examples:
      jac serve                    # http://127.0.0.1:8000/, this machine only
      jac serve --port 8080 --workers 4 --timeout 60
      jac serve --host 0.0.0.0     # the lecture hall's network
    """
    try:
        from .app import ServerSettings  # noqa: PLC0415
        from .pool import PoolSettings  # noqa: PLC0415
        from .serve import serve  # noqa: PLC0415
    except ImportError as exc:
        missing = (exc.name or "starlette").split(".")[0]
        fail(JacobianError(f"jac serve needs the web extra ({missing} is missing): "
                           'pip install "jacobian_calc[web]"'))
        return
    settings = ServerSettings(pool=PoolSettings(workers=workers, queue=queue, memory=memory),
                              timeout=timeout, max_nodes=max_nodes, max_body=max_body)
    try:
        serve(host, port, settings, echo=click.echo)
    except KeyboardInterrupt:
        pass
