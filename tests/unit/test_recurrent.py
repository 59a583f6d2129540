"""Recurrent layers and padding masks: Keras' weight names, the mask's path through the graph,
and generated code that is ruff-clean for every recurrent option (no TensorFlow needed)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest

from modelgen.build import generate
from modelgen.codegen import style
from modelgen.errors import SpecError
from modelgen.graph import compile_file
from tests.specs import base_spec, write_spec


def _spec(layers: list[dict[str, Any]], ids: bool = False) -> dict[str, Any]:
    spec = base_spec()
    spec["model"]["inputs"] = (
        {"x": {"shape": [6], "dtype": "int32"}} if ids else {"x": {"shape": [5, 3]}}
    )
    spec["model"]["layers"] = layers + [{"dense": {"units": 3}}]
    return spec


def _graph(tmp_path: Path, spec: dict[str, Any]):
    return compile_file(write_spec(tmp_path, spec))


def test_weights_are_named_as_keras_names_them(tmp_path: Path) -> None:
    layers = [
        {"lstm": {"units": 4, "return_sequences": True}, "name": "enc"},
        {"bidirectional": {"layer": {"gru": {"units": 2}}, "merge_mode": "sum"}},
    ]
    graph = _graph(tmp_path, _spec(layers))
    names = [f"{n.name}/{v.name}" for n in graph.nodes for v in n.variables]
    assert names[:3] == [
        "enc/lstm_cell/kernel",
        "enc/lstm_cell/recurrent_kernel",
        "enc/lstm_cell/bias",
    ]
    assert names[3:9] == [
        f"bidirectional/{d}_gru/gru_cell/{v}"
        for d in ("forward", "backward")
        for v in ("kernel", "recurrent_kernel", "bias")
    ]
    shapes = {v.name: v.shape for v in graph.nodes[1].variables}
    assert shapes["forward_gru/gru_cell/bias"] == (2, 6)  # reset_after: input and recurrent
    assert graph.nodes[1].shape == (2,)  # sum keeps the units; concat would double them


def test_the_mask_passes_dense_and_dropout_and_reaches_the_recurrent_layer(tmp_path: Path) -> None:
    layers = [
        {"embedding": {"input_dim": 9, "output_dim": 3, "mask_zero": True}, "name": "emb"},
        {"dropout": {"rate": 0.1}},
        {"dense": {"units": 4}},
        {"gru": {"units": 4, "return_sequences": True}},
        {"lstm": {"units": 2}},
    ]
    by_name = {n.name: n for n in _graph(tmp_path, _spec(layers, ids=True)).nodes}
    assert [by_name[k].mask_in for k in ("dropout", "dense", "gru", "lstm")] == [
        None,
        None,
        "emb",
        "emb",
    ]
    assert by_name["gru"].mask_out == "emb" and by_name["lstm"].mask_out is None
    assert by_name["dense_1"].mask_in is None  # the head after the lstm gets no mask


def test_flatten_drops_the_mask_as_keras_does(tmp_path: Path) -> None:
    layers = [
        {"embedding": {"input_dim": 9, "output_dim": 3, "mask_zero": True}},
        {"flatten": {}},
    ]
    graph = _graph(tmp_path, _spec(layers, ids=True))
    assert all(n.mask_in is None for n in graph.nodes)


def _two_embeddings(second_masked: bool, merge: str = "add") -> dict[str, Any]:
    spec = _spec([], ids=True)
    spec["model"]["layers"] = [
        {"embedding": {"input_dim": 9, "output_dim": 3, "mask_zero": True}, "name": "e1"},
        {
            "embedding": {"input_dim": 9, "output_dim": 3, "mask_zero": second_masked},
            "name": "e2",
            "inputs": "x",
        },
        {merge: {}, "inputs": ["e1", "e2"]},
        {"lstm": {"units": 2}},
        {"dense": {"units": 3}},
    ]
    return spec


def test_a_merge_with_an_unmasked_input_ends_the_mask_as_keras_does(tmp_path: Path) -> None:
    by_name = {n.name: n for n in _graph(tmp_path, _two_embeddings(False)).nodes}
    assert by_name["add"].mask_out is None and by_name["lstm"].mask_in is None


def test_two_different_masks_into_a_merge_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="layer 'add' .* padding mask of embedding 'e1'"):
        _graph(tmp_path, _two_embeddings(True))


def test_a_mask_into_concatenate_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="layer 'concatenate' .* padding mask of embedding"):
        _graph(tmp_path, _two_embeddings(False, "concatenate"))


def test_attention_reads_the_query_and_value_masks_and_passes_the_querys(
    tmp_path: Path,
) -> None:
    spec = _spec([], ids=True)
    spec["model"]["inputs"]["s"] = {"shape": [4], "dtype": "int32"}
    spec["model"]["layers"] = [
        {
            "embedding": {"input_dim": 9, "output_dim": 4, "mask_zero": True},
            "name": "q",
            "inputs": "x",
        },
        {
            "embedding": {"input_dim": 9, "output_dim": 4, "mask_zero": True},
            "name": "v",
            "inputs": "s",
        },
        {
            "multi_head_attention": {"num_heads": 1, "key_dim": 2},
            "name": "cross",
            "inputs": ["q", "v"],
        },
        {"global_avg_pool1d": {}, "name": "pool_cross"},
        {
            "embedding": {"input_dim": 9, "output_dim": 4, "mask_zero": True},
            "name": "w",
            "inputs": "s",
        },
        {"multi_head_attention": {"num_heads": 1, "key_dim": 2}, "name": "self"},
        {"add": {}, "inputs": ["w", "self"], "name": "residual"},
        {"global_avg_pool1d": {}, "name": "pool"},
        {"add": {}, "inputs": ["pool_cross", "pool"]},
        {"dense": {"units": 3}},
    ]
    by_name = {n.name: n for n in _graph(tmp_path, spec).nodes}
    assert by_name["cross"].attention_masks == ("q", "v", None)
    assert by_name["pool_cross"].mask_in == "q"  # the output carries the query's mask
    assert by_name["self"].attention_masks == ("w", "w", None)
    assert by_name["residual"].mask_out == "w" and by_name["pool"].mask_in == "w"


def test_position_embedding_drops_the_mask_so_the_add_ends_it(tmp_path: Path) -> None:
    layers = [
        {"embedding": {"input_dim": 9, "output_dim": 4, "mask_zero": True}, "name": "tokens"},
        {"position_embedding": {}, "name": "positions"},
        {"add": {}, "inputs": ["tokens", "positions"], "name": "embedded"},
        {"multi_head_attention": {"num_heads": 1, "key_dim": 2}, "name": "attend"},
        {"global_avg_pool1d": {}},
    ]
    by_name = {n.name: n for n in _graph(tmp_path, _spec(layers, ids=True)).nodes}
    assert by_name["embedded"].mask_out is None
    assert by_name["attend"].attention_masks == (None, None, None)


RECURRENT = [
    {"simple_rnn": {"units": 1, "dropout": 0.2, "recurrent_dropout": 0.1}},
    {"lstm": {"units": 3, "return_sequences": True, "recurrent_dropout": 0.1, "dropout": 0.1}},
    {"gru": {"units": 2, "reset_after": False, "recurrent_dropout": 0.1, "dropout": 0.1}},
    {"gru": {"units": 2, "use_bias": False, "dropout": 0.3}},
    {"bidirectional": {"layer": {"lstm": {"units": 2, "dropout": 0.1}}, "merge_mode": "ave"}},
]


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
def test_generated_recurrent_code_is_ruff_clean(tmp_path: Path, masked: bool) -> None:
    files = []
    for i, layer in enumerate(RECURRENT):
        layer = copy.deepcopy(layer)
        head = [{"flatten": {}}] if "'return_sequences': True" in repr(layer) else []
        if masked:
            emb = {"embedding": {"input_dim": 5, "output_dim": 3, "mask_zero": True}}
            spec = _spec([emb, layer, *head], ids=True)
        else:
            spec = _spec([layer, *head])
        folder = tmp_path / str(i)
        folder.mkdir()
        path = write_spec(folder, spec)
        for target in ("keras", "tf"):
            program = folder / f"train_{target}.py"
            program.write_text(generate(path, target, folder)[1], encoding="utf-8")
            files.append(str(program))
    settings = ["--isolated", "--no-cache", "--line-length", str(style.LINE_LENGTH)]
    check = ["check", *settings, "--select", style.LINT_RULES, "--output-format", "concise"]
    result = subprocess.run([style.ruff_binary(), *check, *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_global_avg_pool1d_uses_the_mask_and_ends_it(tmp_path: Path) -> None:
    layers = [
        {"embedding": {"input_dim": 9, "output_dim": 3, "mask_zero": True}},
        {"global_avg_pool1d": {}},
    ]
    pool = _graph(tmp_path, _spec(layers, ids=True)).nodes[1]
    assert (pool.kind, pool.mask_in, pool.mask_out) == ("global_avg_pool1d", "embedding", None)
    code = generate(write_spec(tmp_path, _spec(layers, ids=True)), "tf", tmp_path)[1]
    assert "tf.where(keep, embedding, 0.0)" in code


@pytest.mark.parametrize(
    "second",
    [
        {"multi_head_attention": {"num_heads": 1, "key_dim": 2}, "name": "again"},
        {"multi_head_attention": {"num_heads": 1, "key_dim": 2}, "name": "again", "inputs": "e"},
    ],
    ids=["after-a-residual", "same-input"],
)
def test_a_mask_into_a_second_attention_is_refused(tmp_path: Path, second: dict) -> None:
    # Keras clears the masks of the tensors an attention reads: the residual add of its
    # query has none at run time, and a second reader of that tensor gets none.
    layers = [
        {"embedding": {"input_dim": 9, "output_dim": 4, "mask_zero": True}, "name": "e"},
        {"multi_head_attention": {"num_heads": 1, "key_dim": 2}, "name": "first"},
        {"add": {}, "inputs": ["e", "first"], "name": "residual"},
        second,
        {"global_avg_pool1d": {}},
    ]
    with pytest.raises(SpecError, match="layer 'again' .* after another multi_head_attention"):
        _graph(tmp_path, _spec(layers, ids=True))
