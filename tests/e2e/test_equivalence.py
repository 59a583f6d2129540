"""The core promise: the keras and tf targets of one spec are numerically identical.

For every layer kind (from the registry), activation, initializer, loss, optimizer, schedule and
clipping mode, both generated programs run 20 training steps on the same seeded data (shuffled,
with dropout and a validation split) and must agree exactly: every step's loss and metrics, the
epoch metrics and every final weight. Initial weights must be identical for every layer kind.

To keep CI fast, all programs run in one Python process (tests/e2e/run_programs.py), which
saves TensorFlow's start-up per program; tests/e2e/test_cli_e2e.py runs generated files as
separate processes the way a user does.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelgen.build import generate
from modelgen.layers import REGISTRY
from tests.specs import base_spec, fanout_spec, kind_spec, write_spec

pytestmark = pytest.mark.slow
STEPS = 20


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
CASES |= {
    f"activation-{a}": _activation(a) for a in ("gelu", "sigmoid", "tanh", "silu", "leaky_relu")
}
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
#: Cases measured not bit-identical, with what was measured; expected to fail (strictly: the
#: test reports when one becomes exact). Both differ only with Grappler's arithmetic
#: optimizer on, which rewrites the two graphs differently (see docs/equivalence.md).
KNOWN_INEXACT = {
    "transformer-encoder": "dot-product attention without a mask in the block: 1.9e-6 "
    "after 20 steps (exact with the causal mask or with attention dropout)",
    "fanout-position_embedding": "position table read by three layers: 3.0e-8 after 20 steps",
    "fanout-multi_head_attention": "unmasked dot-product attention whose query is also read by "
    "an add: 9.2e-5 after 20 steps (exact with the causal mask or attention dropout)",
}
if os.environ.get("MODELGEN_EQ_CASES"):  # run a subset while debugging: a,b,c
    CASES = {k: v for k, v in CASES.items() if k in os.environ["MODELGEN_EQ_CASES"].split(",")}
INIT_CASES = sorted(c for c in CASES if c.startswith(("kind-", "fanout-", "init-", "dag-")))


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
    for index, jobs in enumerate(groups.values()):
        group_folder = root / f"_group{index}"
        group_folder.mkdir()
        _run_jobs(jobs, group_folder)
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


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_INEXACT[c]))
        if c in KNOWN_INEXACT
        else c
        for c in sorted(CASES)
    ],
)
def test_training_is_identical(results: dict[str, Path], case: str) -> None:
    folder = results[case]
    records = {}
    for target in ("keras", "tf"):
        lines = (folder / f"metrics_{target}.jsonl").read_text(encoding="utf-8").splitlines()
        records[target] = [json.loads(line) for line in lines]
    steps = {t: [r for r in records[t] if r["event"] == "step"] for t in records}
    assert [r["step"] for r in steps["keras"]] == [r["step"] for r in steps["tf"]]
    assert steps["tf"][-1]["step"] >= STEPS  # a call of several steps is not cut short
    for k, t in zip(steps["keras"], steps["tf"]):
        assert set(k) == set(t)
        for metric in CASES[case]["train"]["metrics"] + ["loss"]:
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
