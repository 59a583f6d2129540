"""The zoo: how long `modelgen validate` and `build` take on the full-size Keras Applications
specs, and the steady step time of both targets on the small variants.

Usage: python benchmarks/zoo_speed.py [--repeat 5] [--max-steps 60] [--only NAME]

Part 1, per full-size spec (examples/zoo/, no TensorFlow): the median wall time of
compile_file (what `validate` does after start-up) and of generate for each target, and the
median `modelgen validate` process time (start-up included). Goal: the ResNet50 spec
validates in under 0.5 s.
Part 2, per small variant: `modelgen bench` (targets interleaved keras, tf, keras, tf, ...),
the medians of the steady-state step time and the ratio tf/keras.
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
from modelgen.graph import compile_file
from modelgen.runner import bench

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "examples" / "zoo"


def median_seconds(repeat: int, action, *args, **kwargs) -> float:
    """The median wall time of action(*args, **kwargs) over `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_times(repeat: int, only: str | None) -> None:
    print(
        f"{'spec':<18} {'layers':>6} {'params':>12} {'validate':>9} {'keras':>7} {'tf':>7} "
        f"{'process':>8}  (seconds)"
    )
    for spec in sorted(ZOO.glob("*.yaml")):
        if spec.stem.endswith("_small") or (only and only not in spec.stem):
            continue
        graph = compile_file(spec)
        validate = median_seconds(repeat, compile_file, spec)
        keras = median_seconds(repeat, generate, spec, "keras")
        tf = median_seconds(repeat, generate, spec, "tf")
        command = [sys.executable, "-m", "modelgen", "validate", str(spec)]
        process = median_seconds(repeat, subprocess.run, command, capture_output=True, check=True)
        print(
            f"{spec.stem:<18} {len(graph.nodes):6d} {graph.total_params:12,d} {validate:9.3f} "
            f"{keras:7.3f} {tf:7.3f} {process:8.3f}",
            flush=True,
        )


def step_times(repeat: int, max_steps: int, only: str | None, runs: Path) -> None:
    print(f"\n{'small variant':<22} {'keras ms':>9} {'tf ms':>9} {'tf/keras':>9}")
    for spec in sorted(ZOO.glob("*_small.yaml")):
        if only and only not in spec.stem:
            continue
        table = bench(
            spec, ["keras", "tf"], repeat=repeat, max_steps=max_steps, runs_dir=runs / spec.stem
        )
        k, t = table["targets"]["keras"], table["targets"]["tf"]
        ratio = table["ratio_tf_over_keras"]["steady_step_seconds"]
        print(
            f"{spec.stem:<22} {k['steady_step_seconds'] * 1000:9.2f} "
            f"{t['steady_step_seconds'] * 1000:9.2f} {ratio:9.2f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=60)
    parser.add_argument("--only", help="only specs whose name contains this")
    args = parser.parse_args()
    build_times(args.repeat, args.only)
    with tempfile.TemporaryDirectory() as runs:
        step_times(max(1, args.repeat // 2), args.max_steps, args.only, Path(runs))


if __name__ == "__main__":
    main()
