"""How far can the tf target's step go? Its program and its bare step against the keras target.

Usage: python benchmarks/step_floor.py [SPEC ...] [--repeat 3] [--max-steps 150]

For each spec (default: the digits examples) it times, interleaved, medians of --repeat runs:
- the keras target's program and the tf target's program: their steady step, as `modelgen
  bench` reports it;
- the tf target's bare step: the generated program's own model, loss, metrics and optimizer
  run 64 batches to a compiled call and nothing else (no logging, no reads, no epoch
  boundaries, no smaller last batch).
Both targets must run the same kernels to stay bit-identical, so bare / keras is the lowest
step ratio that bit-equivalent code can reach on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from modelgen.codegen import render_with_names
from modelgen.graph import compile_file
from modelgen.runner import run

ROOT = Path(__file__).resolve().parent.parent
DIGITS = sorted((ROOT / "examples" / "configs").glob("digits_*.yaml"))
BARE = """
import importlib.util, inspect, statistics, sys, time
import numpy as np
spec = importlib.util.spec_from_file_location("program", sys.argv[1])
program = importlib.util.module_from_spec(spec)
spec.loader.exec_module(program)
tf = program.tf
args = program.parse_args([])
program.configure(args)
train_x, train_y, _, _ = program.split_arrays(args)
with tf.device(program.select_device("cpu")):
    model = getattr(program, sys.argv[2])(args.seed)
    features = {k: tf.constant(v) for k, v in train_x.items()}
    labels = tf.constant(train_y)
    # The optimizer takes the run's length only when its schedule reads it.
    run_length = [10**6] if "total_steps" in inspect.signature(program.Optimizer).parameters else []
    optimizer = program.Optimizer(model.trainable_weights, *run_length)
    metrics = program.Metrics()

    def step_body(index):  # the generated program's step
        batch = {k: tf.gather(v, index) for k, v in features.items()}
        batch_labels = tf.gather(labels, index)
        with tf.GradientTape() as tape:
            logits, outputs = model(batch, training=True)
            if hasattr(program, "total_loss"):  # the data loss plus weight penalties
                loss = program.total_loss(model, batch_labels, logits)
            else:
                loss = program.data_loss(batch_labels, logits)
        metrics.update(loss, batch_labels, outputs)
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        return loss

    @tf.function(jit_compile=program.JIT_COMPILE,
                 input_signature=[tf.TensorSpec([None, None], tf.int64)])
    def steps(rows):
        total = tf.constant(0.0)
        for i in tf.range(tf.shape(rows)[0]):
            total += step_body(rows[i])
        return total

    rng = np.random.default_rng(0)
    rows = np.stack([rng.choice(len(train_y), args.batch_size, replace=False)
                     for _ in range(64)]).astype(np.int64)
    steps(rows[:2]).numpy()  # trace
    seconds = []
    for _ in range(7):
        start = time.perf_counter()
        steps(rows).numpy()
        seconds.append((time.perf_counter() - start) / len(rows))
    print(statistics.median(seconds))
"""


def bare_step(spec: Path, folder: Path) -> float:
    """Median seconds per step of the tf target's bare step (64 steps per call, 7 calls)."""
    program = folder / "bare_train.py"
    graph = compile_file(spec)
    code, names = render_with_names(graph, "tf", folder)
    class_name = names["<class>"]
    program.write_text(code, encoding="utf-8")
    driver = folder / "bare_step.py"  # a file: AutoGraph reads the loop's source
    driver.write_text(BARE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(driver), str(program), class_name],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if result.returncode:
        sys.exit(f"the bare step of {spec} failed:\n{result.stderr[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path, default=DIGITS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=150)
    options = parser.parse_args()
    columns = ("keras ms", "tf ms", "bare ms", "tf/keras", "bare/keras")
    print(f"{'spec':<18}" + "".join(f"{c:>11}" for c in columns))
    with tempfile.TemporaryDirectory() as tmp:
        for spec in options.specs:
            folder = Path(tmp) / spec.stem
            folder.mkdir()
            times: dict[str, list[float]] = {"keras": [], "tf": [], "bare": []}
            for _ in range(options.repeat):
                for target in ("keras", "tf"):
                    summary = run(
                        spec, target, max_steps=options.max_steps, runs_dir=folder, quiet=True
                    )
                    times[target].append(summary.steady_step_seconds)
                times["bare"].append(bare_step(spec, folder))
            k, t, b = (statistics.median(times[n]) * 1000 for n in ("keras", "tf", "bare"))
            figures = (k, t, b, t / k, b / k)
            print(f"{spec.stem:<18}" + "".join(f"{f:11.2f}" for f in figures), flush=True)


if __name__ == "__main__":
    main()
