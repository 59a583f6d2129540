"""The run summary computed from a program's metric records, and the wait for a program
(no TensorFlow needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelgen.runner import _wait, format_bench, format_summary, summarize

RECORDS = [
    {
        "event": "setup",
        "target": "tf",
        "device": "/CPU:0",
        "wall_clock": 103.5,
        "build_seconds": 0.2,
        "train_examples": 40,
        "batch_size": 10,
        "steps_per_epoch": 4,
    },
    *(
        {"event": "step", "step": i, "loss": 1.0 / i, "step_seconds": s}
        for i, s in enumerate([0.9, 0.004, 0.006, 0.005, 0.005], start=1)
    ),
    {"event": "epoch", "epoch": 1, "loss": 0.5, "val_loss": 0.6, "seconds": 1.2},
    {"event": "end", "status": "completed", "steps": 5, "seconds": 1.5, "peak_rss_mb": 300.0},
]


def test_summary_figures():
    summary = summarize(
        RECORDS, "tf", Path("r"), launched=100.0, wall=5.0, peak_mb=512.0, status="completed"
    )
    assert summary.startup_seconds == 3.5 and summary.build_seconds == 0.2
    assert summary.first_step_seconds == 0.9
    assert summary.steady_step_seconds == 0.005  # median of the steps after the first
    assert summary.examples_per_second == 10 / 0.005
    assert summary.epoch_seconds == [1.2] and summary.steps == 5
    assert summary.final == {"loss": 0.5, "val_loss": 0.6}
    assert summary.peak_memory_mb == 512.0
    text = format_summary(summary)
    assert "steady step (median)" in text and "5.00 ms" in text


def test_interrupted_status_wins_over_the_programs_end_record():
    summary = summarize(RECORDS[:3], "keras", Path("r"), 100.0, 1.0, None, "interrupted")
    assert summary.status == "interrupted" and summary.steps == 2


def test_bench_table_shows_ratios():
    row = {
        "first_step_seconds": 1.0,
        "steady_step_seconds": 0.004,
        "examples_per_second": 100.0,
        "peak_memory_mb": 600.0,
    }
    table = {
        "spec": "s.yaml",
        "repeat": 3,
        "targets": {"keras": row, "tf": {**row, "steady_step_seconds": 0.002}},
        "ratio_tf_over_keras": {
            "first_step_seconds": 1.0,
            "steady_step_seconds": 0.5,
            "examples_per_second": 1.0,
            "peak_memory_mb": 1.0,
        },
    }
    text = format_bench(table)
    assert "medians of 3 interleaved runs" in text and "0.50" in text and "2.00 ms" in text


def test_ctrl_c_as_the_program_exits_is_an_interruption_not_a_crash():
    """Ctrl-C lands after the program has exited but before it is reaped: the wait still
    collects its exit code (signalling a zombie is harmless; reaping it twice would fail)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    interrupted = []

    def tick() -> None:
        if not interrupted:
            deadline = time.monotonic() + 30
            while Path(f"/proc/{process.pid}/stat").read_text().split()[2] != "Z":
                assert time.monotonic() < deadline
                time.sleep(0.01)
            interrupted.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does; the wait's handler takes it

    returncode, usage, stopped_by = _wait(process, tick)
    assert (returncode, stopped_by) == (0, "SIGINT")
    assert usage.ru_utime >= 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
