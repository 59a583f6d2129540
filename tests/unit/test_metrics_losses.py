"""Metrics with options and loss options: what lowering decides (defaults, logged names, the
metrics kept as running means or with their own state, one tf loss function per variant)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from modelgen.build import generate
from modelgen.graph import compile_file
from tests.specs import base_spec


def lowered(tmp_path: Path, spec: dict[str, Any]):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return compile_file(path)


def sigmoid_spec(metrics: list[Any], **loss: Any) -> dict[str, Any]:
    spec = base_spec()
    spec["model"]["layers"][-1]["dense"] |= {"units": 2, "activation": "sigmoid"}
    spec["train"]["loss"] = {"type": "binary_crossentropy", **loss}
    spec["train"]["metrics"] = metrics
    return spec


def test_metric_names_defaults_and_state(tmp_path: Path) -> None:
    graph = lowered(
        tmp_path, sigmoid_spec(["accuracy", "auc", {"type": "precision", "threshold": 0.3}])
    )
    assert graph.metric_names == ("loss", "accuracy", "auc", "precision")
    assert graph.mean_names == ("loss", "accuracy")
    auc, precision = graph.loss.metrics[1:]
    assert auc.options == {"num_thresholds": 200, "curve": "ROC"}
    assert precision.options == {"threshold": 0.3}
    assert [(name, m.type) for name, m, _ in graph.stateful_metrics] == [
        ("auc", "auc"),
        ("precision", "precision"),
    ]


def test_programs_name_metrics_as_keras_logs_them(tmp_path: Path) -> None:
    spec = sigmoid_spec([{"type": "f1_score", "average": "micro"}, "recall"], label_smoothing=0.2)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    keras = generate(path, "keras", tmp_path)[1]
    tf = generate(path, "tf", tmp_path)[1]
    assert 'keras.metrics.F1Score(average="micro", name="f1_score")' in keras
    assert 'keras.metrics.Recall(name="recall")' in keras
    assert "BinaryCrossentropy(from_logits=False, label_smoothing=0.2)" in keras
    assert 'names = ("loss", "f1_score", "recall")' in tf
    assert 'means = ("loss",)' in tf
    assert '"intermediate_weights"], []' in tf  # micro: one count of each, as Keras keeps it
    assert "labels = labels * (1.0 - 0.2) + 0.5 * 0.2" in tf


def test_no_stateful_metric_keeps_the_plain_metrics_module(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(base_spec(), sort_keys=False), encoding="utf-8")
    tf = generate(path, "tf", tmp_path)[1]
    assert "state_variables" not in tf and "self.state" not in tf


def test_one_loss_function_per_type_and_options(tmp_path: Path) -> None:
    spec = base_spec()
    spec["model"]["layers"] = [
        {"dense": {"units": 8, "activation": "relu"}, "name": "trunk"},
        {"dense": {"units": 1, "activation": "sigmoid"}, "name": "a", "inputs": "trunk"},
        {"dense": {"units": 1, "activation": "sigmoid"}, "name": "b", "inputs": "trunk"},
        {"dense": {"units": 1, "activation": "sigmoid"}, "name": "c", "inputs": "trunk"},
    ]
    spec["model"]["outputs"] = ["a", "b", "c"]
    spec["train"]["loss"] = {
        "a": {"type": "binary_crossentropy", "label_smoothing": 0.1},
        "b": {"type": "binary_crossentropy"},
        "c": {"type": "binary_crossentropy", "label_smoothing": 0.1},
    }
    spec["train"]["metrics"] = {}
    functions = lowered(tmp_path, spec).loss_functions
    assert {k: v[0] for k, v in functions.items()} == {
        "a": "binary_crossentropy_loss",
        "b": "binary_crossentropy_loss_2",
        "c": "binary_crossentropy_loss",
    }
