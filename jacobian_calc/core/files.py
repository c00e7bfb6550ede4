"""Writing output files the way other tools do: whole or not at all.

A file is written to a temporary name beside its target and renamed over it,
so a failure (or an interrupt) leaves the previous file as it was and no
partial or temporary file behind. Only regular files and new paths are
written: a device, FIFO, directory or symbolic link is refused rather than
replaced. A replaced file keeps its mode; a new one gets ``0o666 & ~umask``.
"""

from __future__ import annotations

import os
import stat
import tempfile

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
    """Write ``data`` to ``path`` atomically (text is written as UTF-8)."""
    check_target(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".jac-", suffix=".tmp")
    except OSError as exc:
        raise JacobianError(f"cannot write {path}: {exc.strerror}") from None
    try:
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except OSError as exc:
            raise JacobianError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:  # any failure or interrupt: no temporary file stays behind
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
