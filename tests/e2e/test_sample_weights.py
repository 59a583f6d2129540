"""Per-sample loss weights (`data.sample_weights`, an .npz array) in both targets: bit-identical
after 20 steps, weighted in training and validation losses, metrics unweighted, bad weights
refused at start-up. Class weights on the bundled csv and image_dir examples (balanced from the
csv's training labels; a mapping for the images); on synthetic data in test_equivalence.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelgen.build import generate
from tests.conftest import ROOT
from tests.specs import base_spec, write_spec

pytestmark = pytest.mark.slow
STEPS = 20


def _spec(**data: Any) -> dict[str, Any]:
    spec = base_spec()
    spec["data"] = {"source": "npz", "path": "data.npz", "batch_size": 16, **data}
    return spec


CLASSIFIER = _spec(sample_weights="w", validation_split=0.25)
CLASSIFIER["model"]["layers"].insert(1, {"dropout": {"rate": 0.25}})
REGRESSION = _spec(sample_weights="w", validation_path="val.npz", labels="t")
REGRESSION["model"]["layers"][0]["dense"]["l2"] = 0.01
REGRESSION["model"]["layers"][1] = {"dense": {"units": 2}}
REGRESSION["train"] |= {"loss": {"type": "huber", "delta": 0.5}, "metrics": ["mae"]}
REGRESSION["train"]["optimizer"] = {"type": "sgd", "momentum": 0.9, "learning_rate": 0.05}
CASES = {"classifier": CLASSIFIER, "regression": REGRESSION}
#: example -> train.class_weight (YAML), run for 8 steps in both targets.
CLASS_WEIGHTED = {"wine_classifier": "balanced", "shapes_cnn": '{"0": 2.0, "2": 0.5}'}


def _write_data(folder: Path) -> None:
    rng = np.random.default_rng(7)
    for name, count in (("data.npz", 96), ("val.npz", 24)):
        weights = rng.uniform(0.0, 3.0, count).astype(np.float32)
        weights[::5] = 0.0  # examples that do not count at all
        np.savez(
            folder / name,
            x=rng.normal(size=(count, 6)).astype(np.float32),
            y=rng.integers(0, 3, count),
            t=rng.normal(size=(count, 2)).astype(np.float32),
            w=weights,
        )
    np.savez(folder / "negative.npz", **{**np.load(folder / "data.npz"), "w": -np.ones(96)})


def _records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["event"] in ("step", "epoch")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Each case in both targets, and in the tf target without its weights; one bad run."""
    root = tmp_path_factory.mktemp("sample_weights")
    jobs = []
    for name, spec in CASES.items():
        unweighted = {
            **spec,
            "data": {k: v for k, v in spec["data"].items() if k != "sample_weights"},
        }
        for variant, variant_spec in (("", spec), ("plain_", unweighted)):
            folder = root / f"{variant}{name}"
            folder.mkdir()
            _write_data(folder)
            path = write_spec(folder, variant_spec)
            for target in ("keras", "tf") if not variant else ("tf",):
                program = folder / f"train_{target}.py"
                program.write_text(generate(path, target, folder)[1], encoding="utf-8")
                argv = ["--max-steps", str(STEPS), "--save-weights", str(folder / f"{target}.npz")]
                argv += ["--metrics-out", str(folder / f"{target}.jsonl")]
                jobs.append({"file": str(program), "argv": argv})
    shutil.copytree(ROOT / "examples" / "configs", root / "examples" / "configs")
    shutil.copytree(ROOT / "examples" / "data", root / "examples" / "data")
    for example, class_weight in CLASS_WEIGHTED.items():
        path = root / "examples" / "configs" / f"{example}.yaml"
        text = path.read_text(encoding="utf-8")
        weighted = text.replace("train:\n", f"train:\n  class_weight: {class_weight}\n", 1)
        assert weighted != text, f"{example}: no train section to weigh"
        path.write_text(weighted, encoding="utf-8")
        for target in ("keras", "tf"):
            program = path.with_name(f"{example}_{target}.py")
            program.write_text(generate(path, target, program.parent)[1], encoding="utf-8")
            argv = ["--max-steps", "8", "--save-weights", str(program.with_suffix(".npz"))]
            argv += ["--metrics-out", str(program.with_suffix(".jsonl"))]
            jobs.append({"file": str(program), "argv": argv})
    bad = ["--max-steps", "0", "--data", str(root / "classifier" / "negative.npz")]
    jobs.append({"file": str(root / "classifier" / "train_tf.py"), "argv": bad})
    (root / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    driver = str(Path(__file__).with_name("run_programs.py"))
    command = [sys.executable, driver, str(root / "jobs.json"), str(root / "results.json")]
    subprocess.run(command, check=True, timeout=900)
    statuses = json.loads((root / "results.json").read_text(encoding="utf-8"))
    assert statuses[:-1] == ["ok"] * (len(jobs) - 1), statuses
    return root, statuses


@pytest.mark.parametrize("case", sorted(CASES))
def test_sample_weights_are_identical_in_both_targets(runs, case: str) -> None:
    folder = runs[0] / case
    keras, tf = _records(folder / "keras.jsonl"), _records(folder / "tf.jsonl")
    assert len(keras) == len(tf) > STEPS
    for k, t in zip(keras, tf):
        assert {n: v for n, v in k.items() if "seconds" not in n} == {
            n: v for n, v in t.items() if "seconds" not in n
        }
    assert any("val_loss" in r for r in tf)
    with np.load(folder / "keras.npz") as kw, np.load(folder / "tf.npz") as tw:
        assert kw.files == tw.files
        for name in kw.files:
            assert np.abs(kw[name] - tw[name]).max() == 0.0, name


@pytest.mark.parametrize("case", sorted(CASES))
def test_sample_weights_change_the_losses_not_the_first_metrics(runs, case: str) -> None:
    root = runs[0]
    weighted, plain = (
        _records(root / case / "tf.jsonl"),
        _records(root / f"plain_{case}" / "tf.jsonl"),
    )
    # Step 1 sees the same initial weights: its metric is unweighted in both, its loss is not.
    metric = "accuracy" if case == "classifier" else "mae"
    assert weighted[0][metric] == plain[0][metric]
    assert weighted[0]["loss"] != plain[0]["loss"]
    epochs = [r for r in weighted if r["event"] == "epoch"]
    plain_epochs = [r for r in plain if r["event"] == "epoch"]
    assert epochs[-1]["val_loss"] != plain_epochs[-1]["val_loss"]


def test_negative_sample_weights_are_refused(runs) -> None:
    status = runs[1][-1]
    assert (
        status.startswith("exit error: ")
        and "negative.npz: array 'w' holds -1.0 at index 0" in status
    )
    assert "sample weights must be finite and >= 0" in status


@pytest.mark.parametrize("example", sorted(CLASS_WEIGHTED))
def test_class_weights_on_csv_and_image_folders_are_identical(runs, example: str) -> None:
    folder = runs[0] / "examples" / "configs"
    keras, tf = (_records(folder / f"{example}_{t}.jsonl") for t in ("keras", "tf"))
    assert len(keras) == len(tf) > 8
    for k, t in zip(keras, tf):
        assert {n: v for n, v in k.items() if "seconds" not in n} == {
            n: v for n, v in t.items() if "seconds" not in n
        }
    with (
        np.load(folder / f"{example}_keras.npz") as kw,
        np.load(folder / f"{example}_tf.npz") as tw,
    ):
        assert kw.files == tw.files
        assert all(np.array_equal(kw[n], tw[n]) for n in kw.files)
