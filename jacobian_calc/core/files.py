"""Writing output files the way other tools do: whole or not at all.

A file is written to a temporary name beside its target and renamed over it,
so a failure (or an interrupt) leaves the previous file as it was and no
partial or temporary file behind. Only regular files and new paths are
written: a device, FIFO, directory or symbolic link is refused rather than
replaced. A replaced file keeps its mode; a new one gets ``0o666 & ~umask``.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from contextlib import contextmanager

from .errors import JacobianError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(path: str) -> None:
    """Refuse anything but a regular file or a new path in an existing directory."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise JacobianError(f"cannot write {path}: no such directory") from None
        return
    except OSError as exc:
        raise JacobianError(f"cannot write {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise JacobianError(f"cannot write {path}: it is a symbolic link (not followed)")
    if stat.S_ISDIR(info.st_mode):
        raise JacobianError(f"cannot write {path}: it is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise JacobianError(f"cannot write {path}: not a regular file")


def atomic_write(path: str, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically (text is written as UTF-8).

    A failure, ``KeyboardInterrupt`` or any catchable signal whose default action
    ends the process (``SIGTERM``, ``SIGHUP``, ``SIGQUIT``, ``SIGUSR1``, ``SIGALRM``
    ...) during the write leaves ``path`` as it was and no temporary file behind
    (those signals are turned into ``SystemExit(128 + signal)`` for the duration,
    where their handlers are the default ones and this is the main thread).
    """
    check_target(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    temporary: list[str] = []
    with _signals_as_exit():
        try:
            try:
                fd = _create_temporary(directory, temporary)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(payload)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(temporary[0], mode)
                os.replace(temporary[0], path)
            except OSError as exc:
                raise JacobianError(f"cannot write {path}: {exc.strerror or exc}") from None
        except BaseException:  # any failure or interrupt: no temporary file stays behind
            for tmp in temporary:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
            raise


def _create_temporary(directory: str, record: list[str]) -> int:
    """Create ``.jac-*.tmp`` in ``directory``, its name recorded *before* it exists."""
    for _ in range(100):
        name = os.path.join(directory, f".jac-{os.urandom(8).hex()}.tmp")
        record.append(name)
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o600)
        except FileExistsError:
            record.pop()
    raise OSError("no free temporary name")


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: Catchable signals whose default action would kill the process mid-write.
_SIGNALS = tuple(getattr(signal, name) for name in (
    "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF",
    "SIGXCPU", "SIGXFSZ", "SIGPOLL", "SIGPWR", "SIGSTKFLT", "SIGPIPE") if hasattr(signal, name))


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


@contextmanager
def _signals_as_exit():
    """Within the block, the signals of ``_SIGNALS`` raise SystemExit (so cleanup runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    try:
        for sig in _SIGNALS:
            if signal.getsignal(sig) == signal.SIG_DFL:
                previous[sig] = signal.signal(sig, _exit_on_signal)
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
