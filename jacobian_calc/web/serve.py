"""Start the web server of ``jac serve`` (uvicorn) and say where it listens."""

from __future__ import annotations

import dataclasses
import ipaddress

from .app import ServerSettings, create_app

#: Hosts that only this machine can reach.
LOCAL_HOSTS = ("localhost",)
#: The names a server on localhost answers to.
LOCAL_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_local(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only.

    >>> is_local("127.0.0.1"), is_local("::1"), is_local("0.0.0.0")
    (True, True, False)
    """
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def banner(host: str, port: int, settings: ServerSettings) -> str:
    """The lines printed at start: the URL, who can reach it, the limits."""
    shown = f"[{host}]" if ":" in host else host
    reach = ("only this machine can reach it (--host 0.0.0.0 to share it on the network)"
             if is_local(host) else
             f"listening on {host}: other machines can reach it")
    pool = settings.pool
    return (f"jac serve: http://{shown}:{port}/\n"
            f"{reach}\n"
            f"{pool.workers} worker processes, queue of {pool.queue}, {settings.timeout:g} s "
            f"and {pool.memory:,} MiB per request; Ctrl-C stops it")


def serve(host: str, port: int, settings: ServerSettings, echo=print) -> None:
    """Serve the page and the API until Ctrl-C."""
    import uvicorn  # noqa: PLC0415

    if is_local(host) and settings.allowed_hosts is None:
        settings = dataclasses.replace(settings, allowed_hosts=LOCAL_NAMES)
    echo(banner(host, port, settings))
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=5, server_header=False)
