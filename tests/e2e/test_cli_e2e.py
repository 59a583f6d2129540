"""End to end as a user works: the console script builds files that run as their own programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
DIGITS = ROOT / "examples" / "configs" / "digits_cnn.yaml"
MODELGEN = [sys.executable, "-m", "modelgen"]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    for target in ("keras", "tf"):
        result = run(
            [*MODELGEN, "build", str(DIGITS), "-t", target, "-o", f"train_{target}.py"], folder
        )
        assert result.returncode == 0, result.stderr
    return folder


def test_generated_programs_train_from_any_directory(programs: Path, tmp_path: Path):
    # Run from an unrelated folder: the data path is resolved relative to the file.
    for target in ("keras", "tf"):
        result = run(
            [
                sys.executable,
                str(programs / f"train_{target}.py"),
                "--max-steps",
                "12",
                "--save-weights",
                f"w_{target}.npz",
                "--metrics-out",
                f"m_{target}.jsonl",
            ],
            tmp_path,
        )
        assert result.returncode == 0, result.stderr[-2000:]
    with np.load(tmp_path / "w_keras.npz") as k, np.load(tmp_path / "w_tf.npz") as t:
        assert k.files == t.files and "conv2d/kernel" in k.files
        for name in k.files:
            assert np.array_equal(k[name], t[name]), name
    records = [json.loads(x) for x in (tmp_path / "m_tf.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["event"] == "step"] == list(range(1, 13))
    epoch = [r for r in records if r["event"] == "epoch"][0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(epoch)


def test_max_steps_zero_saves_initial_weights_and_init_weights_round_trips(programs, tmp_path):
    for target in ("keras", "tf"):
        result = run(
            [
                sys.executable,
                str(programs / f"train_{target}.py"),
                "--max-steps",
                "0",
                "--seed",
                "123",
                "--save-weights",
                f"init_{target}.npz",
            ],
            tmp_path,
        )
        assert result.returncode == 0, result.stderr[-2000:]
    with np.load(tmp_path / "init_keras.npz") as k, np.load(tmp_path / "init_tf.npz") as t:
        assert all(np.array_equal(k[n], t[n]) for n in k.files)
        moving_variance = t["batch_norm/moving_variance"]
        assert np.all(moving_variance == 1.0)
    # Load the keras target's initial weights into the tf target (other seed) and save again.
    result = run(
        [
            sys.executable,
            str(programs / "train_tf.py"),
            "--max-steps",
            "0",
            "--seed",
            "9",
            "--init-weights",
            "init_keras.npz",
            "--save-weights",
            "again.npz",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with np.load(tmp_path / "init_keras.npz") as k, np.load(tmp_path / "again.npz") as t:
        assert all(np.array_equal(k[n], t[n]) for n in k.files)


def test_missing_device_and_data_fail_clearly(programs: Path, tmp_path: Path):
    result = run(
        [sys.executable, str(programs / "train_tf.py"), "--device", "gpu:3", "--max-steps", "1"],
        tmp_path,
    )
    assert result.returncode == 1
    assert "device 'gpu:3' is not available here (devices found:" in result.stderr
    result = run([sys.executable, str(programs / "train_keras.py"), "--data", "nope.npz"], tmp_path)
    assert result.returncode == 1 and "data file not found: nope.npz" in result.stderr
    np.savez(tmp_path / "wrong.npz", x=np.zeros((5, 8, 8, 3), "float32"), y=np.zeros(5))
    result = run([sys.executable, str(programs / "train_tf.py"), "--data", "wrong.npz"], tmp_path)
    assert result.returncode == 1
    assert "input 'image' needs arrays of shape (N, 8, 8, 1)" in result.stderr
    np.savez(tmp_path / "labels.npz", x=np.zeros((5, 8, 8, 1), "float32"), y=np.full(5, 12))
    result = run([sys.executable, str(programs / "train_tf.py"), "--data", "labels.npz"], tmp_path)
    assert result.returncode == 1
    assert "array 'y' holds 12 at index 0, outside the class ids [0, 10)" in result.stderr
