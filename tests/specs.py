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


def fanout_spec(kind: str) -> dict[str, Any]:
    """``kind`` with its input and its output each read by two layers (a float input first
    goes through a layer_norm, so its gradient is a sum from both readers)."""
    spec = kind_spec(kind)
    cls = REGISTRY[kind]
    layers = spec["model"]["layers"]
    kind_index = len(layers) - 3  # kind_spec ends with the kind, a flatten and a dense
    source = "x"
    if cls.input_dtype == "float32":
        layers.insert(0, {"name": "pre", "inputs": "x", "layer_norm": {}})
        kind_index += 1
        source = "pre"
        for reader in layers[1:kind_index]:  # the branches of a kind with several inputs
            reader["inputs"] = source
        if cls.min_inputs == 1:
            layers[kind_index]["inputs"] = source
    layers[kind_index]["name"] = "under_test"
    flats = [{"name": "out_flat", "inputs": "under_test", "flatten": {}}]
    flats.append(
        {"name": "out_again", "inputs": "under_test", "activation": {"activation": "tanh"}}
    )
    flats.append({"name": "out_again_flat", "inputs": "out_again", "flatten": {}})
    if source == "pre":
        params = cls.params.model_validate(yaml.safe_load(cls.example) or {})
        shapes = [cls.example_input]
        if cls.min_inputs > 1:  # the kind reads two dense layers of 6 units
            shapes = [(*cls.example_input[:-1], 6)] * cls.min_inputs
        same_shape = cls.output_shape(params, shapes) == cls.example_input
        # The defect this guards against showed with an add reading a norm layer's input.
        second = (
            {"add": {}, "inputs": ["pre", "under_test"]}
            if same_shape
            else {"activation": {"activation": "sigmoid"}}
        )
        flats.append({"name": "pre_again", "inputs": "pre", **second})
        flats.append({"name": "pre_flat", "inputs": "pre_again", "flatten": {}})
    readers = [f["name"] for f in flats if f["name"].endswith("_flat")]
    spec["model"]["layers"] = [
        *layers[: kind_index + 1],
        *flats,
        {"name": "joined", "inputs": readers, "concatenate": {}},
        {"dense": {"units": 3}},
    ]
    spec["name"] = f"fanout_{kind}"
    return spec


def kind_with(kind: str, shape: tuple[int, ...] | None = None, **params: Any) -> dict[str, Any]:
    """The ``kind-<kind>`` model with some of the layer's parameters (and its input) changed."""
    spec = kind_spec(kind)
    spec["model"]["layers"][0][kind].update(params)
    if shape is not None:
        spec["model"]["inputs"]["x"]["shape"] = list(shape)
    return spec


#: Convolution options (strides, multipliers, dilation, penalties, biases of size 1), compared
#: between targets and against Keras' shapes and parameter counts.
CONV_CASES: dict[str, dict[str, Any]] = {
    "depthwise-strides2-multiplier2": kind_with(
        "depthwise_conv2d", (7, 7, 3), strides=2, depth_multiplier=2, use_bias=False
    ),
    "init-depthwise-dilation-l2": kind_with(
        "depthwise_conv2d",
        (8, 8, 2),
        kernel_size=[3, 2],
        dilation_rate=2,
        l2=0.01,
        depthwise_initializer="he_normal",
        bias_initializer="ones",
    ),
    "separable-strides2-multiplier2": kind_with(
        "separable_conv2d", (7, 7, 3), strides=2, depth_multiplier=2, padding="valid"
    ),
    "init-separable-dilation-l2": kind_with(
        "separable_conv2d",
        (8, 8, 2),
        kernel_size=[2, 3],
        dilation_rate=2,
        l2=0.01,
        depthwise_initializer="he_uniform",
        pointwise_initializer="he_normal",
        bias_initializer="ones",
        activation="linear",
    ),
    "separable-one-filter": kind_with("separable_conv2d", filters=1, activation="sigmoid"),
    "transpose-strides2-valid": kind_with(
        "conv2d_transpose", (3, 4, 2), kernel_size=[3, 2], padding="valid", use_bias=False
    ),
    "transpose-strides2-same-output-padding": kind_with(
        "conv2d_transpose", (3, 3, 2), kernel_size=4, strides=[2, 3], output_padding=1
    ),
    "init-transpose-dilation-l2": kind_with(
        "conv2d_transpose",
        strides=1,
        kernel_size=2,
        dilation_rate=2,
        padding="valid",
        filters=1,
        l2=0.01,
        kernel_initializer="he_uniform",
        bias_initializer="ones",
    ),
    "conv2d-groups2-strides2": kind_with(
        "conv2d", (7, 7, 4), filters=6, groups=2, strides=2, kernel_size=[3, 2]
    ),
    "init-conv2d-groups-per-channel": kind_with(
        "conv2d",
        (6, 6, 3),
        filters=3,
        groups=3,
        dilation_rate=2,
        l2=0.01,
        kernel_initializer="he_normal",
    ),
    "conv1d-groups2-strides2": kind_with("conv1d", (9, 4), filters=6, groups=2, strides=2),
    "conv1d-causal-dilation": kind_with(
        "conv1d", padding="causal", dilation_rate=2, kernel_size=3, activation="tanh"
    ),
    "conv1d-causal-strides2-groups3": kind_with(
        "conv1d", (9, 3), padding="causal", strides=2, groups=3, filters=3, use_bias=False
    ),
    "depthwise-strides2-dilation2-same": kind_with(
        "depthwise_conv2d", (9, 8, 3), strides=2, dilation_rate=2, depth_multiplier=2
    ),
    "separable-strides-dilation2-valid": kind_with(
        "separable_conv2d", (9, 8, 3), strides=[2, 1], dilation_rate=2, padding="valid"
    ),
    "separable-strides2-dilation2-same": kind_with(
        "separable_conv2d", (8, 9, 2), strides=2, dilation_rate=2, kernel_size=[2, 3]
    ),
    "depthwise-one-channel": kind_with(
        "depthwise_conv2d", (6, 6, 1), strides=[2, 1], activation="tanh"
    ),
}
