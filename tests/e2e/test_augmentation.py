"""Augmentation layers transform images only while training, and both targets draw the same
transforms: the models' first training-mode calls (seed [s, 0]) agree bit for bit.

The equivalence cases cannot tell "both targets augment alike" from "neither augments"; these
tests can.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from modelgen.build import generate
from tests.specs import kind_spec, write_spec

pytestmark = pytest.mark.slow
KINDS = {
    "random_flip": {"mode": "horizontal_and_vertical"},
    "random_flip-horizontal": {"mode": "horizontal"},
    "random_flip-vertical": {"mode": "vertical"},
    "random_rotation": {"factor": 0.1},
    "random_rotation-constant-nearest": {
        "factor": [-0.5, 0.25],
        "fill_mode": "constant",
        "fill_value": 0.5,
        "interpolation": "nearest",
    },
}


def _load(path: Path, name: str) -> ModuleType:
    loader = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def _programs(tmp_path: Path, case: str) -> tuple[ModuleType, ModuleType]:
    kind = case.split("-")[0]
    spec = kind_spec(kind)
    spec["model"]["layers"][0] = {kind: KINDS[case]}
    path = write_spec(tmp_path, spec)
    modules = []
    for target in ("keras", "tf"):
        _, code = generate(path, target, tmp_path)
        (tmp_path / f"train_{target}.py").write_text(code, encoding="utf-8")
        modules.append(_load(tmp_path / f"train_{target}.py", f"augment_{target}_{case}"))
    return modules[0], modules[1]


@pytest.mark.parametrize("case", sorted(KINDS))
def test_augmentation_acts_only_in_training_and_alike(tmp_path: Path, case: str) -> None:
    import tensorflow as tf

    keras_program, tf_program = _programs(tmp_path, case)
    keras_model = keras_program.build_model(3)
    (tf_class,) = [
        c
        for c in vars(tf_program).values()
        if isinstance(c, type)
        and issubclass(c, tf.Module)
        and c.__name__ not in ("Optimizer", "Metrics")
    ]
    tf_model = tf_class(3)
    layer = keras_model.layers[1]
    only_layer = type(keras_model)(keras_model.inputs, layer.output)
    images = np.random.default_rng(0).normal(size=(16, *layer.output.shape[1:]))
    images = images.astype(np.float32)
    assert np.array_equal(only_layer({"x": images}, training=False), images)
    changed = only_layer({"x": images}, training=True).numpy() != images
    assert changed.any(axis=(1, 2, 3)).sum() >= 2, "training-mode calls should augment images"
    # Fresh models: the first training-mode call of each uses the seed [s, 0].
    keras_model, tf_model = keras_program.build_model(3), tf_class(3)
    inference = tf_model({"x": images}, training=False)[0].numpy()
    keras_out = keras_model({"x": images}, training=True).numpy()
    tf_out = tf_model({"x": images}, training=True)[0].numpy()
    assert np.array_equal(keras_out, tf_out)
    assert not np.array_equal(tf_out, inference)
