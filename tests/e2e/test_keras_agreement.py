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


def test_conv2d_transpose_sizes_match_keras():
    """Every output size conv2d_transpose computes is Keras' own, and every size it refuses
    is one Keras' layer fails to compute (TensorFlow rejects the output shape) or computes
    as empty."""
    import keras
    import numpy as np

    from modelgen.layers import ShapeError
    from modelgen.layers.conv2d_transpose import Conv2DTranspose, Conv2DTransposeParams

    refused = 0
    grid = [
        (n, k, s, padding, d)
        for n in (1, 2, 5)
        for k in (1, 2, 3, 4)
        for s in (1, 2, 3)
        for padding in ("valid", "same")
        for d in ((1, 2) if s == 1 else (1,))
    ]
    for n, k, s, padding, d in grid:
        for extra in (None, *range(s)):
            params = Conv2DTransposeParams.model_validate(
                {
                    "filters": 2,
                    "kernel_size": [k, 1],
                    "strides": [s, 1],
                    "padding": padding,
                    "output_padding": None if extra is None else [extra, 0],
                    "dilation_rate": d,
                }
            )
            layer = keras.layers.Conv2DTranspose(
                2,
                (k, 1),
                strides=(s, 1),
                padding=padding,
                output_padding=None if extra is None else (extra, 0),
                dilation_rate=d,
            )
            case = (n, k, s, padding, extra, d)
            try:
                ours = Conv2DTranspose.output_shape(params, [(n, 3, 2)])
            except ShapeError:
                refused += 1
                try:
                    empty = 0 in layer(np.zeros((1, n, 3, 2), "float32")).shape
                except Exception:  # TensorFlow's own error types
                    empty = True
                assert empty, case
                continue
            assert (1, *ours) == tuple(layer.compute_output_shape((1, n, 3, 2))), case
            assert (1, *ours) == tuple(layer(np.zeros((1, n, 3, 2), "float32")).shape), case
    assert refused > 0
