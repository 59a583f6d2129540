"""Run a generated program in a subprocess, show its progress, and summarise what it measured.

The generated program writes one JSON object per line to ``metrics.jsonl`` (a ``setup``
record, one ``step`` record per update, one ``epoch`` record per epoch, an ``end`` record);
this module reads that file while the program runs and turns it into a run record. It never
imports TensorFlow itself.
"""

from __future__ import annotations

import csv
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from modelgen.build import render_program, write_generated
from modelgen.errors import ModelgenError, RunError
from modelgen.graph import compile_file

__all__ = ["RunSummary", "run", "resume", "summarize", "format_summary", "bench", "format_bench"]


@dataclass
class RunSummary:
    """The figures of one run, as written to run.json."""

    target: str
    status: str
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


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line still being written
    return out


def summarize(
    records: list[dict[str, Any]],
    target: str,
    run_dir: Path,
    launched: float,
    wall: float | None,
    peak_mb: float | None,
    status: str,
) -> RunSummary:
    """Turn a program's metric records into a RunSummary."""
    summary = RunSummary(target=target, status=status, run_dir=str(run_dir))
    summary.wall_seconds, summary.peak_memory_mb = wall, peak_mb
    for record in records:
        if record["event"] == "setup":
            summary.device = record["device"]
            summary.batch_size = record["batch_size"]
            summary.build_seconds = record["build_seconds"]
            summary.startup_seconds = max(0.0, record["wall_clock"] - launched)
        elif record["event"] == "end":
            summary.status = record["status"] if status == "completed" else status
            summary.steps = record["steps"]
            summary.peak_memory_mb = summary.peak_memory_mb or record["peak_rss_mb"]
    steps = [r for r in records if r["event"] == "step"]
    if steps:
        summary.steps = steps[-1]["step"]
    if steps:
        summary.first_step_seconds = steps[0]["step_seconds"]
        rest = [r["step_seconds"] for r in steps[1:]] or [steps[0]["step_seconds"]]
        summary.steady_step_seconds = statistics.median(rest)
        if summary.steady_step_seconds > 0 and summary.batch_size:
            summary.examples_per_second = summary.batch_size / summary.steady_step_seconds
    epochs = [r for r in records if r["event"] == "epoch"]
    summary.epoch_seconds = [r["seconds"] for r in epochs]
    last = epochs[-1] if epochs else (steps[-1] if steps else {})
    skip = {"event", "epoch", "step", "seconds", "step_seconds"}
    summary.final = {k: v for k, v in last.items() if k not in skip}
    return summary


def _progress(records: list[dict[str, Any]], out: TextIO, shown: dict[str, int]) -> None:
    """Print new epoch lines, and a live line for the current epoch when out is a terminal."""
    setup = next((r for r in records if r["event"] == "setup"), None)
    per_epoch = setup["steps_per_epoch"] if setup else 0
    for record in records[shown["records"] :]:
        if record["event"] == "epoch":
            metrics = " ".join(
                f"{k} {v:.4f}" for k, v in record.items() if k not in ("event", "epoch", "seconds")
            )
            out.write(f"\repoch {record['epoch']}: {metrics} ({record['seconds']:.2f} s)\n")
        elif record["event"] == "step" and out.isatty() and per_epoch:
            done = (record["step"] - 1) % per_epoch + 1
            bar = "#" * (20 * done // per_epoch)
            out.write(f"\r[{bar:<20}] {done}/{per_epoch} loss {record['loss']:.4f}")
    shown["records"] = len(records)
    out.flush()


def _wait(process: subprocess.Popen, tick) -> tuple[int, Any, str]:
    """Wait for ``process`` calling ``tick()`` every 0.2 s; returns (exit code, rusage, status).
    A pidfd wakes the wait the moment the program exits (a plain sleep would add up to 0.2 s).
    Ctrl-C is passed on to the program (it runs in its own session, so a terminal's Ctrl-C
    reaches it only from here, once); it stops cleanly and reports what it did."""
    status = "completed"
    try:
        exited = os.pidfd_open(process.pid)  # readable once the program has exited
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
        exited = None
    try:
        while True:
            try:
                pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    process.returncode = os.waitstatus_to_exitcode(wait_status)
                    return process.returncode, usage, status
                tick()
                if exited is None:
                    time.sleep(0.2)
                else:
                    select.select([exited], [], [], 0.2)
            except KeyboardInterrupt:
                if status != "interrupted":
                    # os.kill, not send_signal: that reaps an exited program, and wait4 above
                    # must. Until wait4 reaps it, the pid is still the program's.
                    os.kill(process.pid, signal.SIGINT)  # once: the program stops cleanly
                status = "interrupted"
    finally:
        if exited is not None:
            os.close(exited)


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
    quiet: bool = False,
) -> RunSummary:
    """Generate ``spec`` for ``target`` into a new run folder, run it and summarise it."""
    overrides = {"runtime.jit_compile": True, "runtime.deterministic": False} if jit else None
    graph = compile_file(spec, overrides)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    run_dir = runs_dir / f"{graph.spec.name}-{target}-{stamp}"
    run_dir.mkdir(parents=True)
    program = run_dir / "train.py"
    write_generated(program, render_program(graph, target, run_dir))
    shutil.copyfile(spec, run_dir / "spec.yaml")
    flags = [
        "--metrics-out",
        "metrics.jsonl",
        "--save-weights",
        "weights.npz",
        "--checkpoint-dir",
        "checkpoints",
        "--checkpoint-every",
        str(checkpoint_every),
    ]
    for flag, value in (
        ("--device", device),
        ("--epochs", epochs),
        ("--max-steps", max_steps),
        ("--tpu-timeout", tpu_timeout),
    ):
        if value is not None:
            flags += [flag, str(value)]
    (run_dir / "command.json").write_text(json.dumps({"target": target, "flags": flags}), "utf-8")
    return _execute(run_dir, target, flags, quiet)


def resume(run_dir: Path, *, quiet: bool = False) -> RunSummary:
    """Continue the run in ``run_dir`` from its latest checkpoint."""
    command = run_dir / "command.json"
    if not command.is_file():
        raise ModelgenError(f"{run_dir} is not a modelgen run folder (no command.json)")
    saved = json.loads(command.read_text(encoding="utf-8"))
    return _execute(run_dir, saved["target"], [*saved["flags"], "--resume"], quiet)


def _execute(run_dir: Path, target: str, flags: list[str], quiet: bool) -> RunSummary:
    """Run ``train.py`` in ``run_dir`` (its working directory) and summarise the records."""
    metrics = run_dir / "metrics.jsonl"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    log_path = run_dir / "output.log"
    resuming = "--resume" in flags
    shown = {"records": len(_records(metrics)) if resuming else 0}

    def tick() -> None:
        if not quiet:
            _progress(_records(metrics), sys.stderr, shown)

    # matplotlib takes ~0.3 s to import: load it while the program trains, not after.
    preload = threading.Thread(target=_matplotlib, daemon=True)
    preload.start()
    launched, start = time.time(), time.perf_counter()
    with open(log_path, "a", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            [sys.executable, "train.py", *flags],
            cwd=run_dir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        returncode, usage, status = _wait(process, tick)
    wall = time.perf_counter() - start
    tick()
    every_record = _records(metrics)
    records = every_record
    setups = [i for i, r in enumerate(records) if r["event"] == "setup"]
    if resuming and setups:  # summarise the resumed part: from its setup record on
        records = records[setups[-1] :]
    summary = summarize(records, target, run_dir, launched, wall, usage.ru_maxrss / 1024, status)
    (run_dir / "run.json").write_text(json.dumps(asdict(summary), indent=2) + "\n", "utf-8")
    _write_csv(every_record, run_dir / "metrics.csv")
    preload.join()
    _plot(every_record, run_dir / "curves.png")
    if returncode not in (0, 130) or summary.status == "nan":
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-12:]
        raise RunError(
            f"the {target} program stopped with exit code {returncode}; see {log_path}:\n"
            + "\n".join(tail)
        )
    return summary


def _write_csv(records: list[dict[str, Any]], path: Path) -> None:
    rows = [r for r in records if r["event"] in ("step", "epoch")]
    if not rows:
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


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


def _plot(records: list[dict[str, Any]], path: Path) -> None:
    """Loss and metrics per epoch."""
    epochs = [r for r in records if r["event"] == "epoch"]
    plt = _matplotlib()
    if plt is None or not epochs:
        return
    names = [k for k in epochs[0] if k not in ("event", "epoch", "seconds")]
    bases = list(dict.fromkeys(n.removeprefix("val_") for n in names))
    fig, axes = plt.subplots(1, len(bases), figsize=(4 * len(bases), 3), squeeze=False)
    for axis, base in zip(axes[0], bases):
        for name in (base, f"val_{base}"):
            if name in names:
                axis.plot([r["epoch"] for r in epochs], [r[name] for r in epochs], label=name)
        axis.set_xlabel("epoch")
        axis.set_title(base)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


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
