"""Time `modelgen validate` and `modelgen build` as whole processes (what a user waits for).

Usage: python benchmarks/cli_speed.py [--repeat N]

For each example spec and a generated 300-layer spec, runs each command N times in a fresh
process and prints the median wall time and process CPU time (user + sys), and whether the
process imported TensorFlow. Goal (issue 2): no TensorFlow, under 0.3 s of process time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import sys\nfrom modelgen.cli import main\nsys.argv = ['modelgen', *sys.argv[1:]]\n"
    "try:\n    main()\nfinally:\n    sys.stderr.write('TF=%s\\n' % ('tensorflow' in sys.modules))\n"
)


def deep_spec(path: Path, depth: int = 300) -> Path:
    layers = [{"dense": {"units": 32, "activation": "relu"}} for _ in range(depth - 1)]
    layers.append({"dense": {"units": 10}})
    spec = {
        "name": "deep",
        "data": {"source": "synthetic"},
        "model": {"inputs": {"x": {"shape": [32]}}, "layers": layers},
        "train": {"loss": {"type": "sparse_categorical_crossentropy", "from_logits": True}},
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def measure(args: list[str], repeat: int) -> tuple[float, float, bool]:
    walls, cpus, imported_tf = [], [], False
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr}")
        imported_tf |= "TF=True" in result.stderr
    return statistics.median(walls), statistics.median(cpus), imported_tf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        specs = sorted((ROOT / "examples" / "configs").glob("*.yaml"))
        specs.append(deep_spec(Path(tmp) / "deep300.yaml"))
        print(f"{'spec':<22} {'command':<14} {'wall s':>7} {'cpu s':>7}  tensorflow")
        worst = 0.0
        for spec in specs:
            for name, args in [
                ("validate", ["validate", str(spec)]),
                ("build keras", ["build", str(spec), "-t", "keras", "-o", f"{tmp}/k.py"]),
                ("build tf", ["build", str(spec), "-t", "tf", "-o", f"{tmp}/t.py"]),
            ]:
                wall, cpu, tf = measure(args, options.repeat)
                worst = max(worst, cpu)
                print(
                    f"{spec.stem:<22} {name:<14} {wall:7.3f} {cpu:7.3f}  "
                    f"{'IMPORTED' if tf else 'not imported'}"
                )
                for leftover in (Path(tmp) / "k.py", Path(tmp) / "t.py"):
                    leftover.unlink(missing_ok=True)
        print(
            f"worst median process time: {worst:.3f} s (goal < 0.3 s); "
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
        )


if __name__ == "__main__":
    main()
