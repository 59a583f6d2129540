"""The core promise: the keras and tf targets of one spec are numerically identical.

For every layer kind (from the registry), activation, initializer, loss, optimizer, schedule and
clipping mode, both generated programs run 20 training steps on the same seeded data (shuffled,
with dropout and a validation split) and must agree exactly: every step's loss and metrics, the
epoch metrics and every final weight. Initial weights must be identical for every layer kind.

To keep CI fast, the programs run in batches of BATCH in a few Python processes at once
(tests/e2e/run_programs.py), which saves TensorFlow's start-up per program;
tests/e2e/test_cli_e2e.py runs generated files as separate processes the way a user does.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from modelgen.build import generate
from modelgen.layers import REGISTRY
from tests.specs import CONV_CASES, base_spec, fanout_spec, kind_spec, write_spec

pytestmark = pytest.mark.slow
STEPS = 20
WORKERS = min(4, max(2, os.cpu_count() or 2))  # processes running programs at once
BATCH = 40  # programs per process


def _with(spec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    node = spec
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return spec


BASE = base_spec()
REGRESSION = _with(_with(BASE, "train.loss", {"type": "mse"}), "train.metrics", ["mae", "mse"])
REGRESSION = _with(REGRESSION, "model.layers.1", {"dense": {"units": 2}})
DROPOUT_MLP = _with(
    BASE,
    "model.layers",
    [
        {"dense": {"units": 8, "activation": "relu"}},
        {"dropout": {"rate": 0.5}},
        {"dense": {"units": 3}},
    ],
)


def _activation(name: str) -> dict[str, Any]:
    return _with(BASE, "model.layers.0.dense.activation", name)


CASES: dict[str, dict[str, Any]] = {f"kind-{kind}": kind_spec(kind) for kind in sorted(REGISTRY)}
# A tensor read by two layers gets the sum of two gradients, which both targets must add in the
# same order: around every kind, its input and its output each have a second reader.
CASES |= {f"fanout-{kind}": fanout_spec(kind) for kind in sorted(REGISTRY)}
ACTIVATIONS = ("gelu", "sigmoid", "tanh", "silu", "leaky_relu", "relu6", "hard_sigmoid", "elu")
ACTIVATIONS += ("selu", "softplus", "mish", "hard_silu", "swish", "hard_swish")
CASES |= {f"activation-{a}": _activation(a) for a in ACTIVATIONS}
# The activation kind with Keras' options (keras.layers.ReLU / LeakyReLU / ELU), one after another.
CASES["activation-relu-options"] = _with(
    BASE,
    "model.layers",
    [
        {"dense": {"units": 8}},
        {"activation": {"activation": "relu", "max_value": 6}},
        {"dense": {"units": 8}},
        {"activation": {"activation": "relu", "max_value": 0.5}},
        {"dense": {"units": 8}},
        {"activation": {"activation": "relu", "negative_slope": 0.1}},
        {"dense": {"units": 8}},
        {"activation": {"activation": "relu", "threshold": 0.05, "max_value": 6}},
        {"dense": {"units": 8}},
        {
            "activation": {
                "activation": "relu",
                "negative_slope": 0.2,
                "max_value": 1.5,
                "threshold": 0.02,
            }
        },
        {"dense": {"units": 8}},
        {"activation": {"activation": "relu", "negative_slope": 0.3, "max_value": 6}},
        {"activation": {"activation": "leaky_relu", "negative_slope": 0.3}},
        {"dense": {"units": 8}},
        {"activation": {"activation": "elu", "alpha": 0.5}},
        {"activation": {"activation": "elu", "alpha": 1.0}},
        {"dense": {"units": 3}},
    ],
)
CASES |= {
    "init-he": _with(
        _with(BASE, "model.layers.0.dense.kernel_initializer", "he_normal"),
        "model.layers.1.dense.kernel_initializer",
        "he_uniform",
    ),
    "init-ones-bias": _with(BASE, "model.layers.0.dense.bias_initializer", "ones"),
    "l2": _with(_with(BASE, "model.layers.0.dense.l2", 0.01), "model.layers.1.dense.l2", 0.001),
    "loss-sparse-softmax": _with(
        _with(BASE, "model.layers.1.dense.activation", "softmax"),
        "train.loss",
        {"type": "sparse_categorical_crossentropy"},
    ),
    "loss-categorical-logits": _with(
        BASE, "train.loss", {"type": "categorical_crossentropy", "from_logits": True}
    ),
    "loss-categorical-softmax": _with(
        _with(BASE, "model.layers.1.dense.activation", "softmax"),
        "train.loss",
        {"type": "categorical_crossentropy"},
    ),
    "loss-binary-logits": _with(
        _with(BASE, "model.layers.1.dense.units", 1),
        "train.loss",
        {"type": "binary_crossentropy", "from_logits": True},
    ),
    "loss-binary-sigmoid": _with(
        _with(
            _with(BASE, "model.layers.1.dense.units", 1),
            "model.layers.1.dense.activation",
            "sigmoid",
        ),
        "train.loss",
        {"type": "binary_crossentropy"},
    ),
    "loss-binary-multilabel": _with(
        BASE, "train.loss", {"type": "binary_crossentropy", "from_logits": True}
    ),
    "loss-mse": REGRESSION,
    "loss-mae": _with(REGRESSION, "train.loss", {"type": "mae"}),
    "loss-huber": _with(REGRESSION, "train.loss", {"type": "huber", "delta": 0.5}),
    "loss-mse-scalar-output": _with(REGRESSION, "model.layers.1.dense.units", 1),
    "opt-sgd": _with(BASE, "train.optimizer", {"type": "sgd", "learning_rate": 0.05}),
    "opt-sgd-momentum": _with(BASE, "train.optimizer", {"type": "sgd", "momentum": 0.9}),
    "opt-sgd-nesterov": _with(
        BASE, "train.optimizer", {"type": "sgd", "momentum": 0.9, "nesterov": True}
    ),
    "opt-adam-amsgrad": _with(BASE, "train.optimizer", {"type": "adam", "amsgrad": True}),
    "opt-adamw": _with(BASE, "train.optimizer", {"type": "adamw", "learning_rate": 0.01}),
    "opt-rmsprop": _with(BASE, "train.optimizer", {"type": "rmsprop"}),
    "opt-rmsprop-centered-momentum": _with(
        BASE, "train.optimizer", {"type": "rmsprop", "centered": True, "momentum": 0.5}
    ),
    "opt-sgd-weight-decay": _with(
        BASE, "train.optimizer", {"type": "sgd", "momentum": 0.9, "weight_decay": 0.01}
    ),
    "schedule-exponential": _with(
        BASE,
        "train.optimizer",
        {
            "type": "adam",
            "schedule": {
                "type": "exponential",
                "decay_steps": 4,
                "decay_rate": 0.5,
                "staircase": True,
            },
        },
    ),
    "schedule-cosine": _with(
        BASE,
        "train.optimizer",
        {
            "type": "sgd",
            "learning_rate": 0.1,
            "schedule": {"type": "cosine", "decay_steps": 15, "alpha": 0.1},
        },
    ),
    "schedule-cosine-warmup": _with(
        BASE,
        "train.optimizer",
        {"type": "adam", "schedule": {"type": "cosine", "warmup_steps": 5, "warmup_from": 0.0001}},
    ),
    "clip-norm": _with(BASE, "train.optimizer", {"type": "sgd", "clipnorm": 0.1}),
    "clip-global-norm": _with(BASE, "train.optimizer", {"type": "adam", "global_clipnorm": 0.1}),
    "clip-value": _with(BASE, "train.optimizer", {"type": "rmsprop", "clipvalue": 0.01}),
    "dropout-mlp": DROPOUT_MLP,
    # Stochastic depth as EfficientNet drops blocks: one mask value per example and channel.
    "dropout-noise-shape": _with(
        _with(BASE, "model.inputs.x.shape", [4, 4, 2]),
        "model.layers",
        [
            {"conv2d": {"filters": 3, "kernel_size": 3, "padding": "same"}},
            {"dropout": {"rate": 0.5, "noise_shape": [1, 1, None]}},
            {"flatten": {}},
            {"dense": {"units": 3}},
        ],
    ),
    "no-shuffle-no-validation": _with(
        _with(DROPOUT_MLP, "data.shuffle", False), "data.validation_split", 0.0
    ),
    "dag-residual": _with(
        BASE,
        "model.layers",
        [
            {"dense": {"units": 6, "activation": "relu"}, "name": "h1"},
            {"dense": {"units": 6}, "name": "h2"},
            {"add": {}, "name": "skip", "inputs": ["x", "h2"]},
            {"layer_norm": {}},
            {"dense": {"units": 3}, "name": "head"},
        ],
    ),
    "dag-two-inputs": _with(
        _with(BASE, "model.inputs", {"x": {"shape": [6]}, "ids": {"shape": [4], "dtype": "int32"}}),
        "model.layers",
        [
            {"dense": {"units": 5, "activation": "relu"}, "inputs": "x", "name": "xa"},
            {"embedding": {"input_dim": 7, "output_dim": 3}, "inputs": "ids", "name": "emb"},
            {"flatten": {}, "name": "emb_flat"},
            {"concatenate": {}, "inputs": ["xa", "emb_flat"], "name": "joined"},
            {"batch_norm": {}},
            {"dense": {"units": 3}},
        ],
    ),
}
# Elementwise merges with Keras' broadcasting: squeeze-and-excite channel weights (h, w, c)
# * (1, 1, c), an input of lower rank (Keras inserts axes after the batch), several inputs.
IMAGE = {"x": {"shape": [4, 4, 3]}}
_SE = [
    {"conv2d": {"filters": 4, "kernel_size": 3, "padding": "same"}, "name": "maps"},
    {"global_avg_pool2d": {}, "name": "squeezed"},
    {"dense": {"units": 4, "activation": "sigmoid"}, "name": "gate"},
]
CASES["multiply-squeeze-excite"] = _with(
    _with(BASE, "model.inputs", IMAGE),
    "model.layers",
    [
        *_SE,
        {"reshape": {"target_shape": [1, 1, 4]}, "name": "gate_map"},
        {"multiply": {}, "inputs": ["maps", "gate_map"], "name": "scaled"},
        {"flatten": {}},
        {"dense": {"units": 3}},
    ],
)
CASES["merges-broadcast-ranks"] = _with(
    _with(BASE, "model.inputs", IMAGE),
    "model.layers",
    [
        *_SE,
        {"multiply": {}, "inputs": ["maps", "gate", "maps"], "name": "product"},
        {"subtract": {}, "inputs": ["gate", "product"], "name": "difference"},
        {"average": {}, "inputs": ["difference", "maps", "gate"], "name": "mean"},
        {"maximum": {}, "inputs": ["mean", "gate"], "name": "high"},
        {"minimum": {}, "inputs": ["gate", "high", "maps"], "name": "low"},
        {"flatten": {}},
        {"dense": {"units": 3}},
    ],
)
# Preprocessing: a normalization learns its statistics from the training split (adapt)
# before training; rescaling; given statistics on a hidden layer (gradients pass through).
CASES["normalization-adapt-image"] = _with(
    _with(BASE, "model.inputs", IMAGE),
    "model.layers",
    [
        {"normalization": {}, "name": "norm"},
        {"rescaling": {"scale": 0.5, "offset": -0.25}},
        {"conv2d": {"filters": 4, "kernel_size": 3}},
        {"global_avg_pool2d": {}},
        {"dense": {"units": 3}},
    ],
)
CASES["normalization-axis-invert"] = _with(
    _with(BASE, "model.inputs", {"x": {"shape": [3, 4]}}),
    "model.layers",
    [
        {"normalization": {"axis": 1, "invert": True}, "name": "norm"},
        {"flatten": {}},
        {"dense": {"units": 5, "activation": "tanh"}},
        {"normalization": {"mean": 0.25, "variance": 2.0}},
        {"normalization": {"mean": [0.5], "variance": [0.5], "invert": True}},
        {"dense": {"units": 3}},
    ],
)
# Several steps per compiled call: same numbers, metrics logged once per call.
# (72 training samples: 3 steps per epoch at batch 24, 5 at batch 16.)
CASES["steps-per-execution"] = _with(
    _with(_with(DROPOUT_MLP, "runtime", {"steps_per_execution": 3}), "data.batch_size", 24),
    "train.epochs",
    10,
)
CASES["steps-per-execution-cnn"] = _with(
    kind_spec("batch_norm"), "runtime", {"steps_per_execution": 5}
)
# XLA: both targets compile the step; compared within TOLERANCE, not bit for bit.
JIT = {"jit_compile": True, "deterministic": False}
CASES["jit-compile"] = _with(DROPOUT_MLP, "runtime", JIT)
CASES["jit-compile-cnn"] = _with(kind_spec("conv2d"), "runtime", JIT)
TOLERANCE = {"jit-compile": 1e-5, "jit-compile-cnn": 1e-5}
# Embedding gradients are IndexedSlices, which Keras' optimizers treat row by row.
EMBEDDING = kind_spec("embedding")
CASES |= {
    f"sparse-{name}": _with(EMBEDDING, "train.optimizer", optimizer)
    for name, optimizer in {
        "sgd": {"type": "sgd", "learning_rate": 0.1},
        "sgd-momentum": {"type": "sgd", "momentum": 0.9, "nesterov": True},
        "rmsprop": {"type": "rmsprop"},
        # (rmsprop centered with embeddings crashes inside Keras 3.15 itself: not compared)
        "rmsprop-momentum": {"type": "rmsprop", "momentum": 0.5},
        "adam-clipnorm": {"type": "adam", "clipnorm": 0.01},
        "adamw-global-clipnorm": {"type": "adamw", "global_clipnorm": 0.01},
        "sgd-clipvalue": {"type": "sgd", "clipvalue": 0.001},
    }.items()
}
# Several outputs: each output's loss (times its weight) summed in Keras' order, per-output
# losses and metrics logged under Keras' names (class_loss, class_accuracy, box_mae...).
TWO_HEADS = _with(
    _with(
        BASE,
        "model.layers",
        [
            {"dense": {"units": 8, "activation": "relu"}, "name": "trunk"},
            {"dense": {"units": 3, "activation": "softmax"}, "name": "class", "inputs": "trunk"},
            {"dense": {"units": 2, "l2": 0.01}, "name": "box", "inputs": "trunk"},
        ],
    ),
    "model.outputs",
    ["class", "box"],
)
TWO_HEADS["train"] |= {
    "loss": {"class": {"type": "sparse_categorical_crossentropy"}, "box": {"type": "huber"}},
    "loss_weights": {"class": 1.0, "box": 0.5},
    "metrics": {"class": ["accuracy"], "box": ["mae", "mse"]},
}
CASES["multi-output"] = TWO_HEADS
# Two outputs read by a shared trunk and a skip (the trunk's gradient sums both heads'), no
# loss weights, a validation split and 3 steps per compiled call (72 samples: 3 batches of 24).
TWO_OUTPUTS = _with(
    _with(
        BASE,
        "model.layers",
        [
            {"dense": {"units": 8, "activation": "tanh"}, "name": "trunk"},
            {"dropout": {"rate": 0.25}, "name": "drop"},
            {"dense": {"units": 4}, "name": "zeta", "inputs": "drop"},
            {"dense": {"units": 1}, "name": "alpha", "inputs": ["trunk"]},
        ],
    ),
    "model.outputs",
    ["zeta", "alpha"],
)
TWO_OUTPUTS["train"] |= {
    "epochs": 10,
    "loss": {
        "zeta": {"type": "categorical_crossentropy", "from_logits": True},
        "alpha": {"type": "binary_crossentropy", "from_logits": True},
    },
    "metrics": {"zeta": ["accuracy"], "alpha": ["accuracy"]},
}
TWO_OUTPUTS["data"]["batch_size"] = 24
TWO_OUTPUTS["runtime"] = {"steps_per_execution": 3}
CASES["multi-output-steps-per-execution"] = TWO_OUTPUTS
# Three outputs (a three-term sum, whose order matters), softmax and sigmoid heads whose losses
# read logits, a loss weight for one output only, and names the programs use themselves.
THREE = _with(
    _with(
        _with(BASE, "model.inputs", {"labels": {"shape": [6]}}),
        "model.layers",
        [
            {"dense": {"units": 8, "activation": "relu"}, "name": "losses"},
            {"dense": {"units": 3, "activation": "softmax"}, "name": "logits", "inputs": "losses"},
            {"dense": {"units": 1, "activation": "sigmoid"}, "name": "tf", "inputs": "losses"},
            {"dense": {"units": 2}, "name": "size", "inputs": "losses"},
        ],
    ),
    "model.outputs",
    ["logits", "tf", "size"],
)
THREE["train"] |= {
    "loss": {
        "logits": {"type": "categorical_crossentropy"},
        "tf": {"type": "binary_crossentropy"},
        "size": {"type": "mae"},
    },
    "loss_weights": {"tf": 2.0},
    "metrics": {"logits": ["accuracy"], "tf": ["accuracy", "mse"], "size": ["mse"]},
}
CASES["multi-output-three"] = THREE
# Metrics with their own state (Keras' confusion counts, kept per threshold or per class and
# checkpointed) and top-k accuracy, on sigmoid, multi-label sigmoid and softmax outputs.
SIGMOID = _with(
    _with(
        _with(BASE, "model.layers.1.dense.units", 1), "model.layers.1.dense.activation", "sigmoid"
    ),
    "train.loss",
    {"type": "binary_crossentropy"},
)
MULTILABEL = _with(
    _with(BASE, "model.layers.1.dense.activation", "sigmoid"),
    "train.loss",
    {"type": "binary_crossentropy"},
)
SOFTMAX = _with(
    _with(BASE, "model.layers.1.dense.activation", "softmax"),
    "train.loss",
    {"type": "categorical_crossentropy"},
)
CASES |= {
    "metrics-binary": _with(
        SIGMOID, "train.metrics", ["accuracy", "auc", "precision", "recall", "f1_score"]
    ),
    "metrics-binary-options": _with(
        SIGMOID,
        "train.metrics",
        [
            {"type": "auc", "num_thresholds": 50, "curve": "PR"},
            {"type": "precision", "threshold": 0.3},
            {"type": "recall", "threshold": 0.7},
            {"type": "f1_score", "average": "micro", "threshold": 0.5},
        ],
    ),
    "metrics-multilabel": _with(
        MULTILABEL, "train.metrics", ["auc", "precision", "recall", {"type": "f1_score"}]
    ),
    "metrics-categorical": _with(
        SOFTMAX,
        "train.metrics",
        [
            "accuracy",
            "auc",
            "precision",
            "recall",
            "f1_score",
            {"type": "top_k_categorical_accuracy", "k": 2},
        ],
    ),
    "metrics-categorical-options": _with(
        SOFTMAX,
        "train.metrics",
        [
            {"type": "f1_score", "average": "weighted", "threshold": 0.4},
            {"type": "auc", "curve": "PR", "num_thresholds": 7},
            {"type": "top_k_categorical_accuracy", "k": 1},
        ],
    ),
    "metrics-sparse-top-k": _with(
        BASE,
        "train.metrics",
        ["accuracy", {"type": "sparse_top_k_categorical_accuracy", "k": 2}],
    ),
}
CASES["metrics-steps-per-execution"] = _with(
    _with(SIGMOID, "train.metrics", ["auc", "recall", "f1_score"]),
    "runtime",
    {"steps_per_execution": 5},
)
METRICS_THREE = copy.deepcopy(THREE)
METRICS_THREE["train"]["metrics"] = {
    "logits": ["auc", "f1_score", {"type": "top_k_categorical_accuracy", "k": 2}],
    "tf": ["precision", "accuracy", "recall", "auc"],
    "size": ["mse"],
}
CASES["metrics-multi-output"] = METRICS_THREE
# Loss options: label smoothing (categorical: towards uniform; binary: towards 0.5) and the
# binary focal crossentropy, from sigmoid outputs and from logits.
FOCAL = {"type": "binary_focal_crossentropy"}
CASES |= {
    "loss-categorical-smoothing": _with(
        SOFTMAX, "train.loss", {"type": "categorical_crossentropy", "label_smoothing": 0.1}
    ),
    "loss-categorical-logits-smoothing": _with(
        BASE,
        "train.loss",
        {"type": "categorical_crossentropy", "from_logits": True, "label_smoothing": 0.25},
    ),
    "loss-binary-smoothing": _with(
        SIGMOID, "train.loss", {"type": "binary_crossentropy", "label_smoothing": 0.1}
    ),
    "loss-binary-multilabel-logits-smoothing": _with(
        BASE,
        "train.loss",
        {"type": "binary_crossentropy", "from_logits": True, "label_smoothing": 0.3},
    ),
    "loss-focal": _with(_with(SIGMOID, "train.loss", FOCAL), "train.metrics", ["accuracy", "auc"]),
    "loss-focal-options": _with(
        MULTILABEL,
        "train.loss",
        FOCAL | {"gamma": 1.5, "apply_class_balancing": True, "alpha": 0.4, "label_smoothing": 0.1},
    ),
    "loss-focal-logits": _with(
        BASE,
        "train.loss",
        FOCAL | {"from_logits": True, "gamma": 0.0, "apply_class_balancing": True},
    ),
}
# Several outputs whose losses share a type with other options: one function for each.
LOSS_OPTIONS = _with(
    _with(
        BASE,
        "model.layers",
        [
            {"dense": {"units": 8, "activation": "relu"}, "name": "trunk"},
            {"dense": {"units": 1, "activation": "sigmoid"}, "name": "plain", "inputs": "trunk"},
            {"dense": {"units": 2, "activation": "sigmoid"}, "name": "smooth", "inputs": "trunk"},
            {"dense": {"units": 3}, "name": "focal", "inputs": "trunk"},
            {"dense": {"units": 3, "activation": "softmax"}, "name": "kind", "inputs": "trunk"},
        ],
    ),
    "model.outputs",
    ["plain", "smooth", "focal", "kind"],
)
LOSS_OPTIONS["train"] |= {
    "loss": {
        "plain": {"type": "binary_crossentropy"},
        "smooth": {"type": "binary_crossentropy", "label_smoothing": 0.2},
        "focal": FOCAL | {"from_logits": True, "gamma": 3.0},
        "kind": {"type": "categorical_crossentropy", "label_smoothing": 0.1},
    },
    "metrics": {
        "plain": ["auc"],
        "smooth": ["precision"],
        "focal": ["accuracy"],
        "kind": ["accuracy"],
    },
}
CASES["multi-output-loss-options"] = LOSS_OPTIONS


def _after_conv(shape: list[int], *layers: dict[str, Any]) -> dict[str, Any]:
    """``layers`` between a trainable conv2d (so gradients flow through them) and the head."""
    convolve = {"conv2d": {"filters": 2, "kernel_size": 1}}
    if len(shape) == 2:
        convolve = {"conv1d": {"filters": 2, "kernel_size": 1}}
    return _with(
        BASE,
        "model",
        {
            "inputs": {"x": {"shape": shape}},
            "layers": [convolve, *layers, {"flatten": {}}, {"dense": {"units": 3}}],
        },
    )


# Reshaping, pooling and augmentation options (the kind-* cases cover each kind's example).
CASES |= {
    "pad-int": _after_conv([4, 5, 1], {"zero_padding2d": {"padding": 2}}),
    "pad-pair": _after_conv([4, 5, 1], {"zero_padding2d": {"padding": [0, 3]}}),
    "crop-pair": _after_conv([6, 7, 1], {"cropping2d": {"cropping": [1, 2]}}),
    "crop-rows-only": _after_conv([6, 7, 1], {"cropping2d": {"cropping": [[2, 1], [0, 0]]}}),
    "crop-bottom-open": _after_conv([6, 7, 1], {"cropping2d": {"cropping": [[1, 0], [0, 2]]}}),
    "upsampling-int": _after_conv([3, 2, 1], {"upsampling2d": {"size": 2}}),
    "upsampling-bilinear": _after_conv(
        [3, 4, 1], {"upsampling2d": {"size": [2, 3], "interpolation": "bilinear"}}
    ),
    "pool1d-max-overlapping": _after_conv([7, 2], {"max_pool1d": {"pool_size": 3, "strides": 1}}),
    "pool1d-avg-same": _after_conv(
        [7, 2], {"avg_pool1d": {"pool_size": 3, "strides": 2, "padding": "same"}}
    ),
    "global-max-pool1d-keepdims": _after_conv([5, 3], {"global_max_pool1d": {"keepdims": True}}),
    "global-max-pool2d": _after_conv([5, 4, 2], {"global_max_pool2d": {}}),
    # EfficientNet's squeeze-and-excite: a per-channel mean kept as (1, 1, c), then a 1x1 conv.
    "global-avg-pool2d-keepdims": _after_conv(
        [5, 4, 2],
        {"global_avg_pool2d": {"keepdims": True}},
        {"conv2d": {"filters": 2, "kernel_size": 1, "activation": "sigmoid"}},
    ),
    "global-avg-pool1d-keepdims": _after_conv([5, 3], {"global_avg_pool1d": {"keepdims": True}}),
    "flip-horizontal": _after_conv([4, 5, 2], {"random_flip": {"mode": "horizontal"}}),
    "flip-vertical": _after_conv([4, 5, 2], {"random_flip": {"mode": "vertical"}}),
    "rotation-range-wrap": _after_conv(
        [5, 6, 2], {"random_rotation": {"factor": [-0.3, 0.05], "fill_mode": "wrap"}}
    ),
    "rotation-constant-nearest": _after_conv(
        [5, 6, 2],
        {
            "random_rotation": {
                "factor": 0.5,
                "fill_mode": "constant",
                "fill_value": 0.25,
                "interpolation": "nearest",
            }
        },
    ),
    "rotation-fill-nearest": _after_conv(
        [6, 6, 1], {"random_rotation": {"factor": 0.2, "fill_mode": "nearest"}}
    ),
    # Three seeded layers in one model (each its own seed), then the validation pass.
    "augment-cnn": _after_conv(
        [6, 6, 1],
        {"random_flip": {}},
        {"random_rotation": {"factor": 0.1}},
        {"dropout": {"rate": 0.25}},
        {"max_pool2d": {"pool_size": 2}},
    ),
}
# The small variants of the zoo (examples/zoo/*_small.yaml), as a user would write them.
ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"
CASES |= {
    f"zoo-{path.stem}": yaml.safe_load(path.read_text(encoding="utf-8"))
    for path in sorted(ZOO.glob("*_small.yaml"))
}
# The text zoo's Transformer (a masked encoder block) on synthetic ids, zeros included.
CASES["zoo-text_transformer"] = _with(
    yaml.safe_load((ZOO / "text_transformer.yaml").read_text(encoding="utf-8")),
    "data",
    BASE["data"],
)
# Reusable blocks: expanded before lowering, so both targets see plain layers named
# <use><i>_<layer>; a repeated residual block (conv, batch_norm, a skip add) and a block that
# uses another (with $param values passed down and a dropout inside).
CASES["blocks-residual-repeat"] = _with(
    _with(
        _with(BASE, "model.inputs", {"x": {"shape": [6, 6, 2]}}),
        "blocks",
        {
            "res": {
                "params": {"filters": None, "kernel": 3},
                "layers": [
                    {
                        "name": "conv1",
                        "conv2d": {
                            "filters": "$filters",
                            "kernel_size": "$kernel",
                            "padding": "same",
                        },
                    },
                    {"name": "bn1", "batch_norm": {}},
                    {"name": "relu1", "activation": {"activation": "relu"}},
                    {"name": "conv2", "conv2d": {"filters": "$filters", "kernel_size": 1}},
                    {"name": "add", "add": {}, "inputs": ["x", "conv2"]},
                    {"name": "out", "activation": {"activation": "relu"}},
                ],
            }
        },
    ),
    "model.layers",
    [
        {"name": "stem", "conv2d": {"filters": 4, "kernel_size": 3, "padding": "same"}},
        {"name": "stage1_block1", "block": "res", "with": {"filters": 4, "kernel": 1}},
        {"name": "stage1_block", "block": "res", "with": {"filters": 4}, "repeat": 2},
        {"global_avg_pool2d": {}},
        {"dense": {"units": 3}},
    ],
)
CASES["blocks-nested"] = _with(
    _with(
        BASE,
        "blocks",
        {
            "gate": {
                "params": {"units": None, "rate": 0.25},
                "layers": [
                    {"name": "fc", "dense": {"units": "$units", "activation": "tanh"}},
                    {"name": "drop", "dropout": {"rate": "$rate"}},
                ],
            },
            "unit": {
                "params": {"width": 6},
                "layers": [
                    {"name": "norm", "layer_norm": {}},
                    {"name": "se", "block": "gate", "with": {"units": "$width"}},
                    {"name": "out", "add": {}, "inputs": ["x", "se"]},
                ],
            },
        },
    ),
    "model.layers",
    [
        {"name": "enc", "block": "unit", "repeat": 2},
        {"name": "head", "block": "gate", "with": {"units": 3, "rate": 0.0}, "inputs": "enc"},
        {"dense": {"units": 3}},
    ],
)
# Convolution options: strides, multipliers, dilation, penalties, biases of size 1.
CASES |= CONV_CASES


def _recurrent(*layers: dict[str, Any]) -> dict[str, Any]:
    """Recurrent layers over 5 steps of 3 features, then a dense head."""
    spec = _with(BASE, "model.inputs", {"x": {"shape": [5, 3]}})
    head = [{"flatten": {}}] if "'return_sequences': True" in repr(layers[-1]) else []
    return _with(spec, "model.layers", [*layers, *head, {"dense": {"units": 3}}])


# Recurrent layers: each kind with and without return_sequences, dropout on the inputs and on
# the state (Keras then computes each gate on its own), GRU's reset gate before the product.
CASES |= {
    "rnn-simple-dropout": _recurrent(
        {"simple_rnn": {"units": 4, "dropout": 0.3, "recurrent_dropout": 0.2}}
    ),
    "rnn-simple-relu-seq": _recurrent(
        {"simple_rnn": {"units": 1, "activation": "relu", "return_sequences": True}}
    ),
    "rnn-lstm-seq-dropout": _recurrent(
        {"lstm": {"units": 4, "return_sequences": True, "dropout": 0.25}}
    ),
    "rnn-lstm-recurrent-dropout": _recurrent(
        {"lstm": {"units": 4, "dropout": 0.2, "recurrent_dropout": 0.3, "unit_forget_bias": False}}
    ),
    "rnn-lstm-no-bias-recurrent-dropout": _recurrent(
        {"lstm": {"units": 3, "use_bias": False, "recurrent_dropout": 0.3}}
    ),
    "rnn-gru-reset-before": _recurrent({"gru": {"units": 4, "reset_after": False}}),
    "rnn-gru-dropout": _recurrent({"gru": {"units": 4, "dropout": 0.3}}),
    "rnn-gru-recurrent-dropout": _recurrent(
        {"gru": {"units": 4, "dropout": 0.2, "recurrent_dropout": 0.3, "return_sequences": True}}
    ),
    "rnn-gru-reset-before-recurrent-dropout": _recurrent(
        {"gru": {"units": 4, "reset_after": False, "recurrent_dropout": 0.3, "use_bias": False}}
    ),
    "rnn-stacked": _recurrent(
        {"lstm": {"units": 4, "return_sequences": True, "recurrent_activation": "tanh"}},
        {"gru": {"units": 3, "activation": "relu", "reset_after": False}},
    ),
    # Bidirectional: both directions start from the same seeds (Keras copies the config).
    "rnn-bi-lstm-sum": _recurrent(
        {"bidirectional": {"layer": {"lstm": {"units": 4}}, "merge_mode": "sum"}}
    ),
    "rnn-bi-gru-mul-seq": _recurrent(
        {
            "bidirectional": {
                "layer": {"gru": {"units": 4, "return_sequences": True, "dropout": 0.2}},
                "merge_mode": "mul",
            }
        }
    ),
    "rnn-bi-simple-ave-seq": _recurrent(
        {
            "bidirectional": {
                "layer": {"simple_rnn": {"units": 3, "return_sequences": True, "use_bias": False}},
                "merge_mode": "ave",
            }
        }
    ),
    "rnn-bi-lstm-concat-recurrent-dropout": _recurrent(
        {"bidirectional": {"layer": {"lstm": {"units": 3, "recurrent_dropout": 0.2}}}}
    ),
}
# Padding masks: ids 0 are padding (the synthetic ids include zeros); recurrent layers skip them.
MASKED = _with(
    _with(BASE, "model.inputs", {"ids": {"shape": [6], "dtype": "int32"}}),
    "model.layers",
    [
        {"embedding": {"input_dim": 4, "output_dim": 3, "mask_zero": True}},
        {"dropout": {"rate": 0.2}},
        {"dense": {"units": 4, "activation": "tanh"}},
        {"lstm": {"units": 4}},
        {"dense": {"units": 3}},
    ],
)
CASES |= {
    "mask-lstm": MASKED,
    "mask-gru-stacked": _with(
        _with(MASKED, "model.layers.3", {"gru": {"units": 4, "return_sequences": True}}),
        "model.layers.4",
        {"simple_rnn": {"units": 3, "dropout": 0.1}},
    ),
    "mask-global-avg-pool": _with(MASKED, "model.layers.3", {"global_avg_pool1d": {}}),
    "mask-bidirectional-seq": _with(
        _with(
            MASKED,
            "model.layers.3",
            {"bidirectional": {"layer": {"lstm": {"units": 3, "return_sequences": True}}}},
        ),
        "model.layers.4",
        {"gru": {"units": 3, "recurrent_dropout": 0.2}},
    ),
}


def _inits(kernel0: Any, kernel1: Any, bias0: Any = "zeros") -> dict[str, Any]:
    """BASE with the two dense kernels' (and the first bias's) initializers replaced."""
    spec = _with(BASE, "model.layers.0.dense.kernel_initializer", kernel0)
    spec = _with(spec, "model.layers.0.dense.bias_initializer", bias0)
    return _with(spec, "model.layers.1.dense.kernel_initializer", kernel1)


CNN = kind_spec("conv2d")
CASES |= {
    "init-glorot-normal-lecun": _inits("glorot_normal", "lecun_normal", "lecun_uniform"),
    "init-variance-scaling": _inits(
        # EfficientNet's dense initializer; fan_avg uniform; the bare name (Keras' defaults)
        {
            "variance_scaling": {
                "scale": 2.0,
                "mode": "fan_out",
                "distribution": "untruncated_normal",
            }
        },
        {"variance_scaling": {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform"}},
        "variance_scaling",
    ),
    "init-variance-scaling-conv": _with(
        CNN,
        "model.layers.0.conv2d.kernel_initializer",
        {"variance_scaling": {"scale": 2.0, "mode": "fan_out"}},  # EfficientNet's conv initializer
    ),
    # (6, 8): fewer rows than columns, transposed; (8, 3): more rows
    "init-orthogonal": _inits("orthogonal", {"orthogonal": {"gain": 0.5}}),
    "init-orthogonal-conv": _with(CNN, "model.layers.0.conv2d.kernel_initializer", "orthogonal"),
    "init-random": _inits(
        {"random_normal": {"mean": 0.1, "stddev": 0.3}},
        {"truncated_normal": {"stddev": 0.2}},
        {"random_uniform": {"minval": -0.2, "maxval": 0.3}},
    ),
    "init-random-defaults": _inits("random_normal", "truncated_normal", "random_uniform"),
}
# Regularizers (Keras' L1, L2, L1L2) on kernels, biases and layer outputs: model.losses sums
# the activity penalties (per batch, / batch size) before the weight penalties.
REG_LAYERS = [
    {
        "dense": {
            "units": 8,
            "activation": "relu",
            "kernel_regularizer": {"l1": 0.01, "l2": 0.001},
            "bias_regularizer": {"l1": 0.02},
            "activity_regularizer": {"l2": 0.01},
        }
    },
    {"dense": {"units": 3, "l2": 0.001, "activity_regularizer": {"l1": 0.001, "l2": 0.0}}},
]
CASES |= {
    "reg-l1l2-bias-activity": _with(BASE, "model.layers", REG_LAYERS),
    "reg-l1": _with(
        _with(BASE, "model.layers.0.dense.kernel_regularizer", {"l1": 0.01}),
        "model.layers.1.dense.bias_regularizer",
        {"l2": 0.05},
    ),
    "reg-activity-conv": _with(
        _with(CNN, "model.layers.0.conv2d.activity_regularizer", {"l1": 0.001, "l2": 0.001}),
        "model.layers.0.conv2d.kernel_regularizer",
        {"l2": 0.01},
    ),
}


# Attention: cross-attention with two and three inputs (features differ from the query's),
# the causal mask, dropout on the attention probabilities, and a Transformer encoder block
# on token ids (the fanout-multi_head_attention case has the query also read by an add).
def _attention(inputs: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    layers = [layer, {"flatten": {}}, {"dense": {"units": 3}}]
    return _with(BASE, "model", {"inputs": inputs, "layers": layers})


CASES |= {
    "attention-cross": _attention(
        {"q": {"shape": [4, 6]}, "v": {"shape": [7, 5]}},
        {
            "inputs": ["q", "v"],
            "multi_head_attention": {"num_heads": 3, "key_dim": 2, "value_dim": 5},
        },
    ),
    "attention-cross-key": _attention(
        {"q": {"shape": [4, 6]}, "v": {"shape": [7, 5]}, "k": {"shape": [7, 3]}},
        {
            "inputs": ["q", "v", "k"],
            "multi_head_attention": {
                "num_heads": 1,  # a (1, key_dim) bias: Keras squeezes it into a BiasAdd
                "key_dim": 3,
                "use_causal_mask": True,
                "kernel_initializer": "he_uniform",
                "bias_initializer": "ones",
                "output_shape": 5,
            },
        },
    ),
    "attention-output-shape": _attention(
        {"x": {"shape": [5, 6]}},
        {"multi_head_attention": {"num_heads": 2, "key_dim": 3, "output_shape": [2, 3]}},
    ),
    "attention-causal": _attention(
        {"x": {"shape": [5, 8]}},
        {"multi_head_attention": {"num_heads": 2, "key_dim": 3, "use_causal_mask": True}},
    ),
    "attention-dropout": _attention(
        {"x": {"shape": [5, 8]}},
        {
            "multi_head_attention": {
                "num_heads": 2,
                "key_dim": 3,
                "dropout": 0.3,
                "use_causal_mask": True,
                "use_bias": False,
                "kernel_initializer": "he_normal",
            }
        },
    ),
    "transformer-encoder": _with(
        BASE,
        "model",
        {
            "inputs": {"ids": {"shape": [6], "dtype": "int32"}},
            "layers": [
                {"name": "tokens", "embedding": {"input_dim": 20, "output_dim": 8}},
                {"name": "positions", "position_embedding": {"sequence_length": 7}},
                {"name": "embedded", "add": {}, "inputs": ["tokens", "positions"]},
                {"name": "attend", "multi_head_attention": {"num_heads": 2, "key_dim": 3}},
                {"name": "attend_drop", "dropout": {"rate": 0.1}},
                {"name": "res1", "add": {}, "inputs": ["embedded", "attend_drop"]},
                {"name": "norm1", "layer_norm": {}},
                {"name": "ffn1", "dense": {"units": 16, "activation": "relu"}},
                {"name": "ffn2", "dense": {"units": 8}},
                {"name": "res2", "add": {}, "inputs": ["norm1", "ffn2"]},
                {"name": "norm2", "layer_norm": {}},
                {"name": "pool", "global_avg_pool1d": {}},
                {"name": "head", "dense": {"units": 3}},
            ],
        },
    ),
}
# The same block with a causal mask and dropout on the attention probabilities.
CASES["transformer-encoder-causal"] = _with(
    CASES["transformer-encoder"],
    "model.layers.3.multi_head_attention",
    {"num_heads": 2, "key_dim": 3, "dropout": 0.1, "use_causal_mask": True},
)
# The query (a layer_norm's output) read by the three projections and by a residual add,
# with the causal mask and with attention dropout.
for _name, _extra in {"causal": {"use_causal_mask": True}, "dropout": {"dropout": 0.2}}.items():
    _spec = fanout_spec("multi_head_attention")
    for _layer in _spec["model"]["layers"]:
        if "multi_head_attention" in _layer:
            _layer["multi_head_attention"] = {**_layer["multi_head_attention"], **_extra}
    CASES[f"attention-fanout-{_name}"] = _spec
# Class weights (Keras' fit(class_weight=...)): each training example's loss times its class's
# weight, looked up from its label (argmax of one-hot rows, the rounded (N, 1) binary label);
# validation and metrics unweighted. With L2 and dropout so the weighted loss reaches both.
CASES["class-weight-sparse"] = _with(
    _with(DROPOUT_MLP, "train.class_weight", {"1": 3.0, "2": 0.25}), "model.layers.0.dense.l2", 0.01
)
CASES["class-weight-categorical-softmax"] = _with(
    _with(
        _with(BASE, "model.layers.1.dense.activation", "softmax"),
        "train.loss",
        {"type": "categorical_crossentropy"},
    ),
    "train.class_weight",
    [0.5, 2.0, 1.0],
)
CASES["class-weight-binary-balanced"] = _with(
    CASES["loss-binary-sigmoid"], "train.class_weight", "balanced"
)
# Early stopping within the 20 steps: 3 steps an epoch, stopped after epoch 3 (patience 2, best
# epoch 1: measured), the best epoch's weights restored; test_early_stopping.py resumes one.
CASES["early-stopping-restore"] = _with(
    _with(
        _with(DROPOUT_MLP, "data.num_samples", 48),
        "train.optimizer",
        {"type": "adam", "learning_rate": 0.05},
    ),
    "train.early_stopping",
    {"monitor": "val_loss", "patience": 2, "min_delta": 0.01, "restore_best_weights": True},
)
# mode auto -> max for an accuracy, a baseline, warm-up epochs, the last weights kept.
CASES["early-stopping-accuracy-baseline"] = _with(
    CASES["early-stopping-restore"],
    "train.early_stopping",
    {"monitor": "accuracy", "patience": 1, "baseline": 0.6, "start_from_epoch": 1},
)
# Several outputs: one output's validation metric, as Keras names it (val_<output>_<metric>).
CASES["early-stopping-multi-output"] = _with(
    _with(TWO_HEADS, "data.num_samples", 48),
    "train.early_stopping",
    {"monitor": "val_class_accuracy", "patience": 1, "restore_best_weights": True},
)


# Padding masks into attention (ids 0 are padding): Keras ANDs the query's and the value's
# (and a separate key's) masks with the causal one; a fully masked row is uniform on the
# dot-product path and zero on the dropout path; the output carries the query's mask on to
# the residual add, the layer norms and the masked average.
def _masked_attention(layer: dict[str, Any], pool: bool = False) -> dict[str, Any]:
    """Attention on masked token embeddings, then the masked average or (``flatten``, which
    drops the mask) every step, the padding query steps' rows included."""
    return _with(
        BASE,
        "model",
        {
            "inputs": {"ids": {"shape": [6], "dtype": "int32"}},
            "layers": [
                {
                    "name": "tokens",
                    "embedding": {"input_dim": 4, "output_dim": 6, "mask_zero": True},
                },
                layer,
                {"global_avg_pool1d": {}} if pool else {"flatten": {}},
                {"dense": {"units": 3}},
            ],
        },
    )


_MHA = {"num_heads": 2, "key_dim": 3}
CASES |= {
    "mask-attention-self": _masked_attention({"multi_head_attention": _MHA}),
    "mask-attention-causal": _masked_attention(
        {"multi_head_attention": {**_MHA, "use_causal_mask": True}}, pool=True
    ),
    "mask-attention-dropout": _masked_attention(
        {"multi_head_attention": {**_MHA, "dropout": 0.3, "use_causal_mask": True}}
    ),
    "mask-attention-cross-key": _with(
        BASE,
        "model",
        {
            "inputs": {
                "q": {"shape": [5], "dtype": "int32"},
                "s": {"shape": [7], "dtype": "int32"},
            },
            "layers": [
                {
                    "name": "eq",
                    "inputs": "q",
                    "embedding": {"input_dim": 4, "output_dim": 6, "mask_zero": True},
                },
                {
                    "name": "es",
                    "inputs": "s",
                    "embedding": {"input_dim": 3, "output_dim": 5, "mask_zero": True},
                },
                {"name": "keys", "dense": {"units": 4}},  # passes the mask of es on
                {
                    "inputs": ["eq", "es", "keys"],
                    "multi_head_attention": {"num_heads": 2, "key_dim": 3, "dropout": 0.2},
                },
                {"global_avg_pool1d": {}},  # averages the query's kept steps
                {"dense": {"units": 3}},
            ],
        },
    ),
    # An lstm after the attention skips the query's padding steps.
    "mask-attention-lstm": _with(
        _masked_attention({"multi_head_attention": _MHA}),
        "model.layers.2",
        {"lstm": {"units": 4}},
    ),
    # The query unmasked: only the value's padding steps are left out; no mask goes on.
    "mask-attention-cross-value": _with(
        BASE,
        "model",
        {
            "inputs": {"q": {"shape": [4, 6]}, "s": {"shape": [7], "dtype": "int32"}},
            "layers": [
                {
                    "name": "es",
                    "inputs": "s",
                    "embedding": {"input_dim": 3, "output_dim": 5, "mask_zero": True},
                },
                {"inputs": ["q", "es"], "multi_head_attention": {"num_heads": 3, "key_dim": 2}},
                {"flatten": {}},
                {"dense": {"units": 3}},
            ],
        },
    ),
}
# The Transformer encoder block on masked token embeddings. With a position table added,
# Keras loses the mask at that add (position_embedding does not support masking and a merge
# keeps a mask only when every input has one): mask-transformer-positions checks we do too.
_BLOCK = CASES["transformer-encoder"]["model"]["layers"]
CASES["mask-transformer-encoder"] = _with(
    CASES["transformer-encoder"],
    "model.layers",
    [
        {"name": "embedded", "embedding": {"input_dim": 20, "output_dim": 8, "mask_zero": True}},
        *_BLOCK[3:],
    ],
)
CASES["mask-transformer-positions"] = _with(
    CASES["transformer-encoder"],
    "model.layers.0.embedding",
    {"input_dim": 20, "output_dim": 8, "mask_zero": True},
)
if os.environ.get("MODELGEN_EQ_CASES"):  # run a subset while debugging: a,b,c
    CASES = {k: v for k, v in CASES.items() if k in os.environ["MODELGEN_EQ_CASES"].split(",")}
INIT_CASES = sorted(
    c for c in CASES if c.startswith(("kind-", "init-", "dag-", "zoo-", "blocks-", "rnn-"))
)


def _run_jobs(jobs: list[dict[str, Any]], folder: Path) -> None:
    """Run generated programs in one fresh Python process and fail on any error."""
    (folder / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    driver = str(Path(__file__).with_name("run_programs.py"))
    runner_args = [sys.executable, driver, str(folder / "jobs.json"), str(folder / "results.json")]
    subprocess.run(runner_args, check=True, timeout=1500)
    statuses = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    failed = [(j["file"], j["argv"][:2], s[-800:]) for j, s in zip(jobs, statuses) if s != "ok"]
    assert not failed, f"generated programs failed: {failed[:3]}"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build every case for both targets and run them in as few processes as possible:
    deterministic cases share one process; the others (which must not inherit TensorFlow's
    global op-determinism setting) get one of their own."""
    root = tmp_path_factory.mktemp("equivalence")
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, spec in CASES.items():
        folder = root / name
        folder.mkdir()
        spec_path = write_spec(folder, spec)
        group = groups.setdefault(
            "deterministic" if spec.get("runtime", {}).get("deterministic", True) else name, []
        )
        for target in ("keras", "tf"):
            _, code = generate(spec_path, target, folder)
            program = folder / f"train_{target}.py"
            program.write_text(code, encoding="utf-8")
            if name in INIT_CASES:
                init = folder / f"init_{target}.npz"
                group.append(
                    {
                        "file": str(program),
                        "argv": ["--max-steps", "0", "--save-weights", str(init)],
                    }
                )
            group.append(
                {
                    "file": str(program),
                    "argv": [
                        "--max-steps",
                        str(STEPS),
                        "--save-weights",
                        str(folder / f"final_{target}.npz"),
                        "--metrics-out",
                        str(folder / f"metrics_{target}.jsonl"),
                    ],
                }
            )
    # Each batch of programs runs in a fresh process (bounded memory and time), WORKERS at once.
    batches = []
    for index, jobs in enumerate(groups.values()):
        for start in range(0, len(jobs), BATCH):
            batch_folder = root / f"_group{index}_{start}"
            batch_folder.mkdir()
            batches.append((jobs[start : start + BATCH], batch_folder))
    with ThreadPoolExecutor(WORKERS) as pool:
        for done in [pool.submit(_run_jobs, jobs, folder) for jobs, folder in batches]:
            done.result()
    return {name: root / name for name in CASES}


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def _assert_same_weights(keras_path: Path, tf_path: Path, atol: float = 0.0) -> None:
    keras_w, tf_w = _weights(keras_path), _weights(tf_path)
    assert list(keras_w) == list(tf_w), "weight names or order differ"
    for name in keras_w:
        assert keras_w[name].shape == tf_w[name].shape, name
        diff = np.abs(keras_w[name] - tf_w[name]).max(initial=0.0)
        assert diff <= atol, f"{name}: max |keras - tf| = {diff:g}"


@pytest.mark.parametrize("case", INIT_CASES)
def test_initial_weights_are_identical(results: dict[str, Path], case: str) -> None:
    folder = results[case]
    _assert_same_weights(folder / "init_keras.npz", folder / "init_tf.npz")
    assert _weights(folder / "init_tf.npz"), "the model has no weights to compare"


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_is_identical(results: dict[str, Path], case: str) -> None:
    folder = results[case]
    records = {}
    for target in ("keras", "tf"):
        lines = (folder / f"metrics_{target}.jsonl").read_text(encoding="utf-8").splitlines()
        records[target] = [json.loads(line) for line in lines]
    steps = {t: [r for r in records[t] if r["event"] == "step"] for t in records}
    assert [r["step"] for r in steps["keras"]] == [r["step"] for r in steps["tf"]]
    stops = {t: [r for r in records[t] if r["event"] == "early_stop"] for t in records}
    assert stops["keras"] == stops["tf"]
    # A call of several steps is not cut short; only early stopping ends a run sooner.
    assert steps["tf"][-1]["step"] >= STEPS or stops["tf"]
    for k, t in zip(steps["keras"], steps["tf"]):
        assert set(k) == set(t)
        for metric in set(k) - {"event", "step", "step_seconds"}:
            if case in TOLERANCE:
                assert abs(k["loss"] - t["loss"]) <= TOLERANCE[case], f"step {k['step']}"
                continue
            assert k[metric] == t[metric], (
                f"step {k['step']}: {metric} {k[metric]!r} != {t[metric]!r}"
            )
    epochs = {t: [r for r in records[t] if r["event"] == "epoch"] for t in records}
    assert len(epochs["keras"]) == len(epochs["tf"]) >= 1
    for k, t in zip(epochs["keras"], epochs["tf"]):
        assert set(k) == set(t)
        for name in set(k) - {"seconds", "event", "epoch"}:
            assert abs(k[name] - t[name]) <= TOLERANCE.get(case, 0.0), f"epoch {name}"
    _assert_same_weights(
        folder / "final_keras.npz", folder / "final_tf.npz", TOLERANCE.get(case, 0.0)
    )
    losses = [record["loss"] for record in steps["tf"]]
    assert all(np.isfinite(losses)) and len(set(losses)) > 1, "the run did not train"


@pytest.mark.parametrize("case", sorted(CASES))
def test_tf_target_uses_no_keras(results: dict[str, Path], case: str) -> None:
    """The low-level target may not call Keras layers, losses or optimizers."""
    tree = ast.parse((results[case] / "train_tf.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Attribute) and node.attr == "keras":
            pytest.fail(f"tf target uses tf.keras at line {node.lineno}")
    assert "keras" not in imported
    assert imported <= {
        "argparse",
        "contextlib",
        "glob",
        "threading",
        "json",
        "math",
        "os",
        "random",
        "resource",
        "sys",
        "time",
        "pathlib",
        "numpy",
        "tensorflow",
    }
