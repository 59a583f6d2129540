"""train.early_stopping in both targets: the same epoch stops, the best epoch's weights come
back (restore_best_weights), the state survives checkpoints so that a run stopped by
--max-steps and resumed, several times, ends exactly as an uninterrupted one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelgen.build import generate
from tests.specs import base_spec, write_spec

pytestmark = pytest.mark.slow
TIMINGS = {"step_seconds", "seconds", "wall_clock", "build_seconds", "peak_rss_mb"}


def _spec() -> dict[str, Any]:
    """36 training samples in batches of 16: 3 steps an epoch. val_loss is best at epoch 3 and
    worse at 4 and 5, so patience 2 stops after epoch 5 (measured)."""
    spec = base_spec(name="stopping")
    spec["data"]["num_samples"] = 48
    spec["model"]["layers"].insert(1, {"dropout": {"rate": 0.3}})
    spec["train"] |= {"epochs": 20, "optimizer": {"type": "adam", "learning_rate": 0.05}}
    spec["train"]["early_stopping"] = {
        "monitor": "val_loss",
        "patience": 2,
        "min_delta": 0.01,
        "restore_best_weights": True,
    }
    return spec


def _records(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows if r["event"] != "setup"]


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def _same(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return list(wa) == list(wb) and all(np.array_equal(wa[n], wb[n]) for n in wa)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """For each target: an uninterrupted run, a run cut at the best epoch's end (step 9), and
    a run stopped by --max-steps 4, resumed to 10 (mid-epoch), resumed to 15, then resumed
    once more after it has stopped early."""
    root = tmp_path_factory.mktemp("early_stopping")
    path = write_spec(root, _spec())
    jobs = []
    for target in ("keras", "tf"):
        program = root / f"train_{target}.py"
        program.write_text(generate(path, target, root)[1], encoding="utf-8")

        def job(name: str, *argv: str, program: Path = program, target: str = target) -> None:
            out = ["--save-weights", str(root / f"{target}_{name}.npz")]
            out += ["--metrics-out", str(root / f"{target}_{name}.jsonl")]
            jobs.append({"file": str(program), "argv": [*argv, *out]})

        job("full", "--save-best", str(root / f"{target}_best.npz"))
        job("step9", "--max-steps", "9")
        resume = ["--checkpoint-dir", str(root / f"ck_{target}"), "--checkpoint-every", "1"]
        for cut in (["--max-steps", "4"], ["--resume", "--max-steps", "10"], ["--resume"]):
            job("resumed", *resume, *cut)
        job("again", *resume, "--resume")
    (root / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    driver = str(Path(__file__).with_name("run_programs.py"))
    command = [sys.executable, driver, str(root / "jobs.json"), str(root / "results.json")]
    subprocess.run(command, check=True, timeout=900)
    statuses = json.loads((root / "results.json").read_text(encoding="utf-8"))
    assert statuses == ["ok"] * len(jobs), statuses
    return root


def test_both_targets_stop_at_the_same_epoch_with_the_same_weights(runs: Path) -> None:
    keras, tf = _records(runs / "keras_full.jsonl"), _records(runs / "tf_full.jsonl")
    assert keras == tf
    stops = [r for r in tf if r["event"] == "early_stop"]
    assert stops == [
        {
            "event": "early_stop",
            "epoch": 5,
            "monitor": "val_loss",
            "best": stops[0]["best"],
            "best_epoch": 3,
        }
    ]
    epochs = {r["epoch"]: r for r in tf if r["event"] == "epoch"}
    assert max(epochs) == 5 and stops[0]["best"] == epochs[3]["val_loss"]
    assert tf[-1] == {"event": "end", "status": "completed", "steps": 15}
    assert _same(runs / "keras_full.npz", runs / "tf_full.npz")


@pytest.mark.parametrize("target", ["keras", "tf"])
def test_the_best_epochs_weights_are_restored(runs: Path, target: str) -> None:
    # The best epoch (3) ends at step 9; a run cut there ends with the same weights.
    assert _same(runs / f"{target}_full.npz", runs / f"{target}_step9.npz")
    # --save-best wrote them when epoch 3 set the best value (epochs 4 and 5 did not).
    assert _same(runs / f"{target}_best.npz", runs / f"{target}_step9.npz")
    with np.load(runs / f"{target}_full.npz") as full, np.load(runs / "tf_step9.npz") as cut:
        assert all(np.array_equal(full[n], cut[n]) for n in full.files)


@pytest.mark.parametrize("target", ["keras", "tf"])
def test_a_resumed_run_stops_where_an_uninterrupted_one_does(runs: Path, target: str) -> None:
    assert _records(runs / f"{target}_resumed.jsonl") == _records(runs / f"{target}_full.jsonl")
    assert _same(runs / f"{target}_resumed.npz", runs / f"{target}_full.npz")
    # Resumed after it stopped: nothing more trains, the best weights again.
    again = _records(runs / f"{target}_again.jsonl")
    assert not [r for r in again if r["event"] == "step"]
    assert _same(runs / f"{target}_again.npz", runs / f"{target}_full.npz")
