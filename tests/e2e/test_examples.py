"""Every bundled example trains with both targets, on its real data, to identical numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelgen.build import generate
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow
STEPS = 8


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("examples")
    jobs = []
    for example in EXAMPLES:
        for target in ("keras", "tf"):
            program = root / f"{example.stem}_{target}.py"
            program.write_text(generate(example, target, root)[1], encoding="utf-8")
            jobs.append(
                {
                    "file": str(program),
                    "argv": [
                        "--max-steps",
                        str(STEPS),
                        "--save-weights",
                        str(root / f"{program.stem}.npz"),
                        "--metrics-out",
                        str(root / f"{program.stem}.jsonl"),
                    ],
                }
            )
    (root / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    driver = Path(__file__).with_name("run_programs.py")
    subprocess.run(
        [sys.executable, str(driver), str(root / "jobs.json"), str(root / "results.json")],
        check=True,
        timeout=900,
    )
    statuses = json.loads((root / "results.json").read_text(encoding="utf-8"))
    assert statuses == ["ok"] * len(jobs), [s[-600:] for s in statuses if s != "ok"]
    return root


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_trains_identically_with_both_targets(trained: Path, example: Path):
    losses = {}
    for target in ("keras", "tf"):
        lines = (trained / f"{example.stem}_{target}.jsonl").read_text().splitlines()
        losses[target] = [json.loads(x)["loss"] for x in lines if '"event": "step"' in x]
    assert len(losses["tf"]) == STEPS and losses["keras"] == losses["tf"]
    with np.load(trained / f"{example.stem}_keras.npz") as k:
        with np.load(trained / f"{example.stem}_tf.npz") as t:
            assert k.files == t.files
            assert all(np.array_equal(k[name], t[name]) for name in k.files)
