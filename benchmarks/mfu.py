"""Model FLOPs utilization (MFU) of the generated tf target.

Usage: python benchmarks/mfu.py [--max-steps 60]

For the digits CNN and a large MLP on synthetic data, runs the generated tf program, takes its
steady-state step time, and divides the model's training FLOP/s (3 x forward multiply-adds x 2,
dense and convolution layers, from modelgen's graph) by the FLOP/s of a large float32
tf.matmul measured just before and just after on the same machine (the better of the two).
Goal (issue 3): >= 70% on the large MLP.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from modelgen.graph import Graph, compile_file
from modelgen.runner import run

ROOT = Path(__file__).resolve().parent.parent
MATMUL = """
import time, tensorflow as tf
n = 2048
a = tf.random.normal((n, n)); b = tf.random.normal((n, n))
mm = tf.function(lambda a, b: tf.matmul(a, b))
mm(a, b).numpy()
best = 0.0
for _ in range(5):
    start = time.perf_counter()
    for _ in range(10):
        c = mm(a, b)
    c.numpy()
    best = max(best, 10 * 2 * n**3 / (time.perf_counter() - start))
print(best)
"""


def forward_flops(graph: Graph) -> int:
    """Multiply-add FLOPs (x2) of one example's forward pass through dense and conv layers."""
    shapes = {i.name: i.shape for i in graph.inputs} | {n.name: n.shape for n in graph.nodes}
    total = 0
    for node in graph.nodes:
        source = shapes[node.inputs[0]]
        kernel = next((v.shape for v in node.variables if v.name == "kernel"), None)
        if node.kind == "dense":
            total += 2 * math.prod(source) * node.params.units
        elif node.kind in ("conv1d", "conv2d") and kernel is not None:
            total += 2 * math.prod(kernel) * math.prod(node.shape[:-1])
    return total


def matmul_flops() -> float:
    result = subprocess.run(
        [sys.executable, "-c", MATMUL],
        capture_output=True,
        text=True,
        check=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
    )
    return float(result.stdout.strip().splitlines()[-1])


def large_mlp(folder: Path) -> Path:
    spec = {
        "name": "large_mlp",
        "seed": 0,
        "data": {"source": "synthetic", "num_samples": 8192, "batch_size": 512},
        "model": {
            "inputs": {"x": {"shape": [1024]}},
            "layers": [
                {"dense": {"units": 4096, "activation": "relu"}},
                {"dense": {"units": 4096, "activation": "relu"}},
                {"dense": {"units": 10}},
            ],
        },
        "train": {
            "optimizer": {"type": "sgd", "learning_rate": 0.01},
            "loss": {"type": "sparse_categorical_crossentropy", "from_logits": True},
        },
    }
    path = folder / "large_mlp.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int, default=60)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        specs = [ROOT / "examples" / "configs" / "digits_cnn.yaml", large_mlp(Path(tmp))]
        for spec in specs:
            graph = compile_file(spec)
            before = matmul_flops()
            summary = run(spec, "tf", max_steps=options.max_steps, runs_dir=Path(tmp), quiet=True)
            after = matmul_flops()
            per_step = 3 * forward_flops(graph) * graph.spec.data.batch_size
            achieved = per_step / summary.steady_step_seconds
            peak = max(before, after)
            print(
                f"{graph.spec.name:<12} step {summary.steady_step_seconds * 1000:8.2f} ms  "
                f"{achieved / 1e9:8.1f} GFLOP/s of {peak / 1e9:6.1f} (matmul)  "
                f"MFU {100 * achieved / peak:5.1f}%",
                flush=True,
            )


if __name__ == "__main__":
    main()
