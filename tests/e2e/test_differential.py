"""Differential test: modelgen's shape rules and parameter counts against Keras' own.

200 random valid chains are drawn (seeded, so a failure reproduces) from every single-input
layer kind in the registry, with options varied around each kind's example; for each, the
keras target's model is built and every layer's output shape and parameter count, and the
total, must equal what `modelgen validate` computed."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import ValidationError

from modelgen.build import generate
from modelgen.layers import REGISTRY, ShapeError
from modelgen.layers.base import Activation
from tests.specs import base_spec, write_spec

pytestmark = pytest.mark.slow
CHAINS = 200
#: Values tried for option names that many kinds share (only where a kind has the option).
VARIATIONS: dict[str, list[Any]] = {
    "units": [1, 3, 5],
    "filters": [1, 2, 4],
    "output_dim": [2, 3],
    "kernel_size": [1, 2, 3],
    "strides": [1, 2],
    "padding": ["valid", "same"],
    "pool_size": [1, 2, 3],
    "use_bias": [True, False],
    "activation": list(get_args(Activation)),
    "return_sequences": [True, False],
}
KINDS = sorted(k for k, cls in REGISTRY.items() if cls.min_inputs == 1)


def _layer(rng: random.Random, kind: str, shape: tuple[int, ...]) -> dict[str, Any] | None:
    """A random variation of ``kind``'s example that accepts ``shape``, or None."""
    cls = REGISTRY[kind]
    options = yaml.safe_load(cls.example) or {}
    for name, values in VARIATIONS.items():
        if name in cls.params.model_fields and rng.random() < 0.5:
            options[name] = rng.choice(values)
    try:
        params = cls.params.model_validate(options)
        out = cls.output_shape(params, [shape])
    except (ValidationError, ShapeError, ValueError):
        return None
    if not out or min(out) < 1 or len(out) > 4 or _size(out) > 20_000:
        return None
    return {kind: options}


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def random_chain(rng: random.Random, index: int) -> dict[str, Any]:
    """A spec: a random input, 1 to 6 random layers, then flatten and a 3-class dense."""
    tokens = rng.random() < 0.15
    shape = (
        (rng.randint(3, 9),)
        if tokens
        else tuple(rng.randint(3, 9) for _ in range(rng.randint(1, 3)))
    )
    input_dtype = dtype = "int32" if tokens else "float32"
    layers: list[dict[str, Any]] = []
    current = shape
    for _ in range(rng.randint(1, 6)):
        candidates = [k for k in KINDS if REGISTRY[k].input_dtype == dtype]
        for _attempt in range(30):
            kind = rng.choice(candidates)
            layer = _layer(rng, kind, current)
            if layer is not None:
                break
        else:
            break
        cls = REGISTRY[kind]
        current = cls.output_shape(cls.params.model_validate(layer[kind]), [current])
        layers.append(layer)
        dtype = "float32"
    if dtype == "int32":  # nothing took the ids: embed them
        layers.append({"embedding": {"input_dim": 10, "output_dim": 2}})
    layers += [{"flatten": {}}, {"dense": {"units": 3}}]
    return base_spec(
        name=f"chain{index}",
        model={"inputs": {"x": {"shape": list(shape), "dtype": input_dtype}}, "layers": layers},
    )


def test_random_chains_match_keras_shapes_and_parameter_counts(tmp_path: Path):
    import keras

    rng = random.Random(12)
    kinds_seen: set[str] = set()
    for index in range(CHAINS):
        spec = random_chain(rng, index)
        folder = tmp_path / f"chain{index}"
        folder.mkdir()
        graph, code = generate(write_spec(folder, spec), "keras", folder)
        program = folder / "train_keras.py"
        program.write_text(code, encoding="utf-8")
        loader = importlib.util.spec_from_file_location(f"chain{index}", program)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
        model = module.build_model(0)
        layers = {layer.name: layer for layer in model.layers}
        where = f"chain {index}: {spec['model']}"
        for node in graph.nodes:
            assert tuple(layers[node.name].output.shape[1:]) == node.shape, (
                f"{node.name} in {where}"
            )
            assert layers[node.name].count_params() == node.param_count, f"{node.name} in {where}"
        assert model.count_params() == graph.total_params, where
        kinds_seen |= {node.kind for node in graph.nodes}
        keras.backend.clear_session()
    assert set(KINDS) <= kinds_seen, f"never drawn: {set(KINDS) - kinds_seen}"
