"""The TPU path of both targets, with no TPU here: a missing or silent TPU is a clear error
before training, and the replicated training loop (run on two logical CPUs standing in for
the TPU cores) trains like one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from modelgen.build import generate
from tests.specs import base_spec, write_spec

pytestmark = pytest.mark.slow
DRIVER = Path(__file__).with_name("replica_driver.py")


def build(folder: Path, spec: dict) -> dict[str, Path]:
    path = write_spec(folder, spec)
    programs = {}
    for target in ("keras", "tf"):
        _, code = generate(path, target, folder)
        programs[target] = folder / f"train_{target}.py"
        programs[target].write_text(code, encoding="utf-8")
    return programs


def run(*command: str | Path, env: dict[str, str] | None = None, timeout: int = 300):
    base = {k: v for k, v in os.environ.items() if k != "TPU_NAME"}
    return subprocess.run(
        [sys.executable, *map(str, command)],
        capture_output=True,
        text=True,
        env={**base, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, Path]:
    spec = base_spec(name="replicated")
    spec["model"]["layers"] = [
        {"dense": {"units": 16, "activation": "tanh", "l2": 1.0e-3}},
        {"dense": {"units": 3}},
    ]
    # SGD: an update proportional to the gradient, so a wrongly scaled all-reduce shows.
    spec["train"]["optimizer"] = {"type": "sgd", "learning_rate": 0.5, "momentum": 0.9}
    return build(tmp_path_factory.mktemp("replicated"), spec)


@pytest.mark.parametrize("target", ["keras", "tf"])
def test_tpu_that_is_not_there_is_a_clear_error_before_training(programs, tmp_path, target):
    metrics = tmp_path / "metrics.jsonl"
    result = run(programs[target], "--device", "tpu", "--metrics-out", metrics)
    assert result.returncode == 1
    assert "error: no TPU at 'local': TPUs not found in the cluster" in result.stderr
    assert "devices found: /physical_device:CPU:0" in result.stderr
    assert "Traceback" not in result.stderr
    assert not metrics.exists()  # stopped before anything ran


def test_tpu_timeout_must_be_positive(programs):
    result = run(programs["tf"], "--device", "tpu", "--tpu-timeout", "0")
    assert result.returncode == 2
    assert "--tpu-timeout must be positive" in result.stderr


def test_a_tpu_that_never_answers_times_out_under_auto(programs, silent_tpu):
    """Connecting to an address that accepts but never speaks blocks forever in TensorFlow;
    `auto` tries the TPU named by $TPU_NAME first and gives up after --tpu-timeout."""
    started = time.monotonic()
    result = run(
        programs["tf"], "--device", "auto", "--tpu-timeout", "2", env={"TPU_NAME": silent_tpu}
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"error: no TPU at '{silent_tpu}': no answer within 2 s (--tpu-timeout)" in result.stderr
    assert elapsed < 60


def test_replicated_training_matches_one_device(programs, tmp_path):
    """Four steps (full batches of the first epoch) with the batch split over two replicas:
    the same weights as one device, up to float rounding, in both targets."""
    weights = {}
    for name, command in {
        "initial": [programs["tf"], "--device", "cpu", "--max-steps", "0"],
        "single_tf": [programs["tf"], "--device", "cpu", "--max-steps", "4"],
        "replicated_tf": [DRIVER, programs["tf"], "--device", "tpu", "--max-steps", "4"],
        "replicated_keras": [DRIVER, programs["keras"], "--device", "tpu", "--max-steps", "4"],
    }.items():
        out = tmp_path / f"{name}.npz"
        metrics = tmp_path / f"{name}.jsonl"
        result = run(*command, "--save-weights", out, "--metrics-out", metrics)
        assert result.returncode == 0, result.stderr[-3000:]
        records = [json.loads(line) for line in metrics.read_text().splitlines()]
        setup = records[0]
        assert setup["replicas"] == (2 if name.startswith("replicated") else 1)
        if name != "initial":
            assert [r["step"] for r in records if r["event"] == "step"][-1] == 4
        with np.load(out) as archive:
            weights[name] = {key: archive[key] for key in archive.files}
    single = weights["single_tf"]
    for key, value in single.items():
        assert not np.allclose(value, weights["initial"][key], atol=1e-3), f"{key} did not train"
        for name in ("replicated_tf", "replicated_keras"):
            difference = np.abs(weights[name][key] - value).max()
            print(f"{name} {key}: max |difference| {difference:.2e}")
            np.testing.assert_allclose(
                weights[name][key], value, rtol=1e-5, atol=1e-6, err_msg=name
            )
        # and the two targets, both replicated, agree bit for bit
        assert np.array_equal(weights["replicated_tf"][key], weights["replicated_keras"][key]), key


@pytest.mark.parametrize("target", ["keras", "tf"])
def test_batch_that_does_not_split_evenly_between_replicas_is_refused(programs, target):
    result = run(DRIVER, programs[target], "--device", "tpu", "--batch-size", "15")
    assert result.returncode == 1
    assert "on 2 replicas the batch size (15) must be a multiple of 2" in result.stderr
    assert "Traceback" not in result.stderr
