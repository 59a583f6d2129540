"""What `modelgen run`'s supervision costs on a long run: a program writing 200k step records
run directly and through the runner, interleaved.

Usage: python benchmarks/runner_overhead_long.py [--steps 200000] [--repeat 3] [--real]

By default the program is synthetic (no TensorFlow): it writes the records a generated program
writes (setup, one step record per update, flushed each time as MetricsLog does, an epoch
record every 100 steps, end) at a steady pace, 0.144 ms per step (195k steps in 28.1 s, the
tf target's pace on a tiny spec). The runner's side is `runner._execute`, what `modelgen run`
does once the program is generated: supervise it, read its metrics as they grow (progress to
stderr, here /dev/null), then write run.json, metrics.csv and curves.png. `--real` instead
runs a tiny spec's tf program for --steps updates: `python train.py` with the flags
`modelgen run` passes (weights, a synced checkpoint at each epoch end) against `modelgen run`,
and also plain `python train.py` (metrics only), which shows what the checkpoints cost.
Prints the medians, the ratio runner/direct and the paired ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modelgen import runner  # noqa: E402
from modelgen.build import generate  # noqa: E402

PROGRAM = """import json, sys, time
steps, pace = int(sys.argv[1]), float(sys.argv[2])
log = open("metrics.jsonl", "w", encoding="utf-8")
def write(**record):
    log.write(json.dumps(record) + "\\n")
    log.flush()
write(event="setup", target="tf", device="/CPU:0", replicas=1, wall_clock=time.time(),
      build_seconds=0.1, train_examples=1600, batch_size=16, steps_per_epoch=100)
started = time.perf_counter()
for step in range(1, steps + 1):
    while time.perf_counter() - started < step * pace:
        pass  # training: busy, as the real program is
    write(event="step", step=step, loss=1.0 / step, accuracy=0.5, step_seconds=pace)
    if step % 100 == 0:
        write(event="epoch", epoch=step // 100, loss=0.5, accuracy=0.5, val_loss=0.6,
              val_accuracy=0.5, seconds=100 * pace)
write(event="end", status="completed", steps=steps, seconds=steps * pace, peak_rss_mb=50.0)
"""


def synthetic(steps: int, pace: float, repeat: int, folder: Path) -> tuple[list, list]:
    program = folder / "synthetic.py"
    program.write_text(PROGRAM, encoding="utf-8")
    direct_dir = folder / "direct"
    direct_dir.mkdir()
    direct, wrapped = [], []
    for index in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(program), str(steps), str(pace)], cwd=direct_dir,
                       check=True)  # fmt: skip
        direct.append(time.perf_counter() - start)
        run_dir = runner.new_run_dir(folder / "runs", "synthetic")
        (run_dir / "train.py").write_text(PROGRAM, encoding="utf-8")
        start = time.perf_counter()
        with (
            runner.RunLock(run_dir) as lock,
            open(os.devnull, "w") as quiet,
            contextlib.redirect_stderr(quiet),
        ):
            summary = runner._execute(
                run_dir, "tf", [str(steps), str(pace)], False, lock, resuming=False
            )
        wrapped.append(time.perf_counter() - start)
        assert summary.status == "completed" and summary.steps == steps, summary
        print(f"  {index + 1}/{repeat}: direct {direct[-1]:.2f} s, runner {wrapped[-1]:.2f} s",
              flush=True)  # fmt: skip
    return direct, wrapped


def real(steps: int, repeat: int, folder: Path) -> tuple[list, list, list]:
    """(plain direct, direct with the runner's flags, through the runner) wall times."""
    spec = folder / "spec.yaml"
    spec.write_text(
        json.dumps(
            {
                "name": "tiny",
                "seed": 3,
                "data": {"source": "synthetic", "num_samples": 2000, "batch_size": 16},
                "model": {"inputs": {"x": {"shape": [6]}}, "layers": [{"dense": {"units": 3}}]},
                "train": {
                    "epochs": 100_000,
                    "optimizer": {"type": "sgd"},
                    "loss": {"type": "sparse_categorical_crossentropy", "from_logits": True},
                    "metrics": ["accuracy"],
                },
            }
        ),
        encoding="utf-8",
    )
    program = folder / "train.py"
    program.write_text(generate(spec, "tf", folder)[1], encoding="utf-8")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    plain = ["--max-steps", str(steps), "--metrics-out", "m.jsonl"]
    # what `modelgen run` passes: weights, and a checkpoint at each epoch end (synced)
    flags = plain + ["--save-weights", "w.npz", "--checkpoint-dir", "ck", "--checkpoint-every", "0"]
    times: tuple[list, list, list] = ([], [], [])
    for index in range(repeat):
        for args, out in ((plain, times[0]), (flags, times[1])):
            start = time.perf_counter()
            subprocess.run([sys.executable, str(program), *args], cwd=folder, check=True,
                           capture_output=True, env=env)  # fmt: skip
            out.append(time.perf_counter() - start)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
            summary = runner.run(spec, "tf", max_steps=steps, runs_dir=folder / "runs")
        times[2].append(time.perf_counter() - start)
        assert summary.status == "completed" and summary.steps == steps, summary
        print(f"  {index + 1}/{repeat}: direct {times[0][-1]:.2f} s, direct with the runner's "
              f"flags {times[1][-1]:.2f} s, runner {times[2][-1]:.2f} s", flush=True)  # fmt: skip
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pace", type=float, default=28.1 / 195_000, help="seconds per step")
    parser.add_argument("--real", action="store_true", help="a tiny spec's tf program")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if options.real:
            plain, direct, wrapped = real(options.steps, options.repeat, Path(tmp))
            what = f"tiny spec, tf target, {options.steps} steps"
            p = statistics.median(plain)
            print(f"{what}: plain python train.py {p:.2f} s (median); with the runner's flags "
                  f"(checkpoint each epoch) {statistics.median(direct) / p:.3f}x that")  # fmt: skip
        else:
            what = f"synthetic program, {options.steps} step records at {options.pace * 1e3:.3f} ms"
            direct, wrapped = synthetic(options.steps, options.pace, options.repeat, Path(tmp))
    d, w = statistics.median(direct), statistics.median(wrapped)
    paired = sorted(b / a for a, b in zip(direct, wrapped))
    print(
        f"{what} ({options.repeat} interleaved runs): direct {d:.2f} s, through the runner "
        f"{w:.2f} s, ratio {w / d:.3f} (medians); paired ratios {paired[0]:.3f} .. "
        f"{paired[-1]:.3f}"
    )


if __name__ == "__main__":
    main()
