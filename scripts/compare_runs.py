"""Compare two training runs of one spec: per-step losses and final weights.

Usage: python scripts/compare_runs.py RUN_A RUN_B, where each RUN is a folder holding the
metrics.jsonl and weights.npz a generated program wrote with --metrics-out/--save-weights.
Prints the largest differences; exits 1 if the runs are not bit-identical.
"""

import json
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    a, b = (Path(p) for p in sys.argv[1:3])
    steps = []
    for run in (a, b):
        lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        steps.append([json.loads(x) for x in lines if '"event": "step"' in x])
    loss_diff = max(abs(x["loss"] - y["loss"]) for x, y in zip(*steps, strict=True))
    with np.load(a / "weights.npz") as wa, np.load(b / "weights.npz") as wb:
        weight_diff = max(float(np.abs(wa[k] - wb[k]).max()) for k in wa.files)
        count = sum(wa[k].size for k in wa.files)
    final = steps[0][-1]
    print(f"{len(steps[0])} steps, final loss {final['loss']:.6f}")
    print(f"max |loss difference| over all steps: {loss_diff:g}")
    print(f"max |weight difference| over {count:,} weights: {weight_diff:g}")
    same = loss_diff == 0 and weight_diff == 0
    print("bit-identical" if same else "NOT identical")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
