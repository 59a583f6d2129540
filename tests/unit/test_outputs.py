"""Several named outputs: what lowering decides (order, names, loss plans), that a one-output
spec written the new way generates the same program as before, and the data checks that
`validate` runs on one label array per output."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from modelgen.build import OUTPUT_MARK, generate
from modelgen.errors import SpecError
from modelgen.graph import compile_file
from tests.specs import base_spec


def two_heads(**train: Any) -> dict[str, Any]:
    spec = base_spec(name="two_heads")
    spec["model"]["layers"] = [
        {"dense": {"units": 8, "activation": "relu"}, "name": "trunk"},
        {"dense": {"units": 3, "activation": "softmax"}, "name": "zclass", "inputs": "trunk"},
        {"dense": {"units": 2}, "name": "box", "inputs": "trunk"},
    ]
    spec["model"]["outputs"] = ["zclass", "box"]
    spec["train"]["loss"] = {
        "zclass": {"type": "sparse_categorical_crossentropy"},
        "box": {"type": "huber", "delta": 2.0},
    }
    spec["train"]["metrics"] = {"zclass": ["accuracy"], "box": ["mae", "mse"]}
    spec["train"] |= train
    return spec


def lowered(tmp_path: Path, spec: dict[str, Any], name: str = "spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return compile_file(path)


def test_outputs_are_planned_in_the_spec_s_order_and_layers_in_keras_order(tmp_path):
    g = lowered(tmp_path, two_heads(loss_weights={"box": 0.5}))
    assert g.multi and [o.name for o in g.outputs] == ["zclass", "box"]
    assert [(p.output, p.type, p.weight) for p in g.losses] == [
        ("zclass", "sparse_categorical_crossentropy", 1.0),  # a weight left out is 1.0
        ("box", "huber", 0.5),
    ]
    assert g.losses[0].on_logits and g.losses[0].classes == 3 and g.losses[1].delta == 2.0
    # Keras walks a dict of outputs in sorted name order: box's layers before zclass's.
    assert [n.name for n in g.nodes] == ["trunk", "box", "zclass"]
    assert g.metric_names == (
        "box_loss", "box_mae", "box_mse", "loss", "zclass_accuracy", "zclass_loss"
    )  # fmt: skip
    assert g.logits_name(g.outputs[0]) == "zclass_logits"
    assert g.logits_name(g.outputs[1]) is None


def test_without_loss_weights_keras_multiplies_by_nothing(tmp_path):
    g = lowered(tmp_path, two_heads())
    assert [p.weight for p in g.losses] == [None, None]
    tf_code = generate(tmp_path / "spec.yaml", "tf", tmp_path)[1]
    assert 'return sum([losses["zclass"], losses["box"]]), losses' in tf_code
    keras_code = generate(tmp_path / "spec.yaml", "keras", tmp_path)[1]
    assert "loss_weights" not in keras_code
    assert 'outputs = {"zclass": zclass, "box": box}' in keras_code


def test_a_single_output_written_as_a_mapping_builds_the_same_program(tmp_path):
    plain = base_spec()
    mapped = copy.deepcopy(plain)
    mapped["model"]["layers"][-1]["name"] = "head"
    plain["model"]["layers"][-1]["name"] = "head"
    mapped["model"]["outputs"] = ["head"]
    mapped["train"]["loss"] = {"head": plain["train"]["loss"]}
    mapped["train"]["metrics"] = {"head": ["accuracy"]}
    programs = []
    for name, spec in (("plain.yaml", plain), ("mapped.yaml", mapped)):
        g = lowered(tmp_path, spec, name)
        assert not g.multi and g.metric_names == ("loss", "accuracy")
        for target in ("keras", "tf"):
            code = generate(tmp_path / name, target, tmp_path)[1]
            code = code.partition(OUTPUT_MARK)[0]  # the mark hashes the whole file
            programs.append(code.replace(g.spec_sha256, "SHA").replace(name, "SPEC"))
    assert programs[0] == programs[2] and programs[1] == programs[3]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loss": {"zclass": {"type": "mse"}}}, "the output 'box' has no loss"),
        ({"metrics": ["mae"]}, "with several outputs, give the metrics per output"),
        (
            {"metrics": {"box": ["accuracy"]}},
            "metric 'accuracy' needs a crossentropy loss (the output 'box' has huber)",
        ),
        ({"loss_weights": {"trunk": 2.0}}, "train.loss_weights names 'trunk', which is not"),
    ],
)
def test_per_output_mistakes_are_located(tmp_path, change, message):
    with pytest.raises(SpecError) as caught:
        lowered(tmp_path, two_heads(**change))
    assert any(message in d.message for d in caught.value.diagnostics)


def test_an_output_named_like_a_validation_metric_is_refused(tmp_path):
    spec = two_heads()
    spec["model"]["layers"][2]["name"] = "val_box"
    spec["model"]["outputs"] = ["zclass", "val_box"]
    spec["train"]["loss"]["val_box"] = spec["train"]["loss"].pop("box")
    spec["train"]["metrics"] = {}
    with pytest.raises(SpecError) as caught:
        lowered(tmp_path, spec)
    assert "reads as a validation metric" in str(caught.value)


def npz_spec(tmp_path: Path, **arrays: np.ndarray) -> Path:
    np.savez(tmp_path / "data.npz", **arrays)
    spec = two_heads()
    spec["data"] = {"source": "npz", "path": "data.npz", "labels": {"zclass": "y", "box": "b"}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_validate_checks_every_output_s_label_array(tmp_path):
    x = np.zeros((10, 6), "float32")
    good = npz_spec(tmp_path, x=x, y=np.arange(10) % 3, b=np.zeros((10, 2), "float32"))
    assert compile_file(good).labels == {"zclass": "y", "box": "b"}
    cases = {
        "has no array 'b'": {"x": x, "y": np.arange(10) % 3},
        "labels 'b' (output 'box') in": {"x": x, "y": np.zeros(10), "b": np.zeros((10, 3))},
        "'b' has 9 rows but 'y' has 10": {"x": x, "y": np.zeros(10), "b": np.zeros((9, 2))},
        "array 'y' holds 3 at index 3, outside the class ids [0, 3)": {
            "x": x,
            "y": np.arange(10),
            "b": np.zeros((10, 2)),
        },
    }
    for message, arrays in cases.items():
        with pytest.raises(SpecError) as caught:
            compile_file(npz_spec(tmp_path, **arrays))
        assert message in str(caught.value), str(caught.value)


def test_the_json_summary_lists_every_output(tmp_path):
    from modelgen.summary import summary_json

    g = lowered(tmp_path, two_heads(loss_weights={"box": 0.5}))
    assert summary_json(g)["outputs"] == [
        {"layer": "zclass", "loss": "sparse_categorical_crossentropy", "loss_weight": 1.0,
         "metrics": ["accuracy"]},
        {"layer": "box", "loss": "huber", "loss_weight": 0.5, "metrics": ["mae", "mse"]},
    ]  # fmt: skip
