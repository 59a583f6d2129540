"""Spec builders shared by the tests: tiny models around every registered layer kind."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from modelgen.layers import REGISTRY


def base_spec(**overrides: Any) -> dict[str, Any]:
    """A small, valid classifier spec on synthetic data."""
    spec: dict[str, Any] = {
        "name": "tiny",
        "seed": 3,
        "data": {
            "source": "synthetic",
            "num_samples": 96,
            "batch_size": 16,
            "validation_split": 0.25,
        },
        "model": {
            "inputs": {"x": {"shape": [6]}},
            "layers": [{"dense": {"units": 8, "activation": "relu"}}, {"dense": {"units": 3}}],
        },
        "train": {
            "epochs": 5,
            "optimizer": {"type": "adam"},
            "loss": {"type": "sparse_categorical_crossentropy", "from_logits": True},
            "metrics": ["accuracy"],
        },
    }
    for key, value in overrides.items():
        spec[key] = copy.deepcopy(value)
    return spec


def kind_spec(kind: str) -> dict[str, Any]:
    """A model that runs the registered example of ``kind`` on its example input."""
    cls = REGISTRY[kind]
    layer = yaml.safe_load(f"{{{kind}: {cls.example}}}")
    dtype = cls.input_dtype
    layers: list[dict[str, Any]] = []
    if cls.min_inputs > 1:
        layers += [
            {"name": "left", "inputs": "x", "dense": {"units": 6, "activation": "tanh"}},
            {"name": "right", "inputs": "x", "dense": {"units": 6}},
        ]
        layer["inputs"] = ["left", "right"]
    layers.append(layer)
    layers.append({"flatten": {}})
    layers.append({"dense": {"units": 3}})
    return base_spec(
        name=f"kind_{kind}",
        model={
            "inputs": {"x": {"shape": list(cls.example_input), "dtype": dtype}},
            "layers": layers,
        },
    )


def write_spec(folder: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path
