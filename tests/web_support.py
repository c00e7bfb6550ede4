"""A ``jac serve`` process for the web tests, on 127.0.0.1 and a free port."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running ``jac serve``: its URL and helpers to call it."""

    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process, self.port = process, port
        self.url = f"http://127.0.0.1:{port}"

    def request(self, path: str, body: bytes | dict | None = None, method: str | None = None,
                timeout: float = 120) -> tuple[int, dict, bytes]:
        """(status, headers, body) of one request; a dict body is sent as JSON."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def status(self) -> dict:
        return json.loads(self.request("/api/status")[2])


@contextlib.contextmanager
def running_server(*options: str):
    """Start ``jac serve`` with ``options``; stop it (as Ctrl-C does) afterwards."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONHASHSEED", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "jacobian_calc", "serve", "--host", "127.0.0.1",
         "--port", str(port), *options],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = Server(process, port)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jac serve ended: {process.stdout.read()}")
            try:
                if server.status()["workers"]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("jac serve did not start")
            time.sleep(0.3)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def jac(*args: str) -> subprocess.CompletedProcess:
    """The ``jac`` command run as a user runs it, with the server's workers' hash seed
    (the last digits of a numeric check's error depend on it)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="0")
    return subprocess.run([sys.executable, "-m", "jacobian_calc", *args], cwd=ROOT, env=env,
                          capture_output=True, timeout=300)
