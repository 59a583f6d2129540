"""modelgen's shape rules and parameter counts agree with Keras for every kind and example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from modelgen.build import generate
from modelgen.layers import REGISTRY
from tests.conftest import EXAMPLES
from tests.specs import CONV_CASES, kind_spec, write_spec

pytestmark = pytest.mark.slow
SPECS = [("kind", kind) for kind in sorted(REGISTRY)] + [("example", p) for p in EXAMPLES]
SPECS += [("case", name) for name in sorted(CONV_CASES)]


@pytest.mark.parametrize(("source", "item"), SPECS, ids=[str(s[1]).split("/")[-1] for s in SPECS])
def test_shapes_and_parameters_match_keras(tmp_path: Path, source: str, item):
    if source == "example":
        spec_path = item
    else:
        spec = kind_spec(item) if source == "kind" else CONV_CASES[item]
        spec_path = write_spec(tmp_path, spec)
    graph, code = generate(spec_path, "keras", tmp_path)
    program = tmp_path / "train_keras.py"
    program.write_text(code, encoding="utf-8")
    loader = importlib.util.spec_from_file_location(f"agreement_{source}", program)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    model = module.build_model(0)
    assert model.count_params() == graph.total_params
    layers = {layer.name: layer for layer in model.layers}
    for node in graph.nodes:
        layer = layers[node.name]
        assert tuple(layer.output.shape[1:]) == node.shape, node.name
        assert layer.count_params() == node.param_count, node.name
    # Keras lists layers (and so weights) in the order the graph chose.
    assert [
        layer.name for layer in model.layers if layer.name in {n.name for n in graph.nodes}
    ] == [node.name for node in graph.nodes]
