"""Run a generated program in a subprocess, show its progress, and summarise what it measured.

The generated program writes one JSON object per line to ``metrics.jsonl`` (a ``setup``
record, one ``step`` record per update, one ``epoch`` record per epoch, an ``end`` record);
this module reads that file while the program runs and turns it into a run record. It never
imports TensorFlow itself.

A run folder is data. ``command.json`` holds structured options (validated; the program's
flags are rebuilt from them, never taken from the file), and ``--resume`` runs the folder's
``train.py`` only when it is exactly what this modelgen generates for the folder's
``spec.yaml`` (or the user passes ``trust=True``). While a run or a resume uses a folder it
holds an exclusive lock on ``RUN_DIR/.lock``; the program runs in its own session and
process group, gets the runner's SIGINT/SIGTERM/SIGHUP as a clean stop, and is killed when
the runner ends, however it ends (PR_SET_PDEATHSIG covers a SIGKILL of the runner).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
import re
import select
import signal
import stat
import statistics
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from modelgen import __version__
from modelgen._files import atomic_write
from modelgen.build import is_pristine, render_program, write_generated
from modelgen.codegen import TARGETS
from modelgen.errors import ModelgenError, RunError, SpecError
from modelgen.graph import Graph, compile_file

__all__ = [
    "RunSummary",
    "run",
    "resume",
    "summarize",
    "format_summary",
    "bench",
    "format_bench",
    "check_device",
    "new_run_dir",
    "RunLock",
]

#: The device names a program takes (the spec's runtime.device has the same pattern).
DEVICE_PATTERN = re.compile(r"auto|cpu|gpu|gpu:[0-9]{1,2}|tpu")
DEVICE_NAMES = "auto, cpu, gpu, gpu:N (N a number) or tpu"

#: What a run folder holds; the program's outputs go to these fixed relative names.
METRICS, WEIGHTS, CHECKPOINTS, LOG = "metrics.jsonl", "weights.npz", "checkpoints", "output.log"
FILES = (
    "train.py",
    "spec.yaml",
    "command.json",
    METRICS,
    "metrics.csv",
    "run.json",
    WEIGHTS,
    "curves.png",
    LOG,
)
CHECKPOINT_NAME = re.compile(r"ckpt-[0-9]{9}\.npz")
#: Temporaries an interrupted write leaves (atomic_write's, the program's checkpoint writes).
STALE = {
    ".": tuple(f".{name}.*" for name in FILES),
    CHECKPOINTS: (".ckpt-*.tmp", ".latest.tmp"),
}

#: command.json: {"version": 1, "modelgen": ..., "target": ..., "options": {...},
#: "spec_overrides": {...}}. Options: name -> (kind, smallest value, may be None).
COMMAND_VERSION = 1
OPTIONS: dict[str, tuple[str, float | None, bool]] = {
    "device": ("device", None, True),
    "epochs": ("int", 1, True),
    "max_steps": ("int", 0, True),
    "checkpoint_every": ("int", 0, False),
    "tpu_timeout": ("float", 0, True),
    "batch_size": ("int", 1, True),
    "seed": ("int", 0, True),
    "data": ("path", None, True),
    "jit": ("bool", None, False),
}
FLAGS = {
    "device": "--device",
    "epochs": "--epochs",
    "max_steps": "--max-steps",
    "tpu_timeout": "--tpu-timeout",
    "batch_size": "--batch-size",
    "seed": "--seed",
    "data": "--data",
}
#: spec_overrides: where the spec's (relative) data paths and its data_root pointed when the
#: run began, so that the folder's spec.yaml regenerates the same train.py (read-only inputs).
SPEC_OVERRIDES = ("data.path", "data.validation_path", "data.data_root")
MAX_INT = 2**62
STOP_GRACE = 10.0  # seconds a program has to stop cleanly after SIGTERM before it is killed


@dataclass
class RunSummary:
    """The figures of one run, as written to run.json."""

    target: str
    status: str  # completed, interrupted, nan (the loss stopped being finite) or failed
    run_dir: str
    device: str = ""
    steps: int = 0
    batch_size: int = 0
    startup_seconds: float | None = None  # Python + TensorFlow import, until main() starts
    build_seconds: float | None = None  # model construction (and data loading)
    first_step_seconds: float | None = None  # includes tracing and compilation
    steady_step_seconds: float | None = None  # median over the steps after the first
    examples_per_second: float | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    wall_seconds: float | None = None
    peak_memory_mb: float | None = None
    final: dict[str, float] = field(default_factory=dict)
    exit_code: int | None = None  # the program's (negative: killed by that signal)
    error: str | None = None  # the program's last error line, when it failed
    stopped_by: str | None = None  # the signal that stopped the run (SIGINT, SIGTERM, ...)


# -- reading metrics.jsonl ----------------------------------------------------------------

_NUMBER = (int, float)
_REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    "setup": {
        "device": (str,),
        "batch_size": (int,),
        "build_seconds": _NUMBER,
        "wall_clock": _NUMBER,
        "steps_per_epoch": (int,),
    },
    "step": {"step": (int,), "step_seconds": _NUMBER, "loss": _NUMBER},
    "epoch": {"epoch": (int,), "seconds": _NUMBER},
    "end": {"status": (str,), "steps": (int,), "peak_rss_mb": _NUMBER},
}


def _record(line: bytes | str) -> dict[str, Any] | None:
    """One metrics line as a record, or None when it is not one (a line cut short by a kill,
    or anything else a run folder may hold: it is data, checked field by field)."""
    if len(line) > 65536:
        return None
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    required = _REQUIRED.get(record.get("event"))  # type: ignore[arg-type]
    if required is None:
        return None
    for key, types in required.items():
        value = record.get(key)
        if type(value) not in types:  # bool is not a number here
            return None
    return record


def _records(path: Path, end: int | None = None) -> list[dict[str, Any]]:
    """Every record of a metrics file, or of its first ``end`` bytes (skipping lines that are
    not records)."""
    if not path.is_file():
        return []
    with open(path, "rb") as handle:
        lines = handle.read(end).split(b"\n") if end is not None else handle
        return [r for r in map(_record, lines) if r is not None]


class MetricsReader:
    """Reads a growing metrics file incrementally: each poll parses only the complete lines
    written since the last one (a line still being written waits for the next poll)."""

    def __init__(self, path: Path, offset: int = 0):
        self.path, self.offset, self.partial = path, offset, b""
        self.handle: Any = None

    def poll(self) -> list[dict[str, Any]]:
        if self.handle is None:
            try:
                self.handle = open(self.path, "rb")  # noqa: SIM115 - closed by close()
            except OSError:
                return []
            self.handle.seek(self.offset)
        chunk = self.handle.read()
        if not chunk:
            return []
        self.offset += len(chunk)
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        return [r for r in map(_record, lines) if r is not None]

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class Figures:
    """What a summary needs from a program's records, kept as they arrive (a long run's
    step records are not kept: only their step times)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.setup: dict[str, Any] | None = None
        self.end: dict[str, Any] | None = None
        self.first_step_seconds: float | None = None
        self.step_seconds = array("d")  # the steps after the first
        self.last_step: dict[str, Any] | None = None
        self.epochs: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        event = record["event"]
        if event == "step":
            if self.last_step is None:
                self.first_step_seconds = record["step_seconds"]
            else:
                self.step_seconds.append(record["step_seconds"])
            self.last_step = record
        elif event == "epoch":
            self.epochs.append(record)
        elif event == "setup":  # a resumed part starts here: summarise from it on
            self.reset()
            self.setup = record
        elif event == "end":
            self.end = record

    def summary(
        self,
        target: str,
        run_dir: Path,
        launched: float,
        wall: float | None,
        peak_mb: float | None,
        status: str,
    ) -> RunSummary:
        summary = RunSummary(target=target, status=status, run_dir=str(run_dir))
        summary.wall_seconds, summary.peak_memory_mb = wall, peak_mb
        if self.setup is not None:
            summary.device = self.setup["device"]
            summary.batch_size = self.setup["batch_size"]
            summary.build_seconds = self.setup["build_seconds"]
            summary.startup_seconds = max(0.0, self.setup["wall_clock"] - launched)
        if self.end is not None:
            summary.steps = self.end["steps"]
            summary.peak_memory_mb = summary.peak_memory_mb or self.end["peak_rss_mb"]
        if self.last_step is not None:
            summary.steps = self.last_step["step"]
            summary.first_step_seconds = self.first_step_seconds
            summary.steady_step_seconds = statistics.median(
                self.step_seconds or [self.first_step_seconds]
            )
            if summary.steady_step_seconds > 0 and summary.batch_size:
                summary.examples_per_second = summary.batch_size / summary.steady_step_seconds
        summary.epoch_seconds = [r["seconds"] for r in self.epochs]
        last = self.epochs[-1] if self.epochs else (self.last_step or {})
        skip = {"event", "epoch", "step", "seconds", "step_seconds"}
        summary.final = {k: v for k, v in last.items() if k not in skip and type(v) in _NUMBER}
        return summary


def summarize(
    records: Iterable[dict[str, Any]],
    target: str,
    run_dir: Path,
    launched: float,
    wall: float | None,
    peak_mb: float | None,
    status: str,
) -> RunSummary:
    """Turn a program's metric records into a RunSummary (a ``completed`` status takes the
    program's own end status)."""
    figures = Figures()
    for record in records:
        figures.add(record)
    if status == "completed" and figures.end is not None:
        status = figures.end["status"]
    return figures.summary(target, run_dir, launched, wall, peak_mb, status)


def _progress(records: list[dict[str, Any]], out: TextIO, per_epoch: int) -> None:
    """Print new epoch lines, and a live line for the current epoch when out is a terminal."""
    tty = out.isatty()
    last_step = None
    for record in records:
        if record["event"] == "epoch":
            metrics = " ".join(
                f"{k} {v:.4f}"
                for k, v in record.items()
                if k not in ("event", "epoch", "seconds") and type(v) in _NUMBER
            )
            out.write(f"\repoch {record['epoch']}: {metrics} ({record['seconds']:.2f} s)\n")
            last_step = None
        elif record["event"] == "step":
            last_step = record
    if last_step is not None and tty and per_epoch > 0:
        done = (last_step["step"] - 1) % per_epoch + 1
        bar = "#" * (20 * done // per_epoch)
        out.write(f"\r[{bar:<20}] {done}/{per_epoch} loss {last_step['loss']:.4f}")
    out.flush()


# -- devices, options and command.json -----------------------------------------------------


def check_device(name: str | None) -> str | None:
    """``name`` if it is a device name the programs take; else a ModelgenError."""
    if name is not None and (type(name) is not str or not DEVICE_PATTERN.fullmatch(name)):
        raise ModelgenError(f"unknown device name {name!r}: expected {DEVICE_NAMES}")
    return name


def _check_option(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid value of option ``name`` (None when it is)."""
    kind, least, optional = OPTIONS[name]
    if value is None:
        return None if optional else "must be given"
    if kind == "device":
        if type(value) is not str or not DEVICE_PATTERN.fullmatch(value):
            return f"unknown device name {value!r}: expected {DEVICE_NAMES}"
    elif kind == "int":
        if type(value) is not int or not least <= value <= MAX_INT:  # type: ignore[operator]
            return f"must be a whole number of at least {least:g}, got {value!r}"
    elif kind == "float":
        if type(value) not in _NUMBER or not (math.isfinite(value) and value > least):
            return f"must be a number above {least:g}, got {value!r}"
    elif kind == "bool":
        if type(value) is not bool:
            return f"must be true or false, got {value!r}"
    elif kind == "path":
        if type(value) is not str or not value.startswith("/") or "\0" in value:
            return f"must be an absolute path, got {value!r}"
    return None


def _check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Every option, checked (a missing one takes its default); a ModelgenError says which
    option is wrong and why."""
    for name in options:
        if name not in OPTIONS:
            raise ModelgenError(f"unknown option {name!r}")
    defaults = {"checkpoint_every": 0, "jit": False}
    checked = {name: options.get(name, defaults.get(name)) for name in OPTIONS}
    for name, value in checked.items():
        problem = _check_option(name, value)
        if problem:
            raise ModelgenError(f"option {name!r} {problem}")
    return checked


def _load_command(run_dir: Path) -> dict[str, Any]:
    """command.json, checked as data: a known format, known options of the right types."""
    path = run_dir / "command.json"

    def bad(message: str) -> ModelgenError:
        return ModelgenError(f"{path}: {message}")

    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise bad("missing: not a modelgen run folder") from None
    except OSError as exc:
        raise bad(exc.strerror or str(exc)) from None
    if not stat.S_ISREG(info.st_mode):
        raise bad("not a regular file (a link, a folder?)")
    if info.st_size > 65536:
        raise bad(f"too large for a run's options ({info.st_size} bytes)")
    try:
        command = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except RecursionError:
        raise bad("not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise bad(f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise bad(exc.strerror or str(exc)) from None
    if not isinstance(command, dict):
        raise bad(f"expected a JSON object, got {type(command).__name__}")
    if "version" not in command:
        raise bad("no format version (written by an older modelgen?); start a new run")
    if type(command["version"]) is not int or command["version"] != COMMAND_VERSION:
        raise bad(
            f"unknown format version {command['version']!r} (this modelgen reads version "
            f"{COMMAND_VERSION})"
        )
    unknown = set(command) - {
        "version",
        "modelgen",
        "target",
        "options",
        "spec_overrides",
        "created_in",
    }
    if unknown:
        raise bad(f"unknown key {sorted(unknown)[0]!r}")
    for key in ("target", "options"):
        if key not in command:
            raise bad(f"missing key {key!r}")
    if type(command["target"]) is not str or command["target"] not in TARGETS:
        raise bad(f"unknown target {command['target']!r}: expected one of {', '.join(TARGETS)}")
    if not isinstance(command["options"], dict):
        raise bad("'options' must be a JSON object")
    try:
        options = _check_options(command["options"])
    except ModelgenError as exc:
        raise bad(str(exc)) from None
    overrides = command.get("spec_overrides", {})
    if not isinstance(overrides, dict):
        raise bad("'spec_overrides' must be a JSON object")
    for key, value in overrides.items():
        if key not in SPEC_OVERRIDES:
            raise bad(f"unknown spec override {key!r}")
        if type(value) is not str or not value.startswith("/") or "\0" in value:
            raise bad(f"spec override {key!r} must be an absolute path, got {value!r}")
    if "modelgen" in command and type(command["modelgen"]) is not str:
        raise bad("'modelgen' must be a version string")
    created_in = command.get("created_in")
    if created_in is not None and (
        type(created_in) is not str or not created_in.startswith("/") or "\0" in created_in
    ):
        raise bad(f"'created_in' must be an absolute path, got {created_in!r}")
    return {
        "created_in": created_in,
        "version": COMMAND_VERSION,
        "modelgen": command.get("modelgen", ""),
        "target": command["target"],
        "options": options,
        "spec_overrides": overrides,
    }


def _write_command(run_dir: Path, command: dict[str, Any]) -> None:
    atomic_write(run_dir / "command.json", (json.dumps(command, indent=2) + "\n").encode())


def _flags(command: dict[str, Any], resume: bool = False) -> list[str]:
    """The program's flags, rebuilt from validated options; outputs go to fixed names. The
    data is named by its absolute path, so a run folder copied elsewhere still finds it."""
    options, data = command["options"], command["spec_overrides"]
    flags = [
        f"--metrics-out={METRICS}",
        f"--save-weights={WEIGHTS}",
        f"--checkpoint-dir={CHECKPOINTS}",
        f"--checkpoint-every={options['checkpoint_every']}",
    ]
    flags += [
        f"{flag}={options[name]}" for name, flag in FLAGS.items() if options[name] is not None
    ]
    if options["data"] is None and "data.path" in data:
        flags.append(f"--data={data['data.path']}")
    if "data.validation_path" in data:
        flags.append(f"--validation-data={data['data.validation_path']}")
    return flags + (["--resume"] if resume else [])


def _spec_overrides(options: dict[str, Any], data: dict[str, str]) -> dict[str, Any]:
    jit = {"runtime.jit_compile": True, "runtime.deterministic": False} if options["jit"] else {}
    return {**jit, **data}


def _program(run_dir: Path, command: dict[str, Any]) -> tuple[Graph, str]:
    """The train.py modelgen generates for the folder's spec.yaml and recorded options."""
    overrides = _spec_overrides(command["options"], command["spec_overrides"])
    graph = compile_file(run_dir / "spec.yaml", overrides)
    # Rendered as where the folder was made, so a copied folder regenerates the same file.
    origin = Path(command["created_in"]) if command.get("created_in") else run_dir
    return graph, render_program(graph, command["target"], origin)


# -- run folders ----------------------------------------------------------------------------


def new_run_dir(runs_dir: Path, stem: str, now: Callable[[], datetime] = datetime.now) -> Path:
    """Create a new, empty run folder ``runs_dir/<stem>-<timestamp>[-N]``: the name is taken
    with an exclusive mkdir, so two runs started at once never share a folder."""
    try:
        if runs_dir.exists() and not runs_dir.is_dir():
            raise ModelgenError(f"--runs-dir {runs_dir} is not a folder")
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelgenError(
            f"cannot create the runs folder {runs_dir}: {exc.strerror or exc}"
        ) from None
    base = f"{stem}-{now().strftime('%Y%m%d-%H%M%S-%f')}"
    for number in range(1, 10_000):
        candidate = runs_dir / (base if number == 1 else f"{base}-{number}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ModelgenError(f"cannot create {candidate}: {exc.strerror or exc}") from None
        return candidate
    raise ModelgenError(f"cannot find a free run folder name {base}-N in {runs_dir}")


class RunLock:
    """An exclusive flock on RUN_DIR/.lock, held while a run or a resume uses the folder (the
    program inherits it, so it is held until both have ended)."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / ".lock"
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self.fd = os.open(self.path, flags, 0o666)
        except OSError as exc:
            raise ModelgenError(f"{self.path}: cannot open the lock: {exc.strerror}") from None
        try:
            info = os.fstat(self.fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                raise ModelgenError(f"{self.path}: not a plain file (a device, a hard link?)")
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip()
                who = f" (process {holder})" if holder.isdigit() else ""
                raise ModelgenError(
                    f"{run_dir} is in use by another `modelgen run`{who}: wait for it to end"
                ) from None
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(self.fd)
            raise

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _check_entries(run_dir: Path) -> None:
    """The folder's own files must be plain files (a symlink or a hard link would make the
    program read or write a file elsewhere) and its checkpoint folder a plain folder."""
    for name in (*FILES, CHECKPOINTS):
        path = run_dir / name
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        wanted = stat.S_ISDIR if name == CHECKPOINTS else stat.S_ISREG
        if stat.S_ISLNK(info.st_mode):
            raise ModelgenError(f"{path} is a symbolic link: refusing to use this run folder")
        if not wanted(info.st_mode):
            kind = "folder" if name == CHECKPOINTS else "regular file"
            raise ModelgenError(f"{path} is not a {kind}: refusing to use this run folder")
        if name != CHECKPOINTS and info.st_nlink > 1:
            raise ModelgenError(
                f"{path} has other hard links: refusing to write through it (copy the folder)"
            )


def _check_latest(run_dir: Path) -> None:
    """checkpoints/latest must name a plain ckpt-NNNNNNNNN.npz file beside it."""
    folder = run_dir / CHECKPOINTS
    latest = folder / "latest"
    if not os.path.lexists(latest):
        return
    if latest.is_symlink() or not latest.is_file():
        raise ModelgenError(f"{latest} is not a regular file: refusing to resume from it")
    with open(latest, "rb") as handle:
        raw = handle.read(64)
    name = raw.decode("ascii", "replace").strip()
    if not CHECKPOINT_NAME.fullmatch(name):
        raise ModelgenError(
            f"{latest} must name a ckpt-NNNNNNNNN.npz file in {folder}, not {name[:40]!r}"
        )
    target = folder / name
    if target.is_symlink() or not target.is_file():
        raise ModelgenError(f"{latest} names {name}, which is missing or not a regular file")


def _clean_stale(run_dir: Path) -> list[Path]:
    """Remove the temporaries interrupted writes left (the lock is held: none is live)."""
    removed = []
    for sub, patterns in STALE.items():
        folder = run_dir / sub
        for pattern in patterns:
            for path in folder.glob(pattern):
                with contextlib.suppress(OSError):
                    if not stat.S_ISDIR(os.lstat(path).st_mode):
                        path.unlink()
                        removed.append(path)
    return removed


def _end_last_line(path: Path) -> None:
    """A kill can cut the last metrics line short; end it, so that the resumed program's
    first record starts a line of its own."""
    try:
        with open(path, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
    except FileNotFoundError:
        pass


def _logged_bytes(run_dir: Path) -> int | None:
    """The metrics file's size recorded in the latest checkpoint (``__log_bytes__``): 0
    without a checkpoint (the program starts over), None when unknown (an older or damaged
    checkpoint, or one written without a metrics file). Only that scalar is read, as data."""
    latest = run_dir / CHECKPOINTS / "latest"
    if not latest.is_file():
        return 0
    import numpy as np  # only on a resume

    with open(latest, "rb") as handle:
        path = run_dir / CHECKPOINTS / handle.read(64).decode("ascii", "replace").strip()
    try:
        with np.load(path, allow_pickle=False) as archive:
            if archive.zip.getinfo("__log_bytes__.npy").file_size > 4096:
                return None
            value = archive["__log_bytes__"]
    except Exception:  # noqa: BLE001 - not a readable checkpoint: the program reports it
        return None
    if value.shape != () or value.dtype.kind not in "iu" or int(value) < 0:
        return None
    return int(value)


def _cut_log(run_dir: Path) -> None:
    """Cut metrics.jsonl back to what was written up to the latest checkpoint, as the resumed
    program does when it opens it (before the program starts, so that the records read from
    the file's end on are the resumed program's): records of steps that run again are not
    kept twice, and metrics.csv is built from the file the program continues."""
    path = run_dir / METRICS
    keep = _logged_bytes(run_dir)
    if keep is not None:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size > keep:
                os.truncate(path, keep)
    _end_last_line(path)


def _untrusted_reason(run_dir: Path, command: dict[str, Any]) -> str | None:
    """Why the folder's train.py is not modelgen's output for its spec.yaml (None: it is)."""
    program = run_dir / "train.py"
    try:
        info = os.lstat(program)
    except FileNotFoundError:
        return "train.py is missing"
    if not stat.S_ISREG(info.st_mode):
        return "train.py is not a regular file"
    try:
        graph, expected = _program(run_dir, command)
    except SpecError as exc:
        raise ModelgenError(
            f"{run_dir / 'spec.yaml'} no longer compiles, so {program} cannot be checked "
            f"against it:\n{exc.format()}"
        ) from None
    actual = program.read_bytes()
    if actual == expected.encode("utf-8"):
        return None
    text = actual.decode("utf-8", "replace")
    version = re.search(r"^# modelgen-version: (\S+)$", text, re.MULTILINE)
    spec_sha = re.search(r"^# spec-sha256: (\S+)$", text, re.MULTILINE)
    if not is_pristine(text) or version is None:
        return "train.py was edited (it is not modelgen's unedited output)"
    if version.group(1) != __version__:
        return f"train.py was generated by modelgen {version.group(1)}, this is {__version__}"
    if spec_sha is None or spec_sha.group(1) != graph.spec_sha256:
        return "spec.yaml changed since train.py was generated"
    return (
        "train.py is unedited but differs from what this modelgen generates for spec.yaml "
        "with the recorded options (was modelgen changed without a new version, or the run "
        "folder or its data moved?)"
    )


# -- run and resume -------------------------------------------------------------------------


def run(
    spec: Path,
    target: str,
    *,
    device: str | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    runs_dir: Path = Path("runs"),
    jit: bool = False,
    checkpoint_every: int = 0,
    tpu_timeout: float | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    data: Path | None = None,
    quiet: bool = False,
) -> RunSummary:
    """Generate ``spec`` for ``target`` into a new run folder, run it and summarise it."""
    if target not in TARGETS:
        raise ModelgenError(f"unknown target '{target}': expected one of {', '.join(TARGETS)}")
    check_device(device)
    if data is not None:
        if not data.exists():
            raise ModelgenError(f"--data {data}: no such file or folder")
        data = data.resolve()
    options = _check_options(
        {
            "device": device,
            "epochs": epochs,
            "max_steps": max_steps,
            "checkpoint_every": checkpoint_every,
            "tpu_timeout": tpu_timeout,
            "batch_size": batch_size,
            "seed": seed,
            "data": None if data is None else str(data),
            "jit": jit,
        }
    )
    graph = compile_file(spec, _spec_overrides(options, {}))
    source = spec.read_bytes()
    if data is not None and graph.spec.data.source == "synthetic":
        raise ModelgenError("--data: this spec's data is synthetic (data.source)")
    inputs = {"data.path": graph.data_path, "data.validation_path": graph.validation_path}
    if graph.spec.data.source != "synthetic":  # the folder the data must lie in, as compiled
        root = getattr(graph.spec.data, "data_root", None) or "."
        inputs["data.data_root"] = Path(os.path.realpath(spec.parent / root))
    command = {
        "version": COMMAND_VERSION,
        "modelgen": __version__,
        "target": target,
        "options": options,
        "spec_overrides": {k: str(v) for k, v in inputs.items() if v is not None},
    }
    run_dir = new_run_dir(runs_dir, f"{graph.spec.name}-{target}")
    command["created_in"] = str(run_dir.resolve())
    with RunLock(run_dir) as lock:
        atomic_write(run_dir / "spec.yaml", source)
        # Generated from the folder's own spec copy: what --resume regenerates to check it.
        write_generated(run_dir / "train.py", _program(run_dir, command)[1])
        _write_command(run_dir, command)
        return _execute(run_dir, target, _flags(command), quiet, lock, resuming=False)


def resume(
    run_dir: Path,
    *,
    device: str | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    checkpoint_every: int | None = None,
    tpu_timeout: float | None = None,
    target: str | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    data: Path | None = None,
    trust: bool = False,
    quiet: bool = False,
) -> RunSummary:
    """Continue the run in ``run_dir`` from its latest checkpoint. ``device``, ``epochs``,
    ``max_steps``, ``checkpoint_every`` and ``tpu_timeout`` may change (``epochs`` alone drops
    a recorded ``max_steps``: extend a run to that many epochs); ``target``, ``batch_size``,
    ``seed`` and ``data`` may not. ``trust`` runs a train.py that is not modelgen's unedited
    output for the folder's spec.yaml."""
    if not run_dir.is_dir():
        raise ModelgenError(f"{run_dir}: no such run folder")
    check_device(device)
    command = _load_command(run_dir)
    options = dict(command["options"])
    given = {"target": target, "batch_size": batch_size, "seed": seed}
    given["data"] = None if data is None else str(data.resolve())
    recorded = {**options, "target": command["target"]}
    for name, value in given.items():
        if value is not None and value != recorded[name]:
            flag = "--target" if name == "target" else FLAGS[name]
            raise ModelgenError(
                f"{flag} cannot change when resuming (the run began with "
                f"{recorded[name] if recorded[name] is not None else 'the spec value'}); "
                "start a new run instead"
            )
    changes = {
        "device": device,
        "epochs": epochs,
        "max_steps": max_steps,
        "checkpoint_every": checkpoint_every,
        "tpu_timeout": tpu_timeout,
    }
    if epochs is not None and max_steps is None:
        options["max_steps"] = None  # --epochs N: train to epoch N, not to an old step cap
    options.update({k: v for k, v in changes.items() if v is not None})
    options = _check_options(options)
    _check_entries(run_dir)
    with RunLock(run_dir) as lock:
        if not trust:
            reason = _untrusted_reason(run_dir, command)
            if reason:
                raise ModelgenError(
                    f"{run_dir / 'train.py'}: refusing to run it: {reason}. It would run as "
                    "you: pass --trust-run-dir to run it anyway, only for a folder you trust"
                )
        _check_latest(run_dir)
        _clean_stale(run_dir)  # the lock is held: no other run writes here
        command["options"] = options
        _write_command(run_dir, command)
        _cut_log(run_dir)
        flags = _flags(command, resume=True)
        return _execute(run_dir, command["target"], flags, quiet, lock, resuming=True)


# -- the supervised program -----------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel SIGKILL the program when the runner dies, however it
    dies (PR_SET_PDEATHSIG: Linux only; it covers a SIGKILL of the runner, which no handler
    sees). Everything is looked up before the fork: the child only calls into libc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent, kill, getppid, getpid = os.getpid(), os.kill, os.getppid, os.getpid

    def preexec() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        if getppid() != parent:  # the runner died before prctl took effect
            kill(getpid(), signal.SIGKILL)

    return preexec


class _Program:
    """A started program: signals go through a pidfd where there is one (never to a pid that
    was reaped and reused), and the whole process group can be killed until it is reaped."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.reaped = process, False
        try:
            self.pidfd: int | None = os.pidfd_open(process.pid)  # readable once it has exited
        except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
            self.pidfd = None

    def send(self, sig: int) -> None:
        if self.reaped:
            return
        with contextlib.suppress(ProcessLookupError):
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, sig)
            else:
                os.kill(self.process.pid, sig)

    def kill_group(self) -> None:
        """SIGKILL the program's process group (it leads it: start_new_session)."""
        if self.reaped:
            return
        self.send(signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _wait(
    process: subprocess.Popen, tick: Callable[[], None], grace: float = STOP_GRACE
) -> tuple[int, Any, str | None]:
    """Wait for ``process`` calling ``tick()`` every 0.2 s; returns (exit code, rusage, the
    name of the signal that stopped the run or None). A pidfd wakes the wait the moment the
    program exits. SIGINT, SIGTERM and SIGHUP of the runner are passed on as one SIGINT (the
    program stops cleanly and reports what it did; after SIGTERM/SIGHUP it has ``grace``
    seconds); a second signal kills the program's process group."""
    program = _Program(process)
    received: list[int] = []
    stop: int | None = None
    deadline: float | None = None
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    previous: dict[int, Any] = {}
    old_wakeup = None
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, lambda signum, frame: received.append(signum))
        old_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    try:
        while True:
            while received:
                signum = received.pop(0)
                if stop is None:
                    stop = signum
                    program.send(signal.SIGINT)  # once: the program stops cleanly
                    if signum != signal.SIGINT:
                        deadline = time.monotonic() + grace
                else:
                    program.kill_group()  # asked twice: stop now
            pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                program.reaped = True
                process.returncode = os.waitstatus_to_exitcode(wait_status)
                # Anything the program started in its group goes with it (while the group has
                # members, its id cannot be reused).
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGKILL)
                stop = stop if stop is not None else (received[0] if received else None)
                name = signal.Signals(stop).name if stop is not None else None
                return process.returncode, usage, name
            if deadline is not None and time.monotonic() > deadline:
                program.kill_group()
                deadline = None
            tick()
            waiting = [wake_read] + ([program.pidfd] if program.pidfd is not None else [])
            select.select(waiting, [], [], 0.2)
            with contextlib.suppress(BlockingIOError):
                os.read(wake_read, 512)
    except BaseException:
        program.kill_group()  # the runner is failing: the program must not outlive it
        if not program.reaped:
            process.wait()
            program.reaped = True
        raise
    finally:
        if old_wakeup is not None:
            signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        program.close()
        os.close(wake_read)
        os.close(wake_write)


def _last_error(log_path: Path, returncode: int) -> str:
    """The line that says why a program failed: its last `error:` line, else its last line."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        lines = []
    lines = [line.strip() for line in lines if line.strip()]
    errors = [line for line in lines[-40:] if line.startswith("error:")]
    if errors:
        return errors[-1]
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
    return lines[-1] if lines else f"exit code {returncode}, no output"


def _status(returncode: int, end: dict[str, Any] | None, stop: str | None) -> str:
    """completed, interrupted, nan or failed: from the exit code and the end record."""
    ended = end["status"] if end is not None else None
    if stop is not None:
        return "interrupted"
    if ended == "nan":
        return "nan"
    if returncode == 0 and ended == "completed":
        return "completed"
    if returncode == 130 and ended == "interrupted":
        return "interrupted"  # someone else stopped it with SIGINT
    return "failed"


def _execute(
    run_dir: Path,
    target: str,
    flags: list[str],
    quiet: bool,
    lock: RunLock,
    resuming: bool,
) -> RunSummary:
    """Run ``train.py`` in ``run_dir`` (its working directory) and summarise the records.
    Call it from the thread that lives longest (the main thread): the parent-death signal is
    sent when the thread that started the program ends."""
    metrics = run_dir / METRICS
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    log_path = run_dir / LOG
    offset = metrics.stat().st_size if resuming and metrics.is_file() else 0
    # The summary covers what this program writes (a resume: from where it starts); the
    # CSV and the plot cover the whole file. Each record is parsed once.
    reader, figures = MetricsReader(metrics, offset), Figures()
    table = CsvBuilder(run_dir / f".metrics.csv.{os.getpid()}.body.tmp")

    def tick() -> None:
        records = reader.poll()
        for record in records:
            figures.add(record)
        table.add(records)
        if not quiet and records:
            per_epoch = figures.setup["steps_per_epoch"] if figures.setup else 0
            _progress(records, sys.stderr, per_epoch)

    preexec = _die_with_parent()
    launched, start = time.time(), time.perf_counter()
    try:
        with open(log_path, "a", encoding="utf-8") as log_file:
            try:
                process = subprocess.Popen(
                    [sys.executable, "train.py", *flags],
                    cwd=run_dir,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # a terminal's Ctrl-C reaches it only from here
                    preexec_fn=preexec,
                    pass_fds=(lock.fd,),  # the lock is held until the program has ended too
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise ModelgenError(f"cannot start the {target} program: {exc}") from None
            # matplotlib takes ~0.3 s to import: load it while the program trains, not after
            # (started after the fork: preexec_fn must not run beside another thread).
            preload = threading.Thread(target=_matplotlib, daemon=True)
            preload.start()
            if offset:  # the earlier parts, read while the program starts
                table.add(_records(metrics, offset))
            returncode, usage, stop = _wait(process, tick)
        wall = time.perf_counter() - start
        tick()
        last = _record(reader.partial) if reader.partial.strip() else None
        if last is not None:  # a last line without its newline
            figures.add(last)
            table.add([last])
        status = _status(returncode, figures.end, stop)
        summary = figures.summary(target, run_dir, launched, wall, usage.ru_maxrss / 1024, status)
        summary.exit_code, summary.stopped_by = returncode, stop
        if status in ("failed", "nan"):
            summary.error = _last_error(log_path, returncode)
        try:
            data = (json.dumps(asdict(summary), indent=2) + "\n").encode()
            atomic_write(run_dir / "run.json", data)
            table.finish(run_dir / "metrics.csv")
            preload.join()
            _plot(table.epochs, run_dir / "curves.png")
        except OSError as exc:
            raise ModelgenError(f"cannot write the run's results in {run_dir}: {exc}") from None
    finally:
        reader.close()
        table.close()
    if status in ("failed", "nan"):
        raise RunError(
            f"the {target} program failed (exit code {returncode}): {summary.error}\n"
            f"  see {log_path}"
        )
    return summary


class CsvBuilder:
    """metrics.csv built while the records arrive (a long run is not parsed twice): the rows
    go to a temporary body file as they come; the header (every column, in order of first
    appearance) is written at the end, and rows written before a column appeared get its
    empty cell then."""

    def __init__(self, body: Path):
        self.body_path = body
        self.body = open(body, "wb+")  # noqa: SIM115 - closed by finish()/close()
        self.columns: dict[str, int] = {}
        self.layout: tuple[tuple[str, ...], list[int]] = ((), [])
        self.segments: list[tuple[int, int]] = []  # (body offset, columns then)
        self.epochs: list[dict[str, Any]] = []

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        text = io.StringIO()
        writer = csv.writer(text)
        for record in records:
            if record["event"] not in ("step", "epoch"):
                continue
            if record["event"] == "epoch":
                self.epochs.append(record)
            keys = tuple(record)
            if keys != self.layout[0]:
                if any(key not in self.columns for key in keys):
                    self._flush(text)
                    for key in keys:
                        self.columns.setdefault(key, len(self.columns))
                    self.segments.append((self.body.tell(), len(self.columns)))
                self.layout = (keys, [self.columns[key] for key in keys])
            row = [""] * len(self.columns)
            for index, value in zip(self.layout[1], record.values()):
                row[index] = value if type(value) in _NUMBER or value is None else _cell(value)
            writer.writerow(row)
        self._flush(text)

    def _flush(self, text: io.StringIO) -> None:
        self.body.write(text.getvalue().encode("utf-8"))
        text.seek(0)
        text.truncate()

    def finish(self, path: Path) -> None:
        """Write ``path`` (through a temporary file and a rename) and remove the body."""
        if not self.columns:
            return
        width = len(self.columns)
        header = io.StringIO()
        csv.writer(header).writerow(self.columns)
        ends = [offset for offset, _ in self.segments[1:]] + [self.body.tell()]
        parts = [header.getvalue().encode("utf-8")]
        for (offset, count), stop in zip(self.segments, ends):
            self.body.seek(offset)
            chunk = self.body.read(stop - offset)
            if count < width:  # no cell holds a line break (_cell): rows end at \r\n
                chunk = chunk.replace(b"\r\n", b"," * (width - count) + b"\r\n")
            parts.append(chunk)
        atomic_write(path, b"".join(parts))

    def close(self) -> None:
        self.body.close()
        self.body_path.unlink(missing_ok=True)


def _cell(value: Any) -> str:
    """A CSV cell of a value that is not a number: strings without line breaks as they are,
    anything else as JSON (which escapes line breaks)."""
    if type(value) is str and "\r" not in value and "\n" not in value:
        return value
    return json.dumps(value)


def _matplotlib() -> Any:
    """matplotlib.pyplot drawing to files, or None when matplotlib is not installed (it is in
    the dev and tf extras)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _plot(epochs: list[dict[str, Any]], path: Path) -> None:
    """Loss and metrics per epoch."""
    plt = _matplotlib()
    if plt is None or not epochs:
        return
    names = [
        k
        for k, v in epochs[0].items()
        if k not in ("event", "epoch", "seconds") and type(v) in _NUMBER
    ]
    bases = list(dict.fromkeys(n.removeprefix("val_") for n in names))
    if not bases:
        return
    fig, axes = plt.subplots(1, len(bases), figsize=(4 * len(bases), 3), squeeze=False)
    for axis, base in zip(axes[0], bases):
        for name in (base, f"val_{base}"):
            if name in names:
                points = [(r["epoch"], r[name]) for r in epochs if type(r.get(name)) in _NUMBER]
                axis.plot([p[0] for p in points], [p[1] for p in points], label=name)
        axis.set_xlabel("epoch")
        axis.set_title(base)
        axis.legend()
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=80)
    plt.close(fig)
    atomic_write(path, image.getvalue())


def _fmt(value: float | None, unit: str = "", scale: float = 1.0, digits: int = 3) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}{unit}"


def _epochs(seconds: list[float]) -> str:
    if len(seconds) <= 8:
        return " ".join(f"{s:.2f}" for s in seconds) or "-"
    median = statistics.median(seconds[1:])
    return f"{len(seconds)} epochs: first {seconds[0]:.2f}, then median {median:.2f}"


def format_summary(summary: RunSummary) -> str:
    """A human-readable table of one run."""
    rows = [
        ("target", summary.target),
        ("status", summary.status),
        ("device", summary.device),
        ("start-up (Python + TensorFlow import)", _fmt(summary.startup_seconds, " s")),
        ("model build", _fmt(summary.build_seconds, " s")),
        ("first step (tracing, compilation)", _fmt(summary.first_step_seconds, " s")),
        ("steady step (median)", _fmt(summary.steady_step_seconds, " ms", 1000, 2)),
        ("examples per second", _fmt(summary.examples_per_second, "", 1, 0)),
        ("epochs (wall s)", _epochs(summary.epoch_seconds)),
        ("total wall time", _fmt(summary.wall_seconds, " s", digits=2)),
        ("peak memory", _fmt(summary.peak_memory_mb, " MB", digits=0)),
        ("steps", str(summary.steps)),
    ] + [(f"final {k}", f"{v:.4f}") for k, v in summary.final.items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    lines.append(f"{'run folder'.ljust(width)}  {summary.run_dir}")
    return "\n".join(lines)


BENCH_FIELDS = (
    "first_step_seconds",
    "steady_step_seconds",
    "examples_per_second",
    "peak_memory_mb",
)


def bench(
    spec: Path,
    targets: list[str],
    *,
    repeat: int = 3,
    max_steps: int | None = None,
    epochs: int | None = None,
    jit: bool = False,
    runs_dir: Path = Path("runs"),
    device: str | None = None,
    tpu_timeout: float | None = None,
) -> dict[str, Any]:
    """Run the targets interleaved (A B A B ...) and return medians and tf/keras ratios."""
    if not targets:
        raise ModelgenError("give at least one target")
    for target in targets:
        if target not in TARGETS:
            raise ModelgenError(f"unknown target '{target}': expected one of {', '.join(TARGETS)}")
    check_device(device)
    runs: dict[str, list[RunSummary]] = {t: [] for t in targets}
    for index in range(repeat):
        for target in targets:
            print(f"run {index + 1}/{repeat}: {target}", file=sys.stderr, flush=True)
            runs[target].append(
                run(
                    spec,
                    target,
                    device=device,
                    epochs=epochs,
                    max_steps=max_steps,
                    runs_dir=runs_dir,
                    jit=jit,
                    tpu_timeout=tpu_timeout,
                    quiet=True,
                )
            )
    table: dict[str, Any] = {"spec": str(spec), "repeat": repeat, "targets": {}}
    for target, summaries in runs.items():
        table["targets"][target] = {
            name: statistics.median([getattr(s, name) for s in summaries if getattr(s, name)])
            if any(getattr(s, name) for s in summaries)
            else None
            for name in BENCH_FIELDS
        }
        table["targets"][target]["run_dirs"] = [s.run_dir for s in summaries]
    if "keras" in runs and "tf" in runs:
        keras, tf = table["targets"]["keras"], table["targets"]["tf"]
        table["ratio_tf_over_keras"] = {
            name: (tf[name] / keras[name]) if tf[name] and keras[name] else None
            for name in BENCH_FIELDS
        }
    return table


def format_bench(table: dict[str, Any]) -> str:
    """The benchmark as a side-by-side table."""
    targets = list(table["targets"])
    labels = {
        "first_step_seconds": ("first step", " s", 1, 3),
        "steady_step_seconds": ("steady step (median)", " ms", 1000, 2),
        "examples_per_second": ("examples/s", "", 1, 0),
        "peak_memory_mb": ("peak memory", " MB", 1, 0),
    }
    header = ["metric", *targets] + (["tf/keras"] if "ratio_tf_over_keras" in table else [])
    rows = [header]
    for name, (label, unit, scale, digits) in labels.items():
        row = [label] + [_fmt(table["targets"][t][name], unit, scale, digits) for t in targets]
        if "ratio_tf_over_keras" in table:
            row.append(_fmt(table["ratio_tf_over_keras"][name], "", 1, 2))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return f"{table['spec']}: medians of {table['repeat']} interleaved runs\n" + "\n".join(lines)
