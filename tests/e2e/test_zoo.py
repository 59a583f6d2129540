"""The zoo (examples/zoo/) against the oracle nobody here wrote: keras.applications.

Each full-size zoo spec must build, in the keras target, a model whose every layer has the
output shape and parameter count of the layer of the same name in the matching
keras.applications model (weights=None, include_top=True, 224x224x3, 1000 classes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from modelgen.build import generate
from modelgen.graph import compile_file
from tests.conftest import ROOT

ZOO = ROOT / "examples" / "zoo"
#: zoo spec -> (keras.applications class, Keras' own parameter count)
APPLICATIONS = {
    "vgg16": ("VGG16", 138_357_544),
}


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_zoo_spec_validates_to_keras_parameter_count(name: str):
    graph = compile_file(ZOO / f"{name}.yaml")
    assert graph.total_params == APPLICATIONS[name][1]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_zoo_model_matches_keras_applications_layer_by_layer(tmp_path: Path, name: str):
    import keras

    graph, code = generate(ZOO / f"{name}.yaml", "keras", tmp_path)
    program = tmp_path / "train_keras.py"
    program.write_text(code, encoding="utf-8")
    loader = importlib.util.spec_from_file_location(f"zoo_{name}", program)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    ours = {layer.name: layer for layer in module.build_model(0).layers}
    reference = getattr(keras.applications, APPLICATIONS[name][0])(weights=None)
    compared = 0
    for layer in reference.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        assert layer.name in ours, f"no layer {layer.name!r} ({type(layer).__name__})"
        mine = ours[layer.name]
        assert tuple(mine.output.shape) == tuple(layer.output.shape), layer.name
        assert mine.count_params() == layer.count_params(), layer.name
        compared += 1
    assert compared == len(graph.nodes), "layers that Keras' model does not have"
    keras.backend.clear_session()
