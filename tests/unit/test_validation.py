"""Schema and graph checks: every problem reported at its line, with what would be right."""

from __future__ import annotations

import textwrap

import pytest

from modelgen._yaml import load_yaml
from modelgen.errors import SpecError
from modelgen.graph import Graph, lower
from modelgen.schema import validate_document

HEADER = """\
name: t
data: {source: synthetic}
train:
  loss: {type: sparse_categorical_crossentropy, from_logits: true}
"""


def compile_text(text: str) -> Graph:
    doc = load_yaml(textwrap.dedent(text), "s.yaml")
    return lower(validate_document(doc), doc)


def errors(text: str) -> str:
    with pytest.raises(SpecError) as info:
        compile_text(text)
    return info.value.format()


def model(layers: str, inputs: str = "x: {shape: [8, 8, 1]}") -> str:
    return (
        HEADER
        + "model:\n  inputs: {"
        + inputs
        + "}\n  layers:\n"
        + textwrap.indent(textwrap.dedent(layers), "    ")
    )


def test_shapes_and_parameter_counts_are_inferred():
    g = compile_text(
        model("""\
        - conv2d: {filters: 4, kernel_size: 3}
        - max_pool2d: {}
        - flatten: {}
        - dense: {units: 10}
    """)
    )
    assert [(n.name, n.shape, n.param_count) for n in g.nodes] == [
        ("conv2d", (6, 6, 4), 40),
        ("max_pool2d", (3, 3, 4), 0),
        ("flatten", (36,), 0),
        ("dense", (10,), 370),
    ]
    assert g.total_params == 410


def test_unknown_field_suggests_the_right_one():
    message = errors(
        model("- conv2d: {filter: 4, kernel_size: 3}\n- flatten: {}\n- dense: {units: 10}")
    )
    assert "s.yaml:8:16: error: model.layers[0].conv2d: unknown field 'filter'" in message
    assert "did you mean 'filters'?" in message
    assert "missing required field 'filters'" in message  # several errors reported together


def test_unknown_layer_kind_suggests_a_known_one():
    message = errors(model("- conv2dd: {filters: 4}\n- dense: {units: 10}"))
    assert "s.yaml:8:7: error: model.layers[0]: unknown layer kind 'conv2dd'" in message
    assert "did you mean 'conv2d'?" in message


def test_wrong_types_and_ranges_are_reported_with_the_value():
    message = errors(model("- flatten: {}\n- dense: {units: '10'}\n- dropout: {rate: 1.5}"))
    assert (
        "s.yaml:9:22: error: model.layers[1].dense.units: input should be a valid integer, got '10'"
        in message
    )
    assert "model.layers[2].dropout.rate: input should be less than 1, got 1.5" in message


def test_huge_sizes_are_refused_before_any_memory_is_taken():
    message = errors(model("- flatten: {}\n- dense: {units: 1000000000000}"))
    assert "less than or equal to 1000000" in message


def test_dense_after_conv_without_flatten_names_both_shapes():
    message = errors(model("- conv2d: {filters: 4, kernel_size: 3}\n- dense: {units: 10}"))
    assert (
        "s.yaml:9:7: error: layer 'dense' (dense) cannot take input of shape [6, 6, 4]" in message
    )
    assert "flatten" in message


def test_undefined_inputs_cycles_and_unused_layers():
    message = errors(
        model("""\
        - {name: a, dense: {units: 4}, inputs: [flat]}
        - {name: flat, flatten: {}, inputs: [x]}
        - {name: b, dense: {units: 4}, inputs: [flatt]}
        - {name: out, dense: {units: 10}, inputs: [a]}
    """)
    )
    assert "layer 'b' takes input 'flatt', which is not defined" in message
    assert "did you mean 'flat'?" in message
    cyc = errors(
        model(
            """\
        - {name: a, dense: {units: 4}, inputs: [b]}
        - {name: b, dense: {units: 4}, inputs: [a]}
    """,
            "x: {shape: [4]}",
        )
    )
    assert "the layers form a cycle through a, b" in cyc
    unused = errors(
        model(
            """\
        - {name: side, dense: {units: 4}, inputs: x}
        - {name: out, dense: {units: 10}, inputs: [x]}
    """,
            "x: {shape: [4]}, unused: {shape: [2]}",
        )
    )
    assert "layer 'side' does not lead to the output 'out'" in unused
    assert "model input 'unused' is never used" in unused


def test_names_are_checked():
    message = errors(
        model("""\
        - {name: tf, flatten: {}}
        - {name: d, dense: {units: 10}}
        - {name: d, dense: {units: 10}}
    """)
    )
    assert "'tf'" not in message  # any name is fine: the generated code renames its variable
    assert "name 'd' is already used by layer 1" in message
    bad = errors(model("- {name: 'a b', flatten: {}}\n- dense: {units: 10}"))
    assert "'a b' is not a valid name" in bad


def test_automatic_names_follow_keras():
    g = compile_text(
        model(
            "- flatten: {}\n- dense: {units: 4}\n- {name: dense_1, dense: {units: 4}}"
            "\n- dense: {units: 10}"
        )
    )
    assert [n.name for n in g.nodes] == ["flatten", "dense", "dense_1", "dense_2"]


@pytest.mark.parametrize(
    ("loss", "last", "expected"),
    [
        (
            "{type: sparse_categorical_crossentropy, from_logits: true}",
            "{units: 10, activation: softmax}",
            "from_logits: true but the output 'dense' ends in softmax",
        ),
        (
            "{type: sparse_categorical_crossentropy}",
            "{units: 10}",
            "from_logits: false but the output 'dense' ends in linear",
        ),
        ("{type: binary_crossentropy}", "{units: 1, activation: softmax}", "ends in softmax"),
        (
            "{type: sparse_categorical_crossentropy, from_logits: true}",
            "{units: 1}",
            "needs an output with a class axis",
        ),
    ],
)
def test_loss_and_output_must_agree(loss: str, last: str, expected: str):
    text = model(f"- flatten: {{}}\n- dense: {last}").replace(
        "{type: sparse_categorical_crossentropy, from_logits: true}", loss
    )
    assert expected in errors(text)


def test_num_classes_and_metrics_are_checked_against_the_output():
    text = model("- flatten: {}\n- dense: {units: 9}").replace(
        "{source: synthetic}", "{source: synthetic, num_classes: 10}"
    )
    assert "the output 'dense' has 9 classes but data.num_classes is 10" in errors(text)
    text = model("- flatten: {}\n- dense: {units: 1}").replace(
        "{type: sparse_categorical_crossentropy, from_logits: true}",
        "{type: mse}\n  metrics: [accuracy]",
    )
    assert "metric 'accuracy' needs a crossentropy loss" in errors(text)


def test_optimizer_and_data_errors():
    text = model("- flatten: {}\n- dense: {units: 10}").replace(
        "train:\n", "train:\n  optimizer: {type: adamm, learning_rate: 0.1}\n"
    )
    message = errors(text)
    assert (
        "train.optimizer.type: unknown type 'adamm'" in message
        and "did you mean 'adam'?" in message
    )
    text = model("- flatten: {}\n- dense: {units: 10}").replace(
        "train:\n", "train:\n  optimizer: {type: sgd, clipnorm: 1.0, global_clipnorm: 1.0}\n"
    )
    assert "give at most one of clipnorm, global_clipnorm, clipvalue" in errors(text)
    text = model("- flatten: {}\n- dense: {units: 10}").replace(
        "{source: synthetic}", "{source: npz, path: nowhere.npz}"
    )
    assert "data file not found" in errors(text)


def test_embedding_needs_integer_ids_and_dense_needs_floats():
    message = errors(
        model(
            "- embedding: {input_dim: 5, output_dim: 2}\n- flatten: {}\n- dense: {units: 10}",
            "x: {shape: [4]}",
        )
    )
    assert "layer 'embedding' (embedding) needs int32 input, got float32" in message
    message = errors(model("- dense: {units: 10}", "x: {shape: [4], dtype: int32}"))
    assert "needs float32 input, got int32" in message
