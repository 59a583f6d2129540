"""Data that does not fit the spec is reported before anything runs, at the spec's data line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelgen.errors import SpecError
from modelgen.graph import compile_file
from tests.conftest import ROOT

HEAD = "name: t\ntrain: {loss: {type: sparse_categorical_crossentropy, from_logits: true}}\n"


def spec_file(
    folder: Path, data: str, inputs: str, units: int = 3, loss: str | None = None
) -> Path:
    text = HEAD + f"data: {data}\nmodel:\n  inputs: {{{inputs}}}\n"
    text += f"  layers:\n    - flatten: {{}}\n    - dense: {{units: {units}}}\n"
    if loss:
        text = text.replace("{type: sparse_categorical_crossentropy, from_logits: true}", loss)
    path = folder / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        compile_file(path)
    return info.value.format()


def test_npz_arrays_are_checked_without_loading_them(tmp_path: Path):
    np.savez(tmp_path / "d.npz", x=np.zeros((5, 4, 4, 3), "float32"), y=np.zeros(5, "int64"))
    data = "{source: npz, path: d.npz}"
    message = errors(spec_file(tmp_path, data, "img: {shape: [4, 4, 1]}"))
    assert "spec.yaml:3:27: error: array 'x' in" in message
    assert "has shape [5, 4, 4, 3], but the model input 'img' needs [N, 4, 4, 1]" in message
    message = errors(
        spec_file(tmp_path, "{source: npz, path: d.npz, labels: labels}", "img: {shape: [4, 4, 3]}")
    )
    assert "has no array 'labels' (it has x, y)" in message
    assert "data file not found" in errors(
        spec_file(tmp_path, "{source: npz, path: no.npz}", "img: {shape: [4, 4, 3]}")
    )


def test_csv_columns_cells_and_width(tmp_path: Path):
    (tmp_path / "t.csv").write_text("a,b,color,y\n1,2,red,x\n3,oops,blue,z\n", encoding="utf-8")
    message = errors(spec_file(tmp_path, "{source: csv, path: t.csv, label: y}", "v: {shape: [2]}"))
    assert "t.csv:3: column 'b' holds 'oops', not a number" in message
    assert "list 'b' under `categorical:`" in message
    (tmp_path / "t.csv").write_text("a,b,color,y\n1,2,red,x\n3,4,blue,z\n", encoding="utf-8")
    data = "{source: csv, path: t.csv, label: y, categorical: {color: one_hot}}"
    message = errors(spec_file(tmp_path, data, "v: {shape: [3]}", units=2))
    assert "the CSV gives 4 feature values per row (2 numeric, 'color' one_hot x2)" in message
    assert "one float input of shape [4]" in message
    message = errors(
        spec_file(tmp_path, "{source: csv, path: t.csv, label: target}", "v: {shape: [3]}")
    )
    assert "has no column 'target' (columns: a, b, color, y)" in message
    graph = compile_file(spec_file(tmp_path, data, "v: {shape: [4]}", units=2))
    assert graph.data.categorical == {"color": ("one_hot", ["blue", "red"])}
    assert graph.data.classes == ["x", "z"]
    message = errors(spec_file(tmp_path, data, "v: {shape: [4]}", units=3))
    assert "the data has 2 classes (x, z) but the output 'dense' has 3" in message


def test_csv_regression_needs_numeric_targets(tmp_path: Path):
    (tmp_path / "r.csv").write_text("a,y\n1,2.5\n2,high\n", encoding="utf-8")
    path = spec_file(
        tmp_path, "{source: csv, path: r.csv, label: y}", "v: {shape: [1]}", 1, "{type: mse}"
    )
    assert "r.csv:3: label 'high' is not a number, and mse needs numeric targets" in errors(path)


def test_image_folders(tmp_path: Path):
    shapes = ROOT / "examples" / "data" / "shapes"
    data = f"{{source: image_dir, path: {shapes}, image_size: [16, 16], color_mode: grayscale}}"
    message = errors(spec_file(tmp_path, data, "img: {shape: [16, 16, 3]}"))
    assert (
        "gives images of shape [16, 16, 1], so the model needs one input of that shape" in message
    )
    message = errors(spec_file(tmp_path, data, "img: {shape: [16, 16, 1]}", units=4))
    assert (
        "the data has 3 classes (circle, square, triangle) but the output 'dense' has 4" in message
    )
    assert compile_file(spec_file(tmp_path, data, "img: {shape: [16, 16, 1]}")).data.classes == [
        "circle",
        "square",
        "triangle",
    ]
    (tmp_path / "one" / "a").mkdir(parents=True)
    message = errors(
        spec_file(
            tmp_path,
            "{source: image_dir, path: one, image_size: [4, 4]}",
            "img: {shape: [4, 4, 3]}",
        )
    )
    assert "needs one sub-folder per class (at least two)" in message


def test_validation_path_and_split_are_exclusive(tmp_path: Path):
    np.savez(tmp_path / "d.npz", x=np.zeros((5, 4), "float32"), y=np.zeros(5, "int64"))
    data = "{source: npz, path: d.npz, validation_path: d.npz, validation_split: 0.2}"
    assert "give validation_split or validation_path, not both" in errors(
        spec_file(tmp_path, data, "v: {shape: [4]}")
    )
