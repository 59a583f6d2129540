"""Library entry points behind the CLI: compile a spec, write or check generated code."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
from pathlib import Path
from typing import Any

from modelgen._files import atomic_write, file_kind, write_special
from modelgen.codegen import TARGETS, render
from modelgen.errors import ModelgenError
from modelgen.graph import Graph, compile_file

__all__ = [
    "generate",
    "render_program",
    "write_generated",
    "is_up_to_date",
    "is_pristine",
    "check_output",
    "resolve_output",
    "stdout_folder",
    "output_folder",
    "default_file_name",
    "OUTPUT_MARK",
]

#: Last line of every generated file: a hash of everything above it, so modelgen can tell its
#: own untouched output (safe to regenerate) from a file a person edited (needs --force).
OUTPUT_MARK = "# modelgen-output-sha256: "


def generate(
    spec_path: str | Path,
    target: str,
    out_dir: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[Graph, str]:
    """Compile ``spec_path`` (with dotted-path ``overrides`` such as
    ``{"runtime.jit_compile": True}``) and render it for ``target``; returns (graph, source).
    The data's values are not read (NumPy alone would double the time of a build): `validate`
    checks them, and the generated program checks them again before it trains."""
    if target not in TARGETS:
        raise ModelgenError(f"unknown target '{target}': expected one of {', '.join(TARGETS)}")
    graph = compile_file(spec_path, overrides, check_values=False)
    return graph, render_program(graph, target, out_dir)


def render_program(graph: Graph, target: str, out_dir: Path | None = None) -> str:
    """The generated file's text, ending with the hash line that marks it as modelgen's."""
    code = render(graph, target, out_dir)
    return code + OUTPUT_MARK + hashlib.sha256(code.encode()).hexdigest() + "\n"


def is_pristine(text: str) -> bool:
    body, sep, digest = text.rpartition(OUTPUT_MARK)
    return bool(sep) and hashlib.sha256(body.encode()).hexdigest() == digest.strip()


#: An existing output larger than this is not read to see whether it is modelgen's (it is not:
#: generated programs are tens of kilobytes); it is simply not replaced without --force.
MAX_EXISTING_BYTES = 16 * 1024 * 1024


def _read_regular(path: Path, limit: int = MAX_EXISTING_BYTES) -> bytes | None:
    """The bytes of the regular file ``path``, or None when it is larger than ``limit``. The
    file is opened non-blocking and checked after opening, so a FIFO swapped in cannot block."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"it is {file_kind(info.st_mode)}", str(path))
        if info.st_size > limit:
            return None
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return None if len(data) > limit else data


def _stat(path: Path) -> os.stat_result | None:
    """``os.stat`` (following links), None when nothing is there; other failures are errors."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except ValueError:  # an embedded NUL byte
        raise ModelgenError(f"invalid file name {str(path)!r}") from None
    except OSError as exc:
        raise _os_error("cannot use", path, exc) from None


def _os_error(verb: str, path: Path, exc: OSError) -> ModelgenError:
    reasons = {
        errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
        errno.ENAMETOOLONG: "the file name is too long",
        errno.ENOTDIR: "a part of the path is not a folder",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "no space left on the device",
        errno.EROFS: "the file system is read-only",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    name = str(path) if len(str(path)) <= 200 else str(path)[:100] + "..." + str(path)[-40:]
    return ModelgenError(f"{verb} {name}: {reason}")


def default_file_name(target: str) -> str:
    """The file written when -o names a folder: ``train_<target>.py``."""
    return f"train_{target}.py"


def resolve_output(output: str | Path, target: str, spec: Path | None = None) -> Path:
    """Where ``-o OUTPUT`` writes: OUTPUT itself, or ``OUTPUT/train_<target>.py`` when OUTPUT is
    an existing folder or a string ending in ``/`` (a folder to create). Writing over the spec
    itself is refused, even with --force."""
    if str(output) == "":
        raise ModelgenError("-o was given an empty path")
    folder = isinstance(output, str) and output.endswith(("/", os.sep))
    output = Path(output)
    info = _stat(output)
    if folder or (info is not None and stat.S_ISDIR(info.st_mode)):
        output = output / default_file_name(target)
        info = _stat(output)
    if spec is not None and info is not None and stat.S_ISREG(info.st_mode):
        try:
            same = os.path.samefile(spec, output)
        except (OSError, ValueError):
            same = False
        if same:
            raise ModelgenError(f"{output} is the spec itself; give another file with -o")
    return output


def output_folder(path: Path) -> Path | None:
    """The folder the program written to ``path`` will live in, which its data paths are
    written relative to: that of the file a symbolic link leads to (the program finds its
    folder with ``Path(__file__).resolve()``), or None for a device or FIFO, like a pipe."""
    info = _stat(path)
    if info is not None and not stat.S_ISREG(info.st_mode):
        return None
    return Path(os.path.realpath(path)).parent


def stdout_folder(stream: Any = None) -> Path | None:
    """The folder of the regular file that standard output is redirected to
    (``modelgen build spec.yaml > elsewhere/train.py``), or None when stdout is a terminal, a
    pipe, a device, or a file whose path cannot be found (found via ``/proc/self/fd`` on Linux
    and ``F_GETPATH`` on macOS, and checked to be the very file open as stdout)."""
    stream = sys.stdout if stream is None else stream
    try:
        fd = stream.fileno()
        info = os.fstat(fd)
    except (AttributeError, OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    candidates: list[str] = []
    try:
        candidates.append(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass
    try:
        import fcntl

        if hasattr(fcntl, "F_GETPATH"):
            raw = fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024))
            candidates.append(os.fsdecode(raw.split(b"\0", 1)[0]))
    except (ImportError, OSError):
        pass
    for candidate in candidates:
        try:
            found = os.stat(candidate)
        except (OSError, ValueError):
            continue
        if os.path.isabs(candidate) and (found.st_dev, found.st_ino) == (
            info.st_dev,
            info.st_ino,
        ):
            return Path(candidate).parent
    return None


def check_output(path: Path, code: str) -> str:
    """How ``path`` compares with ``code``: ``"current"`` (it holds exactly ``code``),
    ``"missing"``, ``"stale"`` (modelgen's unedited output of something else, or empty: `build`
    replaces it) or ``"edited"`` (edited by hand or not modelgen's: `build` needs --force)."""
    info = _stat(path)
    if info is None:
        return "missing"
    if not stat.S_ISREG(info.st_mode):
        raise ModelgenError(f"--check compares against a file; {path} is {file_kind(info.st_mode)}")
    expected = code.encode("utf-8")
    if info.st_size == 0:
        return "stale"
    try:
        existing = _read_regular(path)
    except OSError as exc:
        raise _os_error("cannot read", path, exc) from None
    if existing == expected:
        return "current"
    return "stale" if existing is not None and _pristine_bytes(existing) else "edited"


def _pristine_bytes(data: bytes) -> bool:
    try:
        return is_pristine(data.decode("utf-8"))
    except UnicodeDecodeError:
        return False


def is_up_to_date(path: Path, code: str) -> bool:
    """True when ``path`` is a regular file holding exactly ``code``."""
    try:
        return check_output(path, code) == "current"
    except ModelgenError:
        return False


def write_generated(
    path: Path, code: str, *, force: bool = False, target: str | None = None
) -> Path:
    """Write ``code`` to ``path`` and return the file written.

    * A regular file is written atomically (temporary file, sync, rename; the mode of a file it
      replaces is kept). An existing one is replaced only if it is empty or modelgen's own,
      unedited output, or with ``force``.
    * A character device or FIFO the user named (``/dev/null``, ``/dev/stdout``, a named pipe)
      is written straight into, never replaced; a FIFO with no reader is an error, not a wait.
    * A folder means ``folder/train_<target>.py`` when ``target`` is given.
    * Block devices and sockets are refused."""
    path = Path(path)
    info = _stat(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        if target is None:
            raise ModelgenError(f"{path} is a folder; give a file name with -o")
        path = path / default_file_name(target)
        info = _stat(path)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise ModelgenError(f"{path} is a folder; give a file name with -o")
    data = code.encode("utf-8")
    if info is not None and (stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
        try:
            write_special(path, data)
        except OSError as exc:
            if exc.errno == errno.ENXIO and stat.S_ISFIFO(info.st_mode):
                import shlex

                raise ModelgenError(
                    f"{path} is a FIFO (named pipe) with no reader attached; start the reader "
                    f"first (e.g. `cat {shlex.quote(str(path))}`), or give a regular file with -o"
                ) from None
            if exc.errno == errno.EPIPE:
                raise ModelgenError(f"{path}: the reader closed the pipe before the end") from None
            raise _os_error("cannot write", path, exc) from None
        return path
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise ModelgenError(f"{path} is {file_kind(info.st_mode)}; refusing to write to it")
    if info is not None and info.st_size > 0 and not force:
        try:
            existing = _read_regular(path)
        except OSError:
            existing = None
        if existing is None or not _pristine_bytes(existing):
            raise ModelgenError(
                f"{path} exists and is not modelgen's unedited output; "
                "refusing to overwrite it (use --force to replace it)"
            )
    try:
        atomic_write(path, data, follow_symlinks=True)  # the user named the link
    except OSError as exc:
        raise _os_error("cannot write", path, exc) from None
    return path
