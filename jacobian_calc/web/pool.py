"""A small pool of worker processes with a bounded queue, for ``jac serve``.

Each job runs in one worker (:mod:`.worker`); the server waits for it at most the
request's time limit plus a grace period, then kills the worker, answers with the
limit's message and starts a new worker. A worker that dies mid-request (killed,
crashed) gives that request an error; the pool replaces it. When every worker is
busy and the queue is full, a request is refused at once (:class:`Busy`), so the
server's memory and waiting times stay bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
from dataclasses import dataclass

_HEADER = struct.Struct(">I")
#: Seconds a job may run past its own time limit before its worker is killed.
GRACE = 2.0
#: The workers' PYTHONHASHSEED unless the server's environment sets one: answers are
#: byte for byte those of ``PYTHONHASHSEED=0 jac ...``.
HASH_SEED = "0"
#: Seconds a new worker may take to load the calculator.
START_TIMEOUT = 120.0


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class JobFailed(Exception):
    """A job ended without an answer: ``message`` says why, ``status`` the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class PoolSettings:
    """How many workers, how long a queue, and each worker's memory cap (MiB, 0: none)."""

    workers: int = 2
    queue: int = 8
    memory: int = 2048


class Worker:
    """One worker process and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.busy = False

    @classmethod
    async def start(cls, memory: int) -> Worker:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
        # One hash seed for every worker: the last digits of a numeric check's error
        # depend on set order, and the same request must give the same answer each time.
        env.setdefault("PYTHONHASHSEED", HASH_SEED)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jacobian_calc.web.worker", "--memory", str(memory),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=env, start_new_session=True)
        worker = cls(process)
        ready = await asyncio.wait_for(worker._read(), START_TIMEOUT)
        if ready is None or "ready" not in ready:
            worker.kill()
            raise RuntimeError("a worker process failed to start")
        return worker

    @property
    def pid(self) -> int:
        return self.process.pid

    async def run(self, job: dict) -> dict | None:
        """Send a job and wait for its answer (None if the worker ended)."""
        data = json.dumps(job).encode("utf-8")
        try:
            self.process.stdin.write(_HEADER.pack(len(data)) + data)
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return None
        return await self._read()

    async def _read(self) -> dict | None:
        try:
            header = await self.process.stdout.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            return json.loads(await self.process.stdout.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None

    def kill(self) -> None:
        if self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass

    async def stop(self) -> None:
        self.kill()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except asyncio.TimeoutError:
            pass


class Pool:
    """Worker processes, the jobs waiting for them, and their replacement."""

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self.workers: list[Worker] = []
        self.idle: asyncio.Queue[Worker] = asyncio.Queue()
        self.waiting = 0
        self.closed = False
        self._starting: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Start every worker (in parallel) and wait until they are ready."""
        started = await asyncio.gather(*(Worker.start(self.settings.memory)
                                         for _ in range(self.settings.workers)))
        for worker in started:
            self.workers.append(worker)
            self.idle.put_nowait(worker)

    async def stop(self) -> None:
        self.closed = True
        for task in self._starting:
            task.cancel()
        await asyncio.gather(*(worker.stop() for worker in self.workers))
        self.workers.clear()

    def status(self) -> dict:
        """The workers (process ids, busy or not) and how many jobs wait."""
        return {"workers": [{"pid": w.pid, "busy": w.busy} for w in self.workers],
                "waiting": self.waiting, "queue": self.settings.queue}

    async def run(self, job: dict) -> dict:
        """Run a job (``{"runs": [...], "timeout": s, "max_nodes": n}``) in a free worker.

        Raises :class:`Busy` when the queue is full, :class:`JobFailed` when the job
        passes its time limit (status 400, the limit's message) or its worker ends
        (status 500).
        """
        if self.closed:
            raise Busy()
        if self.idle.empty() and self.waiting >= self.settings.queue:
            raise Busy()
        self.waiting += 1
        try:
            worker = await self.idle.get()
        finally:
            self.waiting -= 1
        worker.busy = True
        limit = float(job["timeout"])
        try:
            answer = await asyncio.wait_for(worker.run(job), limit + GRACE)
        except asyncio.TimeoutError:
            self._replace(worker)
            raise JobFailed(f"the request took longer than {limit:g} s and was stopped; "
                            "ask for less, or raise the server's limit (jac serve "
                            "--timeout)", 400) from None
        except BaseException:  # the client went away: the job's result is lost with it
            self._replace(worker)
            raise
        if answer is None:
            try:
                code = await asyncio.wait_for(worker.process.wait(), 5)
            except asyncio.TimeoutError:
                code = None
            self._replace(worker)
            how = f" (signal {-code})" if code is not None and code < 0 else ""
            raise JobFailed(f"the worker process computing this request ended{how}; "
                            "the server goes on: try again", 500)
        if answer.get("retire"):
            self._replace(worker)
        else:
            worker.busy = False
            self.idle.put_nowait(worker)
        return answer

    def _replace(self, worker: Worker) -> None:
        worker.kill()
        if worker in self.workers:
            self.workers.remove(worker)
        if not self.closed:
            task = asyncio.get_running_loop().create_task(self._add_worker())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def _add_worker(self) -> None:
        while not self.closed:
            try:
                worker = await Worker.start(self.settings.memory)
            except Exception:  # noqa: BLE001 - keep trying: the pool must recover
                await asyncio.sleep(1.0)
                continue
            if self.closed:
                await worker.stop()
                return
            self.workers.append(worker)
            self.idle.put_nowait(worker)
            return
