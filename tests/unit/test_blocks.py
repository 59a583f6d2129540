"""Reusable blocks: expansion, names, wiring, parameters, and errors located at both lines."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from modelgen.errors import SpecError
from modelgen.graph import Graph, compile_file
from modelgen.summary import summary

HEADER = """\
name: t
data: {source: synthetic, num_samples: 8, batch_size: 4}
train:
  loss: {type: sparse_categorical_crossentropy, from_logits: true}
"""

BOTTLENECK = """\
blocks:
  bottleneck:
    params:
      filters: null
      expanded: null
      stride: 1
    inputs: [x]
    layers:
      - {name: conv1, conv2d: {filters: $filters, kernel_size: 1, strides: $stride}}
      - {name: bn1, batch_norm: {}}
      - {name: relu1, activation: {activation: relu}}
      - {name: conv2, conv2d: {filters: $expanded, kernel_size: 1}}
      - {name: shortcut, inputs: x, conv2d: {filters: $expanded, kernel_size: 1, strides: $stride}}
      - {name: out, add: {}, inputs: [conv2, shortcut]}
    output: out
"""


def compile_text(tmp_path: Path, text: str, blocks: str = "") -> Graph:
    path = tmp_path / "spec.yaml"
    path.write_text(HEADER + blocks + textwrap.dedent(text), encoding="utf-8")
    return compile_file(path)


def errors(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as info:
        compile_text(tmp_path, text)
    return info.value.format().replace(str(tmp_path / "spec.yaml"), "spec.yaml")


def test_the_issue_example_expands_with_readable_names(tmp_path):
    g = compile_text(
        tmp_path,
        blocks=BOTTLENECK,
        text="""\
        model:
          inputs: {image: {shape: [32, 32, 3]}}
          layers:
            - {name: stem, conv2d: {filters: 8, kernel_size: 3}}
            - {name: stage2_block1, block: bottleneck, with: {filters: 4, expanded: 16, stride: 2}}
            - {name: stage2_block, block: bottleneck, with: {filters: 4, expanded: 16}, repeat: 2}
            - {global_avg_pool2d: {}}
            - {dense: {units: 10}}
        """,
    )
    lines = summary(g).splitlines()
    assert "Blocks: 3 instances, 18 of the 21 layers" in lines
    assert "  stage2_block1  bottleneck  line 24  6 layers  276 params" in lines
    assert "  stage2_block3  bottleneck  line 25  6 layers  436 params" in lines
    by_name = {n.name: n for n in g.nodes}
    # repeat numbers on after the stage2_block1 that the list already holds
    for i in (1, 2, 3):
        for layer in ("conv1", "bn1", "relu1", "conv2", "shortcut", "out"):
            assert f"stage2_block{i}_{layer}" in by_name
    assert len(g.nodes) == 1 + 3 * 6 + 2
    assert by_name["stage2_block1_conv1"].inputs == ["stem"]
    assert by_name["stage2_block1_shortcut"].inputs == ["stem"]  # the block input x
    assert by_name["stage2_block1_out"].inputs == ["stage2_block1_conv2", "stage2_block1_shortcut"]
    assert by_name["stage2_block2_conv1"].inputs == ["stage2_block1_out"]  # chained
    assert by_name["stage2_block3_conv1"].inputs == ["stage2_block2_out"]
    assert by_name["global_avg_pool2d"].inputs == ["stage2_block3_out"]  # the use's output
    # $stride -> 2 in the first use, the default 1 after; $filters keeps its int type
    assert by_name["stage2_block1_conv1"].params.strides == 2
    assert by_name["stage2_block2_conv1"].params.strides == 1
    assert by_name["stage2_block1_conv1"].shape == (15, 15, 4)
    assert by_name["stage2_block3_out"].shape == (15, 15, 16)


def test_defaults_nesting_and_references_by_use_name(tmp_path):
    g = compile_text(
        tmp_path,
        """\
        blocks:
          se:
            params: {units: null}
            layers:
              - dense: {units: $units, activation: relu}
              - dense: {units: 4}
              - {name: scale, add: {}, inputs: [x, dense_1]}
          unit:
            params: {width: 4}
            layers:
              - {name: fc, dense: {units: $width}}
              - {name: se, block: se, with: {units: $width}}
        model:
          inputs: {x: {shape: [4]}}
          layers:
            - block: unit
            - block: unit
            - {name: skip, add: {}, inputs: [unit, unit_1]}
            - dense: {units: 3}
          output: dense
        """,
    )
    names = [n.name for n in sorted(g.nodes, key=lambda n: n.path)]
    assert names == [
        "unit_fc",
        "unit_se_dense",
        "unit_se_dense_1",
        "unit_se_scale",
        "unit_1_fc",
        "unit_1_se_dense",
        "unit_1_se_dense_1",
        "unit_1_se_scale",
        "skip",
        "dense",
    ]
    by_name = {n.name: n for n in g.nodes}
    assert by_name["unit_se_dense"].inputs == ["unit_fc"]
    assert by_name["unit_se_scale"].inputs == ["unit_fc", "unit_se_dense_1"]
    assert by_name["unit_1_fc"].inputs == ["unit_se_scale"]  # a use's output: its last layer
    assert by_name["skip"].inputs == ["unit_se_scale", "unit_1_se_scale"]


def test_model_output_and_forward_references_name_a_use(tmp_path):
    g = compile_text(
        tmp_path,
        """\
        blocks:
          head: {layers: [{dense: {units: 4}}, {name: logits, dense: {units: 3}}]}
        model:
          inputs: {x: {shape: [4]}}
          layers:
            - {name: pre, dense: {units: 4}}
            - {name: h, block: head, inputs: pre}
          output: h
        """,
    )
    assert g.output.name == "h_logits"


def test_a_list_value_substitutes_whole(tmp_path):
    g = compile_text(
        tmp_path,
        """\
        blocks:
          c:
            params: {k: [3, 1]}
            layers: [{conv2d: {filters: 2, kernel_size: $k, padding: same}}]
        model:
          inputs: {x: {shape: [6, 6, 1]}}
          layers:
            - {block: c, with: {k: [1, 3]}}
            - {block: c}
            - flatten: {}
            - dense: {units: 3}
        """,
    )
    by_name = {n.name: n for n in g.nodes}
    assert by_name["c_conv2d"].params.kernel_size == [1, 3]
    assert by_name["c_1_conv2d"].params.kernel_size == [3, 1]


ONE_INPUT = "model:\n  inputs: {x: {shape: [4]}}\n  layers:\n"


BAD_VALUE = """\
blocks:
  res:
    params: {units: null}
    layers:
      - {name: fc, dense: {units: $units}}
      - {name: out, add: {}, inputs: [x, fc]}
model:
  inputs: {x: {shape: [4]}}
  layers:
    - {name: a, block: res, with: {units: 4}}
    - {name: b, block: res, with: {units: 4}}
    - {name: c, block: res, with: {units: -1}}
"""


def test_errors_name_the_block_line_and_the_use_line(tmp_path):
    text = errors(
        tmp_path,
        """\
        blocks:
          res:
            params: {units: null}
            layers:
              - {name: fc, dense: {units: $units}}
              - {name: out, add: {}, inputs: [x, fc]}
        model:
          inputs: {x: {shape: [4]}}
          layers:
            - {name: a, block: res, with: {units: 4}}
            - {name: b, block: res, with: {units: 5}}
        """,
    )
    assert (
        "spec.yaml:10:21: error: layer 'b_out' (add) cannot take input of shape [4] and [5]: "
        "needs inputs of one shape, got [4], [5] (in block 'res' used at spec.yaml:15:7)"
    ) in text.splitlines()
    text = errors(tmp_path, BAD_VALUE)
    assert (
        "spec.yaml:9:35: error: blocks.res.layers[0].dense.units: input should be greater than 0,"
        " got -1 (in block 'res' used at spec.yaml:16:7)"
    ) in text.splitlines()


@pytest.mark.parametrize(
    ("layers", "blocks", "expected"),
    [
        (
            "    - {block: res, with: {units: 3, width: 2}}\n",
            "blocks:\n  res: {params: {units: 4}, layers: [{dense: {units: $units}}]}\n",
            "block 'res' has no parameter 'width'",
        ),
        (
            "    - {block: res}\n",
            "blocks:\n  res: {params: {units: null}, layers: [{dense: {units: $units}}]}\n",
            "block 'res' needs parameter 'units' (it has no default)",
        ),
        (
            "    - {block: rs}\n",
            "blocks:\n  res: {layers: [{dense: {units: 3}}]}\n",
            "unknown block 'rs'",
        ),
        (
            "    - {block: res}\n",
            "blocks:\n  res: {params: {n: 3}, layers: [{dense: {units: $m}}]}\n",
            "'$m' is not a parameter of block 'res'",
        ),
        (
            "    - {block: two}\n",
            "blocks:\n  two: {inputs: [a, b], layers: [{add: {}, inputs: [a, b]}]}\n",
            "block 'two' takes 2 input(s) (a, b), its use 'two' gives 1",
        ),
        (
            "    - {block: two, inputs: [x, x], repeat: 2}\n",
            "blocks:\n  two: {inputs: [a, b], layers: [{add: {}, inputs: [a, b]}]}\n",
            "block 'two' takes 2 inputs, so its instances cannot be chained with repeat",
        ),
        (
            "    - {block: a}\n",
            "blocks:\n  a: {layers: [{block: b}]}\n  b: {layers: [{block: a}]}\n",
            "block 'a' uses itself (through a -> b -> a)",
        ),
        (
            "    - {block: a}\n",
            "blocks:\n  a: {layers: [{dense: {units: 3}}], output: y}\n",
            "the output 'y' of block 'a' is not one of its layers",
        ),
        (
            "    - {block: a}\n    - {name: a_dense, dense: {units: 3}}\n",
            "blocks:\n  a: {layers: [{dense: {units: 3}}]}\n",
            "layer name 'a_dense' is already used by layer 'dense' in block 'a' used at",
        ),
        (
            "    - {block: a, repeat: 2}\n",
            "blocks:\n  a: {layers: [{block: c, repeat: $n}]}\n"
            "  c: {layers: [{dense: {units: 3}}]}\n",
            "'$n' is not a parameter of block 'a'",
        ),
    ],
)
def test_block_misuse_is_a_located_error(tmp_path, layers, blocks, expected):
    text = errors(tmp_path, blocks + ONE_INPUT + layers)
    assert expected in text
    assert "spec.yaml:" in text.splitlines()[0]


def test_an_expansion_too_large_is_refused(tmp_path):
    text = errors(
        tmp_path,
        "blocks:\n"
        "  a: {layers: [{dense: {units: 2}}, {dense: {units: 2}}]}\n"
        "  b: {layers: [{block: a, repeat: 1000}]}\n"
        + ONE_INPUT
        + "    - {block: b, repeat: 1000}\n",
    )
    assert "the blocks expand to more than 10000 layers" in text


def _resnet50() -> str:
    """ResNet50 (Keras Applications' layer structure without zero padding) written with blocks."""
    stages = [(64, 256, 3, 1), (128, 512, 4, 2), (256, 1024, 6, 2), (512, 2048, 3, 2)]
    layers = [
        "    - {name: conv1_conv, conv2d: {filters: 64, kernel_size: 7, strides: 2, "
        "padding: same}}",
        "    - {name: conv1_bn, batch_norm: {epsilon: 1.001e-5}}",
        "    - {name: conv1_relu, activation: {activation: relu}}",
        "    - {name: pool1, max_pool2d: {pool_size: 3, strides: 2, padding: same}}",
    ]
    for s, (f, e, n, stride) in enumerate(stages, start=2):
        layers.append(
            f"    - {{name: conv{s}_block1, block: first, with: {{f: {f}, e: {e}, s: {stride}}}}}"
        )
        layers.append(
            f"    - {{name: conv{s}_block, block: identity, with: {{f: {f}, e: {e}}}, "
            f"repeat: {n - 1}}}"
        )
    layers += ["    - {global_avg_pool2d: {}}", "    - {dense: {units: 1000}}"]
    body = """\
      - {name: c1, conv2d: {filters: $f, kernel_size: 1, strides: $s}}
      - {name: b1, batch_norm: {epsilon: 1.001e-5}}
      - {name: r1, activation: {activation: relu}}
      - {name: c2, conv2d: {filters: $f, kernel_size: 3, padding: same}}
      - {name: b2, batch_norm: {epsilon: 1.001e-5}}
      - {name: r2, activation: {activation: relu}}
      - {name: c3, conv2d: {filters: $e, kernel_size: 1}}
      - {name: b3, batch_norm: {epsilon: 1.001e-5}}
"""
    return (
        "blocks:\n  first:\n    params: {f: null, e: null, s: 1}\n    layers:\n"
        + body
        + "      - {name: sc, inputs: x, conv2d: {filters: $e, kernel_size: 1, strides: $s}}\n"
        "      - {name: scbn, batch_norm: {epsilon: 1.001e-5}}\n"
        "      - {name: add, add: {}, inputs: [b3, scbn]}\n"
        "      - {name: out, activation: {activation: relu}}\n"
        "  identity:\n    params: {f: null, e: null, s: 1}\n    layers:\n"
        + body
        + "      - {name: add, add: {}, inputs: [b3, x]}\n"
        "      - {name: out, activation: {activation: relu}}\n"
        "model:\n  inputs: {image: {shape: [224, 224, 3]}}\n  layers:\n" + "\n".join(layers) + "\n"
    )


def test_resnet50_with_blocks_validates_fast_with_keras_parameter_count(tmp_path):
    compile_text(tmp_path, _resnet50())  # warm: imports, pydantic's first validations
    start = time.perf_counter()
    g = compile_text(tmp_path, _resnet50())
    seconds = time.perf_counter() - start
    assert len(g.nodes) == 174  # Keras' 177 layers less the input and two zero paddings
    # keras.applications.ResNet50(weights=None).count_params() (its zero padding has no weights)
    assert g.total_params == 25_636_712
    assert "conv5_block3_out" in {n.name for n in g.nodes}
    assert seconds < 0.5, f"{seconds:.3f} s"


def test_both_targets_name_the_expanded_layers(tmp_path):
    from modelgen.build import generate

    path = tmp_path / "spec.yaml"
    path.write_text(
        HEADER
        + BOTTLENECK
        + textwrap.dedent("""\
        model:
          inputs: {image: {shape: [8, 8, 3]}}
          layers:
            - {name: stage2_block1, block: bottleneck, with: {filters: 2, expanded: 4}}
            - {global_avg_pool2d: {}}
            - {dense: {units: 3}}
        """),
        encoding="utf-8",
    )
    _, keras_code = generate(path, "keras")
    _, tf_code = generate(path, "tf")
    assert 'name="stage2_block1_conv1"' in keras_code
    assert 'tf.name_scope("stage2_block1_conv1")' in tf_code
    assert 'w["stage2_block1_shortcut/kernel"]' in tf_code


def test_deeply_nested_blocks_are_refused_without_a_traceback(tmp_path):
    chain = "".join(f"  b{i}: {{layers: [{{block: b{i + 1}}}]}}\n" for i in range(200))
    text = errors(
        tmp_path,
        "blocks:\n" + chain + "  b200: {layers: [{dense: {units: 3}}]}\n"
        "model:\n  inputs: {x: {shape: [4]}}\n  layers:\n    - {block: b0}\n",
    )
    assert "blocks nest more than 16 deep here (b0 -> b1 -> b2 -> ... -> b16)" in text


def test_a_block_named_by_a_parameter_cannot_recurse(tmp_path):
    text = errors(
        tmp_path,
        "blocks:\n  a: {params: {inner: a}, layers: [{dense: {units: 3}}, {block: $inner}]}\n"
        + ONE_INPUT
        + "    - {block: a}\n",
    )
    assert "block 'a' uses itself (in block 'a' used at spec.yaml:" in text


def test_long_list_parameters_repeated_are_bounded(tmp_path):
    shape = "[" + ", ".join(["1"] * 2000) + "]"
    start = time.perf_counter()
    text = errors(
        tmp_path,
        "blocks:\n  a:\n    params: {s: null}\n    layers: [{reshape: {target_shape: $s}}]\n"
        "  b: {params: {s: null}, layers: [{block: a, with: {s: $s}, repeat: 1000}]}\n"
        + ONE_INPUT
        + f"    - {{block: b, with: {{s: {shape}}}}}\n",
    )
    assert "the blocks expand to more than 200000 values" in text
    assert time.perf_counter() - start < 5


def test_a_nested_use_is_checked_after_substitution(tmp_path):
    text = errors(
        tmp_path,
        "blocks:\n"
        "  a: {params: {n: 2}, layers: [{block: c, repeat: $n}]}\n"
        "  c: {layers: [{dense: {units: 3}}]}\n" + ONE_INPUT + "    - {block: a, with: {n: 0}}\n",
    )
    assert (
        "spec.yaml:6:51: error: blocks.a.layers[0].repeat: input should be greater than or equal"
        " to 1, got 0 (in block 'a' used at spec.yaml:11:7)"
    ) in text.splitlines()
    g = compile_text(
        tmp_path,
        "blocks:\n"
        "  a: {params: {n: 2}, layers: [{block: c, repeat: $n}]}\n"
        "  c: {layers: [{dense: {units: 3}}]}\n" + ONE_INPUT + "    - {block: a, with: {n: 3}}\n",
    )
    assert [n.name for n in g.nodes] == ["a_c1_dense", "a_c2_dense", "a_c3_dense"]


def test_names_in_a_block_may_start_with_a_digit_as_keras_names_them(tmp_path):
    g = compile_text(
        tmp_path,
        "blocks:\n  b:\n    inputs: [0_in]\n    layers:\n"
        "      - {name: 1_conv, dense: {units: 3}}\n"
        "      - {name: 2_out, add: {}, inputs: [1_conv, 1_conv]}\n"
        "    output: 2_out\n" + ONE_INPUT + "    - {name: conv2_block1, block: b}\n",
    )
    assert [n.name for n in g.nodes] == ["conv2_block1_1_conv", "conv2_block1_2_out"]
    text = errors(
        tmp_path,
        "blocks:\n  b: {layers: [{dense: {units: 3}}]}\n"
        + ONE_INPUT
        + "    - {name: 1b, block: b}\n",
    )
    assert "model.layers[0].name: '1b' is not a valid name" in text


def test_the_context_is_part_of_the_message_itself(tmp_path):
    with pytest.raises(SpecError) as info:
        compile_text(tmp_path, BAD_VALUE)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.message.endswith(f"(in block 'res' used at {tmp_path / 'spec.yaml'}:16:7)")
    assert diagnostic.location.line == 9  # the block's line


def test_a_nested_use_takes_local_names_that_start_with_a_digit(tmp_path):
    g = compile_text(
        tmp_path,
        "blocks:\n"
        "  inner: {layers: [{name: 1_fc, dense: {units: 3}}]}\n"
        "  outer:\n    layers:\n"
        "      - {name: 0_fc, dense: {units: 4}}\n"
        "      - {name: 1_se, block: inner, inputs: 0_fc}\n"
        "      - {name: 2_fc, dense: {units: 3}, inputs: [1_se]}\n"
        + ONE_INPUT
        + "    - {name: b1, block: outer}\n",
    )
    assert [n.name for n in g.nodes] == ["b1_0_fc", "b1_1_se_1_fc", "b1_2_fc"]
    assert [n.inputs for n in g.nodes] == [["x"], ["b1_0_fc"], ["b1_1_se_1_fc"]]
    text = errors(
        tmp_path,
        "blocks:\n"
        "  inner: {layers: [{dense: {units: 3}}]}\n"
        "  outer: {layers: [{block: inner, inputs: [5]}, {block: inner}]}\n"
        + ONE_INPUT
        + "    - {block: outer}\n",
    )
    assert "blocks.outer.layers[0].inputs: expected a name or a list of names" in text
    assert text.count("error:") == 1, text
