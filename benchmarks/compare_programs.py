"""Steady-state step time of two generated programs, run interleaved (A, B, A, B, ...).

Usage: python benchmarks/compare_programs.py A.py B.py [--repeat 5] [--max-steps 200]
           [-- extra flags for both programs]

Use it to check that an edit to a program (or to a template: build the program before and
after) did not make training slower. Each run writes its per-step records with
--metrics-out; the steady step time is the median of the steps after the first tenth (the
first steps trace and compile). Prints both medians and the ratio B/A.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def steady_step_seconds(metrics: Path) -> float:
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    times = [r["step_seconds"] for r in records if r.get("event") == "step"]
    if not times:
        raise SystemExit(f"error: {metrics} has no step records")
    return statistics.median(times[len(times) // 10 :])


def time_program(program: Path, flags: list[str], folder: Path) -> float:
    metrics = folder / "metrics.jsonl"
    metrics.unlink(missing_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, str(program), "--metrics-out", str(metrics), *flags]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(
            f"error: {program} failed (exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    return steady_step_seconds(metrics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("flags", nargs="*", help="more flags for both programs (after --)")
    args = parser.parse_args()
    flags = ["--max-steps", str(args.max_steps), "--epochs", "1000", *args.flags]
    seconds: dict[Path, list[float]] = {args.a: [], args.b: []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            for program in (args.a, args.b):
                seconds[program].append(time_program(program, flags, Path(folder)))
    a, b = (statistics.median(seconds[p]) for p in (args.a, args.b))
    print(f"A {args.a}: {a * 1000:.3f} ms/step (runs: {len(seconds[args.a])})")
    print(f"B {args.b}: {b * 1000:.3f} ms/step")
    print(f"B/A: {b / a:.3f}")


if __name__ == "__main__":
    main()
