"""Writing files so that an interruption never leaves a half-written one, and the few file-kind
checks that keep modelgen from blocking on, filling or replacing something that is not a file."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

__all__ = ["atomic_write", "file_kind", "sync_folder", "write_special"]


def file_kind(mode: int) -> str:
    """What ``mode`` (an ``st_mode``) is, in words: 'a regular file', 'a FIFO (named pipe)', ..."""
    for test, words in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write(
    path: Path, data: bytes, *, follow_symlinks: bool = False, durable: bool = True
) -> None:
    """Write ``data`` to a new file beside ``path``, sync it, then rename it into place.

    A new file gets the usual permissions (``0o666`` less the umask); a replaced file keeps its
    mode (and, where allowed, its owner and group). A symbolic link at ``path`` is replaced by
    the file, unless ``follow_symlinks``: then the file it leads to is replaced and the link
    stays. A directory, device node, FIFO or socket is never replaced (``OSError``). On any
    failure (a full disk, an interrupt) the temporary file is removed and ``path`` is left as it
    was. ``durable=False`` skips the syncs.
    """
    path = Path(path)
    if follow_symlinks and path.is_symlink():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        old = None
    if old is not None and stat.S_ISLNK(old.st_mode):
        old = None  # the link itself is replaced; the new file is a new file
    if old is not None and not stat.S_ISREG(old.st_mode):
        # Renaming over a device node, FIFO or socket would replace it with a regular file.
        code = errno.EISDIR if stat.S_ISDIR(old.st_mode) else errno.EINVAL
        raise OSError(code, f"it is {file_kind(old.st_mode)}, not a regular file", str(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask (and default ACLs)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))
    try:
        try:
            if old is not None:
                with contextlib.suppress(OSError):  # not ours to change: keep the new owner
                    os.fchown(fd, old.st_uid, old.st_gid)
                os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o777)
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_special(path: Path, data: bytes) -> None:
    """Write ``data`` straight into an existing character device or FIFO (``/dev/null``, a
    named pipe, ``/dev/stdout``), never replacing the node. A FIFO is opened without waiting:
    with no reader attached this fails at once with ``ENXIO`` instead of blocking forever."""
    fd = os.open(
        path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise OSError(errno.EINVAL, f"is {file_kind(mode)}", str(path))
        os.set_blocking(fd, True)  # a reader is there: wait for it rather than fail on EAGAIN
        _write_all(fd, data)
    finally:
        os.close(fd)
