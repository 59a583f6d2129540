"""Step time of the tf target vs the keras target on the bundled examples, and what
`modelgen run` adds to running a generated file directly.

Usage: python benchmarks/train_speed.py [--repeat 3] [--max-steps 150] [--only NAME]

For each example it runs `modelgen bench` (targets interleaved keras, tf, keras, tf, ...) and
prints the medians and the ratio tf/keras of the steady-state step time (goal: <= 0.6 on the
digits examples, <= 1.0 everywhere). Then it times the digits MLP run directly
(`python train.py`) and through `modelgen run`, interleaved, and prints the overhead.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modelgen.build import generate
from modelgen.runner import bench, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "configs").glob("*.yaml"))


def step_ratios(repeat: int, max_steps: int, only: str | None, runs: Path) -> None:
    print(f"{'example':<22} {'keras ms':>9} {'tf ms':>9} {'tf/keras':>9}  first step k/tf (s)")
    for example in EXAMPLES:
        if only and only not in example.stem:
            continue
        table = bench(
            example,
            ["keras", "tf"],
            repeat=repeat,
            max_steps=max_steps,
            runs_dir=runs / example.stem,
        )
        k, t = table["targets"]["keras"], table["targets"]["tf"]
        ratio = table["ratio_tf_over_keras"]["steady_step_seconds"]
        print(
            f"{example.stem:<22} {k['steady_step_seconds'] * 1000:9.2f} "
            f"{t['steady_step_seconds'] * 1000:9.2f} {ratio:9.2f}  "
            f"{k['first_step_seconds']:.2f}/{t['first_step_seconds']:.2f}",
            flush=True,
        )


def runner_overhead(repeat: int, runs: Path) -> None:
    spec = ROOT / "examples" / "configs" / "digits_mlp.yaml"
    folder = runs / "overhead"
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "train.py"
    program.write_text(generate(spec, "tf", folder)[1], encoding="utf-8")
    direct, wrapped = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, str(program), "--metrics-out", str(folder / "m.jsonl")],
            check=True,
            capture_output=True,
        )
        direct.append(time.perf_counter() - start)
        start = time.perf_counter()
        run(spec, "tf", runs_dir=folder, quiet=True)
        wrapped.append(time.perf_counter() - start)
    d, w = statistics.median(direct), statistics.median(wrapped)
    paired = sorted(100 * (b - a) / a for a, b in zip(direct, wrapped))
    print(
        f"digits_mlp (tf target, {repeat} interleaved runs): python train.py {d:.2f} s, "
        f"modelgen run {w:.2f} s, overhead {100 * (w - d) / d:+.1f}% (medians); "
        f"paired runs {paired[0]:+.1f}% .. {paired[-1]:+.1f}%, "
        f"median {statistics.median(paired):+.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--only", help="only examples whose name contains this")
    parser.add_argument(
        "--overhead-repeat", type=int, default=7, help="interleaved runs for the run overhead"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        step_ratios(options.repeat, options.max_steps, options.only, Path(tmp))
        runner_overhead(options.overhead_repeat, Path(tmp))


if __name__ == "__main__":
    main()
