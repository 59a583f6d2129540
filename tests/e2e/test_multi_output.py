"""A model with two named outputs (a classification and a regression head), end to end: the
console script validates, builds and runs it from an .npz with one label array per output;
both programs train to the same numbers under Keras' metric names, check each output's labels,
and resume from a checkpoint to the uninterrupted run's weights and records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow
MODELGEN = [sys.executable, "-m", "modelgen"]
TIMINGS = {"step_seconds", "seconds", "wall_clock", "build_seconds", "peak_rss_mb"}

SPEC = {
    "name": "two_heads",
    "seed": 5,
    "data": {
        "source": "npz",
        "path": "data.npz",
        "features": "x",
        "labels": {"kind": "y", "box": "boxes"},
        "batch_size": 10,
        "validation_split": 0.2,
    },
    "model": {
        "inputs": {"x": {"shape": [5]}},
        "layers": [
            {"dense": {"units": 8, "activation": "relu"}, "name": "trunk"},
            {"dense": {"units": 3}, "name": "kind", "inputs": "trunk"},
            {"dense": {"units": 2}, "name": "box", "inputs": "trunk"},
        ],
        "outputs": ["kind", "box"],
    },
    "train": {
        "epochs": 4,
        "optimizer": {"type": "adam", "learning_rate": 0.01},
        "loss": {
            "kind": {"type": "sparse_categorical_crossentropy", "from_logits": True},
            "box": {"type": "mse"},
        },
        "loss_weights": {"kind": 1.0, "box": 0.25},
        "metrics": {"kind": ["accuracy"], "box": ["mae"]},
    },
}
#: What Keras 3.15 logs for this model (and so the tf target): the total, each output's
#: unweighted loss, each output's metrics; val_ versions at epochs' ends.
NAMES = {"loss", "kind_loss", "kind_accuracy", "box_loss", "box_mae"}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def records(path: Path) -> list[dict]:
    """Step and epoch records without timings."""
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return [
        {k: v for k, v in r.items() if k not in TIMINGS}
        for r in lines
        if r["event"] in ("step", "epoch")
    ]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("two_heads")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 5)).astype("float32")
    np.savez(
        folder / "data.npz",
        x=x,
        y=(x[:, 0] > 0).astype("int64") + (x[:, 1] > 1),
        boxes=x[:, 2:4] * 2.0,
    )
    (folder / "spec.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    result = run([*MODELGEN, "validate", "spec.yaml"], folder)
    assert result.returncode == 0, result.stderr
    assert "Output: 'kind' -> loss sparse_categorical_crossentropy x 1" in result.stdout
    assert "Output: 'box' -> loss mse x 0.25, metrics mae" in result.stdout
    for target in ("keras", "tf"):
        result = run(
            [*MODELGEN, "build", "spec.yaml", "-t", target, "-o", f"train_{target}.py"], folder
        )
        assert result.returncode == 0, result.stderr
    return folder


def test_two_outputs_train_identically_under_keras_names(project: Path, tmp_path: Path):
    for target in ("keras", "tf"):
        argv = ["--metrics-out", f"{target}.jsonl", "--save-weights", f"{target}.npz"]
        result = run([sys.executable, str(project / f"train_{target}.py"), *argv], tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
    keras_records, tf_records = records(tmp_path / "keras.jsonl"), records(tmp_path / "tf.jsonl")
    assert keras_records == tf_records
    steps = [r for r in tf_records if r["event"] == "step"]
    assert len(steps) == 4 * 4 and set(steps[0]) == NAMES | {"event", "step"}
    epoch = [r for r in tf_records if r["event"] == "epoch"][-1]
    assert set(epoch) == NAMES | {f"val_{n}" for n in NAMES} | {"event", "epoch"}
    # The total is the weighted sum of the outputs' losses (up to float32 rounding).
    assert epoch["val_loss"] == pytest.approx(epoch["val_kind_loss"] + 0.25 * epoch["val_box_loss"])
    assert steps[-1]["loss"] < steps[0]["loss"]
    with np.load(tmp_path / "keras.npz") as k, np.load(tmp_path / "tf.npz") as t:
        assert k.files == t.files == [
            "trunk/kernel", "trunk/bias", "box/kernel", "box/bias", "kind/kernel", "kind/bias"
        ]  # fmt: skip
        for name in k.files:
            assert np.array_equal(k[name], t[name]), name


def test_each_output_s_labels_are_checked(project: Path, tmp_path: Path):
    x = np.zeros((6, 5), "float32")
    np.savez(tmp_path / "bad.npz", x=x, y=np.array([0, 1, 2, 3, 0, 1]), boxes=np.zeros((6, 2)))
    result = run([sys.executable, str(project / "train_tf.py"), "--data", "bad.npz"], tmp_path)
    assert result.returncode == 1
    assert (
        "array 'y' (the labels of output 'kind') holds 3 at index 3, outside the class ids [0, 3)"
        in result.stderr
    )
    np.savez(tmp_path / "short.npz", x=x, y=np.zeros(6), boxes=np.zeros((6, 3)))
    result = run([sys.executable, str(project / "train_keras.py"), "--data", "short.npz"], tmp_path)
    assert result.returncode == 1
    assert "array 'boxes' (the labels of output 'box') needs shape (N, *(2,))" in result.stderr


@pytest.mark.parametrize("target", ["keras", "tf"])
def test_a_resumed_run_ends_as_an_uninterrupted_one(project: Path, tmp_path: Path, target: str):
    program = [sys.executable, str(project / f"train_{target}.py"), "--checkpoint-every", "3"]
    for folder, steps in (("whole", []), ("cut", ["--max-steps", "7"])):
        (tmp_path / folder).mkdir()
        argv = ["--checkpoint-dir", "ck", "--metrics-out", "m.jsonl", "--save-weights", "w.npz"]
        result = run([*program, *argv, *steps], tmp_path / folder)
        assert result.returncode == 0, result.stderr[-2000:]
    argv = ["--checkpoint-dir", "ck", "--metrics-out", "m.jsonl", "--save-weights", "w.npz"]
    result = run([*program, *argv, "--resume"], tmp_path / "cut")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resumed from step 6" in result.stdout
    assert records(tmp_path / "cut" / "m.jsonl") == records(tmp_path / "whole" / "m.jsonl")
    with np.load(tmp_path / "whole" / "w.npz") as a, np.load(tmp_path / "cut" / "w.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)
