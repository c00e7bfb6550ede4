"""A worker process of ``jac serve``: runs ``jac`` invocations, one job at a time.

The server starts ``python -m jacobian_calc.web.worker --memory MiB`` and talks to it
through its standard input and output in frames (a 4-byte big-endian length, then
UTF-8 JSON). A job is a list of ``jac`` argument lists; the answer holds, for each,
the exit status, what it printed on standard output and on standard error, and the
spy picture's PNG when one was asked for. The worker's address space is capped
(``RLIMIT_AS``), so a request that would exhaust memory fails in the worker with
the command's "out of memory" message, never in the server.

Nothing here evaluates input: the arguments go to the ``jac`` command's parser.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import signal
import struct
import sys
import tempfile
import time

_HEADER = struct.Struct(">I")
#: The largest frame either side accepts (bytes).
MAX_FRAME = 256 * 1024 * 1024


def write_frame(stream, message: dict) -> None:
    """Write one frame to a binary stream."""
    data = json.dumps(message, ensure_ascii=False).encode("utf-8")
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream) -> dict | None:
    """Read one frame from a binary stream (None at its end)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes")
    data = stream.read(size)
    if len(data) < size:
        return None
    return json.loads(data.decode("utf-8"))


def run_jac(args: list[str]) -> tuple[int, str, str]:
    """Run the ``jac`` command in this process: (exit status, stdout, stderr)."""
    from ..cli.main import main  # noqa: PLC0415 - loaded once, at the worker's start
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main.main(args=args, prog_name="jac", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def run_job(job: dict) -> list[dict]:
    """Carry out a job: its runs in order, each with the time the job has left.

    A run marked ``optional`` is skipped when less than a second is left, and the
    runs after a failed required one are skipped.
    """
    deadline = time.monotonic() + float(job["timeout"])
    answers = []
    for run in job["runs"]:
        left = deadline - time.monotonic()
        if left < (1.0 if run.get("optional") else 0.05):
            answers.append({"skipped": True})
            continue
        args = list(run["args"])
        limits = ["--timeout", f"{left:.3f}"]
        if job.get("max_nodes"):
            limits += ["--max-nodes", str(job["max_nodes"])]
        separator = args.index("--") if "--" in args else len(args)
        args[separator:separator] = limits
        answer: dict = {}
        with tempfile.TemporaryDirectory(prefix="jac-serve-") as folder:
            if run.get("spy"):
                picture = os.path.join(folder, "spy.png")
                args[separator:separator] = ["--spy", picture]
            answer["code"], answer["out"], answer["err"] = run_jac(args)
            if run.get("spy") and answer["code"] in (0, 1) and os.path.exists(picture):
                with open(picture, "rb") as handle:
                    answer["spy"] = base64.b64encode(handle.read()).decode("ascii")
        answers.append(answer)
        if answer["code"] not in (0, 1) and not run.get("optional"):
            break
    return answers


def _cap_memory(mebibytes: int) -> None:
    import resource  # noqa: PLC0415 - POSIX only
    limit = mebibytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: list[str] | None = None) -> None:
    """The worker's loop: read a job, answer it, until its input ends."""
    parser = argparse.ArgumentParser(prog="python -m jacobian_calc.web.worker")
    parser.add_argument("--memory", type=int, default=0, help="MiB of address space (0: no cap)")
    options = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # a stray print cannot corrupt the frames
    if options.memory:
        _cap_memory(options.memory)
    run_jac(["--format", "json", "--", "x*y"])  # load the calculator before the first request
    write_frame(channel_out, {"ready": os.getpid()})
    while True:
        job = read_frame(channel_in)
        if job is None:
            return
        try:
            answer = {"runs": run_job(job)}
        except MemoryError:
            answer = {"error": "out of memory; ask for a smaller Jacobian"}
        # after running out of memory, a fresh process is the safe state: ask to be replaced
        answer["retire"] = "error" in answer or any(
            "Error: out of memory" in run.get("err", "") for run in answer["runs"])
        write_frame(channel_out, answer)
        if answer["retire"]:
            return


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
