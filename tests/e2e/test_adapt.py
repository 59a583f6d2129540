"""A normalization that learns its statistics (Keras' adapt) keeps both targets identical
through a checkpoint and resume, and a --init-weights load replaces the learned statistics
in both (the keras target must then refresh the constants its Normalization divides by)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelgen.build import generate
from tests.specs import base_spec, write_spec

pytestmark = pytest.mark.slow
TARGETS = ("keras", "tf")


def spec() -> dict:
    s = base_spec(name="adapted")
    s["model"] = {
        "inputs": {"x": {"shape": [3, 4]}},
        "layers": [
            {"normalization": {"axis": 1}, "name": "norm"},
            {"flatten": {}},
            {"dense": {"units": 6, "activation": "relu"}},
            {"dense": {"units": 3}},
        ],
    }
    return s


def run(folder: Path, jobs: list[dict]) -> None:
    (folder / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    driver = str(Path(__file__).with_name("run_programs.py"))
    subprocess.run([sys.executable, driver, "jobs.json", "results.json"], cwd=folder, check=True)
    statuses = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert statuses == ["ok"] * len(jobs), statuses


def weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def losses(path: Path) -> list[float]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r["loss"] for r in records if r["event"] == "step"]


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def test_adapted_statistics_survive_resume_and_yield_to_init_weights(tmp_path: Path):
    spec_path = write_spec(tmp_path, spec())
    for target in TARGETS:
        graph, code = generate(spec_path, target, tmp_path)
        (tmp_path / f"train_{target}.py").write_text(code, encoding="utf-8")
    loader = importlib.util.spec_from_file_location("adapted", tmp_path / "train_keras.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    model = module.build_model(0)  # Keras counts mean, variance and count as parameters
    assert model.count_params() == graph.total_params == graph.trainable_params + 3 + 3 + 1

    def job(target: str, *argv: str) -> dict:
        return {"file": str(tmp_path / f"train_{target}.py"), "argv": list(argv)}

    first = []
    for t in TARGETS:
        first += [
            job(t, "--max-steps", "0", "--save-weights", f"init_{t}.npz"),
            job(t, "--max-steps", "20", "--save-weights", f"ref_{t}.npz", "--metrics-out",
                f"ref_{t}.jsonl"),
            job(t, "--max-steps", "9", "--checkpoint-dir", f"ck_{t}", "--checkpoint-every", "3"),
        ]  # fmt: skip
    run(tmp_path, first)
    learned = weights(tmp_path / "init_keras.npz")
    assert_same(learned, weights(tmp_path / "init_tf.npz"))
    assert learned["norm/mean"].shape == (3,) and np.all(learned["norm/mean"] != 0.0)
    assert learned["norm/count"].dtype == np.int64
    shifted = dict(learned)
    shifted["norm/mean"] = learned["norm/mean"] + np.float32(0.75)
    shifted["norm/variance"] = learned["norm/variance"] * np.float32(3.0)
    np.savez(tmp_path / "shifted.npz", **shifted)

    second = []
    for t in TARGETS:
        resume = ["--resume", "--checkpoint-dir", f"ck_{t}", "--max-steps", "20"]
        second += [
            job(t, *resume, "--save-weights", f"resumed_{t}.npz"),
            job(t, "--init-weights", "shifted.npz", "--max-steps", "20", "--metrics-out",
                f"loaded_{t}.jsonl", "--save-weights", f"loaded_{t}.npz"),
        ]  # fmt: skip
    run(tmp_path, second)
    reference = weights(tmp_path / "ref_keras.npz")
    assert_same(reference, weights(tmp_path / "ref_tf.npz"))
    for t in TARGETS:
        assert_same(reference, weights(tmp_path / f"resumed_{t}.npz"))
    loaded = weights(tmp_path / "loaded_keras.npz")
    assert_same(loaded, weights(tmp_path / "loaded_tf.npz"))
    assert np.array_equal(loaded["norm/mean"], shifted["norm/mean"])
    assert losses(tmp_path / "loaded_keras.jsonl") == losses(tmp_path / "loaded_tf.jsonl")
    assert losses(tmp_path / "loaded_keras.jsonl")[0] != losses(tmp_path / "ref_keras.jsonl")[0]
