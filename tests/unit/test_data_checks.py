"""Data that does not fit the spec is reported before anything runs, at the spec's data line.

Each hostile case below is validated through the CLI: exit code 2, no traceback, and a located
`spec.yaml:LINE:COL: error:` line naming the data file (and its row, column or array). The
generated programs repeat these checks at run time: tests/e2e/test_bad_data.py.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import signal
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from modelgen import datasets
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


def refused(cli, spec: Path, *expected: str) -> str:
    """`modelgen validate spec` fails with exit 2, no traceback, and each expected text on a
    located error line of the spec; returns the output."""
    result = cli("validate", spec)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    for text in expected:
        hits = [line for line in lines if text in line]
        assert hits, f"{text!r} not in:\n{result.output}"
        assert re.match(rf"{re.escape(str(spec))}:\d+:\d+: error: ", hits[0]), hits[0]
    return result.output


# ---------------------------------------------------------------- the original checks
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
    assert "the data has 2 classes ('x', 'z') but the output 'dense' has 3" in message


def test_csv_regression_needs_numeric_targets(tmp_path: Path):
    (tmp_path / "r.csv").write_text("a,y\n1,2.5\n2,high\n", encoding="utf-8")
    path = spec_file(
        tmp_path, "{source: csv, path: r.csv, label: y}", "v: {shape: [1]}", 1, "{type: mse}"
    )
    assert "r.csv:3: label 'high' is not a number, and mse needs numeric targets" in errors(path)


def test_image_folders(tmp_path: Path):
    shapes = ROOT / "examples" / "data" / "shapes"
    data = (
        f"{{source: image_dir, path: {shapes}, data_root: {shapes}, image_size: [16, 16], "
        "color_mode: grayscale}"
    )
    message = errors(spec_file(tmp_path, data, "img: {shape: [16, 16, 3]}"))
    assert (
        "gives images of shape [16, 16, 1], so the model needs one input of that shape" in message
    )
    message = errors(spec_file(tmp_path, data, "img: {shape: [16, 16, 1]}", units=4))
    assert (
        "the data has 3 classes ('circle', 'square', 'triangle') but the output 'dense' has 4"
        in message
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


# ---------------------------------------------------------------- 1. CSV missing / non-finite
CSV_SPEC = "{{source: csv, path: t.csv, label: y{extra}}}"


def csv_spec(folder: Path, text: str, extra: str = "", width: int = 2, loss: str | None = None):
    (folder / "t.csv").write_text(text, encoding="utf-8")
    units = 1 if loss else 2
    return spec_file(folder, CSV_SPEC.format(extra=extra), f"v: {{shape: [{width}]}}", units, loss)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("nan", "t.csv:3: column 'b' holds 'nan' (a missing value)"),
        ("NaN", "t.csv:3: column 'b' holds 'NaN' (a missing value)"),
        ("-nan", "t.csv:3: column 'b' holds '-nan' (a missing value)"),
        ("", "t.csv:3: column 'b' is empty (a missing value)"),
        ("  ", "t.csv:3: column 'b' is empty (a missing value)"),
        ("NA", "t.csv:3: column 'b' holds 'NA' (a missing value)"),
        ("N/A", "t.csv:3: column 'b' holds 'N/A' (a missing value)"),
        ("null", "t.csv:3: column 'b' holds 'null' (a missing value)"),
        ("None", "t.csv:3: column 'b' holds 'None' (a missing value)"),
        ("inf", "t.csv:3: column 'b' holds 'inf', not a finite float32 number"),
        ("-inf", "t.csv:3: column 'b' holds '-inf', not a finite float32 number"),
        ("Infinity", "t.csv:3: column 'b' holds 'Infinity', not a finite float32 number"),
        ("1e39", "t.csv:3: column 'b' holds '1e39', not a finite float32 number"),
        ("-1e400", "t.csv:3: column 'b' holds '-1e400', not a finite float32 number"),
    ],
)
def test_csv_missing_and_non_finite_numeric_cells(cli, tmp_path, cell, message):
    spec = csv_spec(tmp_path, f"a,b,y\n1,2,x\n3,{cell},z\n")
    out = refused(cli, spec, message)
    if "missing" in message:
        assert "set `missing: mean`, `median` or `constant`" in out
        assert "under `categorical:`" not in out  # the old, misleading hint
    else:
        assert "no `missing:` setting replaces infinities" in out


@pytest.mark.parametrize(
    ("rows", "loss", "message"),
    [
        ("1,2,\n", None, "t.csv:3: the label is empty (a missing value)"),
        ("1,2,nan\n", "{type: mse}", "t.csv:3: the label is 'nan' (a missing value)"),
        ("1,2,NA\n", "{type: mse}", "t.csv:3: the label is 'NA' (a missing value)"),
        ("1,2,inf\n", "{type: mse}", "t.csv:3: label 'inf' is not a finite float32 number"),
        ("1,2,-1e39\n", "{type: mse}", "t.csv:3: label '-1e39' is not a finite float32 number"),
    ],
)
def test_csv_missing_and_non_finite_labels(cli, tmp_path, rows, loss, message):
    first = "1,2,1.5\n" if loss else "1,2,x\n"
    spec = csv_spec(tmp_path, "a,b,y\n" + first + rows, loss=loss)
    refused(cli, spec, message)


def test_csv_missing_categories_are_errors(cli, tmp_path):
    spec = csv_spec(tmp_path, "a,c,y\n1,red,x\n2,,z\n", ", categorical: {c: one_hot}", width=2)
    refused(cli, spec, "t.csv:3: column 'c' is empty (a missing category)")


def test_csv_fills_need_values_in_the_training_rows(cli, tmp_path):
    fill = ", missing: mean, validation_split: 0.5"
    spec = csv_spec(tmp_path, "a,b,y\n1,,x\n2,NA,z\n3,4,x\n4,5,z\n", fill)
    refused(cli, spec, "t.csv: column 'b' has no value in the training rows to take the mean of")
    spec = csv_spec(tmp_path, "a,b,y\n1,,x\n2,3,z\n3,inf,x\n", ", missing: median")
    refused(cli, spec, "t.csv:4: column 'b' holds 'inf', not a finite float32 number")
    for extra in (", missing: mean", ", missing: median", ", missing: constant, fill_value: 0"):
        spec = csv_spec(tmp_path, "a,b,y\n1,,x\n2,nan,z\n3,N/A,x\n4,5,z\n", extra)
        assert compile_file(spec).data.numeric == ["a", "b"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (", missing: constant", "data: missing: constant needs fill_value: NUMBER"),
        (", fill_value: 1.5", "data: fill_value is used only with missing: constant"),
        (", missing: mean, fill_value: 0.0", "fill_value is used only with missing: constant"),
        (", missing: constant, fill_value: .inf", "data.fill_value: input should be a finite"),
        (", missing: constant, fill_value: 1.0e+39", "data.fill_value: input should be less"),
        (", missing: drop", "data.missing: expected 'error', 'mean', 'median' or 'constant'"),
    ],
)
def test_csv_missing_options_are_checked(cli, tmp_path, extra, message):
    refused(cli, csv_spec(tmp_path, "a,b,y\n1,2,x\n3,4,z\n", extra), message)


# ---------------------------------------------------------------- 2. duplicate header names
@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("a,a,y", "t.csv: the header names column 'a' twice (columns 1 and 2)"),
        ("y,b,y", "t.csv: the header names column 'y' twice (columns 1 and 3)"),
        (",,y", "t.csv: the header names column '' twice (columns 1 and 2)"),
    ],
)
def test_csv_duplicate_header_names(cli, tmp_path, header, message):
    spec = csv_spec(tmp_path, f"{header}\n1,2,x\n3,4,z\n")
    out = refused(cli, spec, message)
    assert "a repeated name would hide a column" in out


def test_csv_validation_file_is_checked_like_the_training_file(cli, tmp_path):
    (tmp_path / "v.csv").write_text("a,a,y\n1,2,x\n", encoding="utf-8")
    spec = csv_spec(tmp_path, "a,b,y\n1,2,x\n3,4,z\n", ", validation_path: v.csv")
    refused(cli, spec, "v.csv: the header names column 'a' twice")
    (tmp_path / "v.csv").write_text("a,b,y\n1,inf,x\n", encoding="utf-8")
    refused(cli, spec, "v.csv:2: column 'b' holds 'inf'")
    (tmp_path / "v.csv").write_text("a,c,y\n1,green,x\n", encoding="utf-8")
    (tmp_path / "t.csv").write_text("a,c,y\n1,red,x\n2,blue,z\n", encoding="utf-8")
    spec = csv_spec(
        tmp_path,
        "a,c,y\n1,red,x\n2,blue,z\n",
        ", validation_path: v.csv, categorical: {c: integer}",
    )
    refused(cli, spec, "v.csv:2: column 'c' holds 'green', not one of the training file's")


# ---------------------------------------------------------------- 3. npz values
def npz_spec(
    folder: Path, inputs: str = "v: {shape: [4]}", loss: str | None = None, units: int = 3
) -> Path:
    return spec_file(folder, "{source: npz, path: d.npz}", inputs, units, loss)


TOKENS = (
    "name: t\ndata: {source: npz, path: d.npz}\nmodel:\n"
    "  inputs: {tokens: {shape: [4], dtype: int32}}\n"
    "  layers:\n    - embedding: {input_dim: 50, output_dim: 3}\n    - flatten: {}\n"
    "    - dense: {units: 3}\n"
    "train: {loss: {type: sparse_categorical_crossentropy, from_logits: true}}\n"
)
BINARY = "{type: binary_crossentropy, from_logits: true}"
CATEGORICAL = "{type: categorical_crossentropy, from_logits: true}"


def with_bad(array: np.ndarray, index, value) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


X = np.zeros((6, 4), "float32")
Y = np.arange(6, dtype="int64") % 3


@pytest.mark.parametrize(
    ("x", "y", "loss", "message"),
    [
        (
            X,
            Y.astype("float64") + [0, 0, 0, 0.5, 0, 0],
            None,
            "holds 0.5 at index 3, not an integer",
        ),
        (X, with_bad(Y, 4, 2**40), None, "holds 1099511627776 at index 4, outside the class ids"),
        (
            X,
            with_bad(Y, 1, -1),
            None,
            "array 'y' holds -1 at index 1, outside the class ids [0, 3)",
        ),
        (X, with_bad(Y.astype("float32"), 2, np.nan), None, "holds nan at index 2, not a class id"),
        (X, with_bad(Y.astype("float64"), 2, 3.0), None, "holds 3.0 at index 2, outside"),
        (with_bad(X, (2, 1), np.nan), Y, None, "array 'x' holds nan at index (2, 1), not a finite"),
        (with_bad(X, (5, 3), -np.inf), Y, None, "array 'x' holds -inf at index (5, 3)"),
        (with_bad(X.astype("float64"), (0, 0), 1e39), Y, None, "holds 1e+39 at index (0, 0)"),
        (X, with_bad(Y % 2, 3, 2), BINARY, "holds 2 at index 3, outside [0, 1]"),
        (X, with_bad((Y % 2).astype("f4"), 0, np.nan), BINARY, "holds nan at index 0, not a fin"),
        (
            X,
            with_bad(np.eye(3)[Y], (1, 0), 0.7),
            CATEGORICAL,
            "label row summing to 1.7 at index 1",
        ),
        (
            X,
            with_bad(np.eye(3)[Y], (2, 1), -0.5),
            CATEGORICAL,
            "holds -0.5 at index (2, 1), outside",
        ),
        (
            X,
            with_bad(Y.astype("f8"), 0, np.inf),
            "{type: mse}",
            "holds inf at index 0, not a finite",
        ),
    ],
)
def test_npz_label_and_feature_values(cli, tmp_path, x, y, loss, message):
    np.savez(tmp_path / "d.npz", x=x, y=y)
    units = 1 if loss in (BINARY, "{type: mse}") else 3
    refused(cli, npz_spec(tmp_path, loss=loss, units=units), message)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (2**32 + 7, "array 'x' holds 4294967303 at index (1, 2), outside the token ids [0, 50)"),
        (50, "array 'x' holds 50 at index (1, 2), outside the token ids [0, 50) of input 'tokens'"),
        (-1, "array 'x' holds -1 at index (1, 2), outside the token ids [0, 50)"),
    ],
)
def test_npz_token_ids_are_checked_before_the_int32_cast(cli, tmp_path, tokens, message):
    x = with_bad(np.zeros((6, 4), "int64"), (1, 2), tokens)
    np.savez(tmp_path / "d.npz", x=x, y=Y)
    (tmp_path / "spec.yaml").write_text(TOKENS, encoding="utf-8")
    out = refused(cli, tmp_path / "spec.yaml", message)
    assert "(the input_dim of the embedding reading it)" in out


def test_npz_good_values_pass_and_large_arrays_are_left_to_the_program(tmp_path, monkeypatch):
    np.savez(tmp_path / "d.npz", x=np.ones((6, 4), "float64"), y=Y.astype("float32"))
    graph = compile_file(npz_spec(tmp_path))  # integral float labels are class ids
    assert graph.data.notes == []
    np.savez(tmp_path / "d.npz", x=with_bad(X, (0, 0), np.nan), y=Y)
    monkeypatch.setattr(datasets, "MAX_VALUE_CHECK_BYTES", 16)
    graph = compile_file(npz_spec(tmp_path))
    (note,) = graph.data.notes
    assert "d.npz: the arrays hold 0 MB, more than validate reads" in note
    assert "their values are checked when the program loads them" in note


# ---------------------------------------------------------------- 4. pickles and objects
class Marker:
    """Unpickling it creates the file `path`: the test fails if that ever happens."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_npz_object_arrays_and_pickles_are_refused_without_unpickling(cli, tmp_path):
    marker = tmp_path / "UNPICKLED"
    evil = np.empty(6, dtype=object)
    evil[:] = [Marker(str(marker)) for _ in range(6)]
    np.savez(tmp_path / "d.npz", x=X, y=evil)  # np.savez pickles object arrays by default
    out = refused(
        cli,
        npz_spec(tmp_path),
        "d.npz: array 'y' holds Python objects (dtype object); modelgen reads plain numeric",
    )
    assert not marker.exists(), out
    np.savez(tmp_path / "d.npz", x=np.zeros(6, dtype=[("a", "f4"), ("b", "O")]), y=Y)
    refused(cli, npz_spec(tmp_path), "array 'x' holds Python objects (dtype object)")
    np.savez(tmp_path / "d.npz", x=np.zeros(6, dtype=[("a", "f4"), ("b", "i4")]), y=Y)
    refused(cli, npz_spec(tmp_path), "array 'x' holds records (a structured dtype)")
    (tmp_path / "d.npz").write_bytes(pickle.dumps(Marker(str(marker))))
    refused(cli, npz_spec(tmp_path), "d.npz: is not a .npz archive (no zip end record)")
    np.savez(tmp_path / "d.npz", x=np.array(["a"] * 24).reshape(6, 4), y=Y)
    refused(cli, npz_spec(tmp_path), "d.npz: array 'x' holds <U1 values, not numbers")
    assert not marker.exists()


# ---------------------------------------------------------------- 5. malformed archives
def npy(header: str | bytes, *, version: int = 1, length: int | None = None, data=b"") -> bytes:
    text = header.encode("latin1") if isinstance(header, str) else header
    size = len(text) if length is None else length
    field = size.to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + field + text + data


GOOD_Y = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (6,)}", data=Y.tobytes())


def archive(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, content in members.items():
            zf.writestr(name, content)


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (
            npy("{'descr': '<f4', 'fortran_order': False}"),
            "has a header with missing or unknown keys: shape",
        ),
        (npy("[1, 2]"), "has a header that is not a dict (list)"),
        (npy("'text'"), "has a header that is not a dict (str)"),
        (npy("{'descr': '<f4', 'fortran_order': False, 'shape': 24}"), "has an invalid shape '24'"),
        (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6, -4)}"), "has an invalid shape"),
        (
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (True, 4)}"),
            "has an invalid shape",
        ),
        (
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6.0, 4)}"),
            "has an invalid shape",
        ),
        (
            npy("{'descr': '<f4', 'fortran_order': 'no', 'shape': (6, 4)}"),
            "has a header whose fortran_order is not",
        ),
        (
            npy("{'descr': '<q9', 'fortran_order': False, 'shape': (6, 4)}"),
            "has an unknown dtype '<q9'",
        ),
        (
            npy("{'descr': '<f3', 'fortran_order': False, 'shape': (6, 4)}"),
            "has an unknown dtype '<f3'",
        ),
        (npy("{'descr': 7, 'fortran_order': False, 'shape': (6, 4)}"), "has an unknown dtype '7'"),
        (
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 4)"),
            "has a header that is not a Python literal",
        ),
        (npy("(" * 5000 + ")" * 5000), "has a header that is not a Python literal"),
        (npy("{'shape': (" + "9" * 5000 + ",)}"), "has a header that is not a Python literal"),
        (
            npy("__import__('os').system('touch PWNED')"),
            "has a header that is not a Python literal",
        ),
        (npy("{'descr': '<f4'}", length=100), "has a truncated header (16 of 100 bytes)"),
        (npy("", version=2, length=2**31), "declares a 2,147,483,648-byte header; numpy reads"),
        (npy(" " * 10_001), "declares a 10,001-byte header"),
        (b"\x93NUMPY\x01\x00\x05", "has a truncated header"),
        (b"PK\x03\x04 not an array", "is not an .npy array (bad magic bytes)"),
        (npy("{}", version=9), "has .npy format version 9.0, unknown to modelgen"),
        (
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (375000000, 4)}"),
            "declares shape [375000000, 4] of <f4 (6,000,000,000 bytes), but its member holds 0",
        ),
        (
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 4)}", data=b"\0" * 10),
            "declares shape [6, 4] of <f4 (96 bytes), but its member holds 10 bytes of data",
        ),
    ],
)
def test_npz_malformed_headers(cli, tmp_path, member, message):
    archive(tmp_path / "d.npz", {"x.npy": member, "y.npy": GOOD_Y})
    start = time.perf_counter()
    refused(cli, npz_spec(tmp_path), f"d.npz: array 'x' {message}")
    assert time.perf_counter() - start < 3
    assert not Path("PWNED").exists() and not (tmp_path / "PWNED").exists()


def test_npz_malformed_archives(cli, tmp_path):
    spec = npz_spec(tmp_path)
    (tmp_path / "d.npz").write_bytes(b"")
    refused(cli, spec, "d.npz: is not a .npz archive (no zip end record)")
    (tmp_path / "d.npz").write_bytes(b"PK\x05\x06" + b"\0" * 10)
    refused(cli, spec, "d.npz: is not a .npz archive (no zip end record)")
    members = {f"a{i}.npy": b"" for i in range(1001)}
    archive(tmp_path / "d.npz", members)
    refused(cli, spec, "d.npz: declares 1001 members", "archives of at most 1000 members")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("y.npy", GOOD_Y)
        zf.writestr("x.npy", GOOD_Y)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("x.npy", GOOD_Y)
    (tmp_path / "d.npz").write_bytes(buffer.getvalue())
    refused(cli, spec, "d.npz: holds the member 'x.npy' twice")
    good_x = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 4)}", data=X.tobytes())
    archive(tmp_path / "d.npz", {"x.npy": good_x, "y.npy": GOOD_Y}, zipfile.ZIP_DEFLATED)
    data = bytearray((tmp_path / "d.npz").read_bytes())
    start = data.index(b"x.npy") + len("x.npy")  # the first local header's name, then data
    data[start : start + 40] = b"\xff" * 40  # an invalid deflate block type
    (tmp_path / "d.npz").write_bytes(bytes(data))
    refused(cli, spec, "d.npz: is not a readable .npz archive")
    np.savez(tmp_path / "d.npz", x=np.zeros((0, 4), "f4"), y=np.zeros(0, "i8"))
    refused(cli, spec, "d.npz: array 'x' holds no samples (shape [0, 4])")
    np.savez(tmp_path / "d.npz", x=np.float32(1), y=Y)
    refused(cli, spec, "d.npz: array 'x' is a single value, not one row per sample")


def test_npz_large_compressed_arrays_are_read_only_as_far_as_their_headers(cli, tmp_path):
    """250 MB of deflated zeros behind valid headers (a small file): validate reads the headers
    only, and leaves the values to the program (over the value-check cap)."""
    rows = 50_000_000
    with zipfile.ZipFile(tmp_path / "d.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, descr, size in (("x", "<f4", 4), ("y", "|u1", 1)):
            with zf.open(f"{name}.npy", "w", force_zip64=True) as handle:
                shape = f"({rows}, 1)" if name == "x" else f"({rows},)"
                handle.write(
                    npy(f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}}}")
                )
                for _ in range(size * rows // 2**24):
                    handle.write(bytes(2**24))
                handle.write(bytes(size * rows % 2**24))
    assert (tmp_path / "d.npz").stat().st_size < 2_000_000
    start = time.perf_counter()
    graph = compile_file(npz_spec(tmp_path, "v: {shape: [1]}"))
    assert time.perf_counter() - start < 3, "validate read more than the headers"
    assert "the arrays hold 250 MB, more than validate reads (50 MB)" in graph.data.notes[0]


# ---------------------------------------------------------------- 6. image folders
def png(width: int, height: int, pixels: bytes | None = None) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = pixels if pixels is not None else b"".join(b"\0" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def jpeg_header(height: int, width: int, segments: int = 1) -> bytes:
    app = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0" + b"\0" * 9
    comments = (b"\xff\xfe" + struct.pack(">H", 3) + b"x") * segments
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app + comments + sof + b"\xff\xd9"


def image_spec(folder: Path) -> Path:
    for name in ("a", "b"):
        (folder / "img" / name).mkdir(parents=True, exist_ok=True)
        (folder / "img" / name / "ok.png").write_bytes(png(4, 4))
    data = "{source: image_dir, path: img, image_size: [4, 4], color_mode: grayscale}"
    return spec_file(folder, data, "v: {shape: [4, 4, 1]}", units=2)


def test_image_headers_are_read_cheaply():
    def reader(data: bytes):
        return lambda offset, n: data[offset : offset + n]

    size = datasets.image_size_of
    assert size(reader(png(7, 5))) == (5, 7)
    assert size(reader(b"GIF89a" + struct.pack("<HH", 9, 3) + b"\0" * 8)) == (3, 9)
    bmp = b"BM" + b"\0" * 12 + struct.pack("<Iii", 40, 6, -4) + b"\0" * 8
    assert size(reader(bmp)) == (4, 6)  # a top-down BMP has a negative height
    assert size(reader(b"BM" + b"\0" * 12 + struct.pack("<IHH", 12, 6, 4) + b"\0" * 8)) == (4, 6)
    assert size(reader(jpeg_header(480, 640, segments=3))) == (480, 640)
    assert size(reader(jpeg_header(480, 640, segments=1001))) is None  # bounded scan
    assert size(reader(b"\xff\xd8\xff\xd9")) is None  # no frame header
    assert size(reader(b"\xff\xd8\xff\xe0\x00\x00")) is None  # a zero segment length
    assert size(reader(b"\x89PNG\r\n\x1a\n")) is None
    assert size(reader(b"hello")) is None


def test_generated_loader_reads_image_headers_with_the_same_code():
    import ast
    import inspect

    from modelgen.codegen import TEMPLATES

    def body(source: str) -> str:
        (function,) = [
            n
            for n in ast.parse(source).body
            if isinstance(n, ast.FunctionDef) and n.name == "image_size_of"
        ]
        return ast.dump(ast.Module(body=function.body[1:], type_ignores=[]))

    template = (TEMPLATES / "common" / "data" / "image_dir.py.jinja").read_text(encoding="utf-8")
    assert body(template) == body(inspect.getsource(datasets))


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("huge.png", lambda p: p.write_bytes(png(20000, 20000, b"")), "declares 20000x20000 pix"),
        ("many.png", lambda p: p.write_bytes(png(12000, 12000, b"")), "declares 12000x12000 pix"),
        ("flat.png", lambda p: p.write_bytes(png(0, 5, b"")), "declares an empty image (5x0)"),
        ("garbage.png", lambda p: p.write_bytes(b"garbage"), "is not a PNG, JPEG, BMP or GIF"),
        ("empty.jpg", lambda p: p.write_bytes(b""), "is not a PNG, JPEG, BMP or GIF image"),
        ("text.jpeg", lambda p: p.write_text("hello"), "is not a PNG, JPEG, BMP or GIF image"),
        ("noframe.jpg", lambda p: p.write_bytes(b"\xff\xd8\xff\xd9"), "is not a PNG, JPEG"),
        ("deep.jpg", lambda p: p.write_bytes(jpeg_header(4, 4, 1001)), "is not a PNG, JPEG"),
        ("big.jpg", lambda p: p.write_bytes(jpeg_header(30000, 10)), "declares 30000x10 pixels"),
        ("dir.png", lambda p: p.mkdir(), "is not a regular file (a folder, FIFO"),
        ("fifo.png", lambda p: os.mkfifo(p), "is not a regular file (a folder, FIFO"),
        ("link.gif", lambda p: p.symlink_to(p.parent / "gone"), "cannot be read (No such file"),
    ],
)
def test_image_folder_files_are_checked(cli, tmp_path, name, make, message):
    spec = image_spec(tmp_path)
    make(tmp_path / "img" / "b" / name)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("blocked")))
    signal.alarm(20)  # a FIFO that is opened for reading blocks until a writer comes
    try:
        out = refused(cli, spec, f"{tmp_path / 'img' / 'b' / name} {message}")
    finally:
        signal.alarm(0)
    assert "nothing in an image folder is skipped" in out


def test_image_folders_report_a_few_bad_files_and_count_the_rest(cli, tmp_path):
    spec = image_spec(tmp_path)
    for i in range(8):
        (tmp_path / "img" / "a" / f"bad{i}.png").write_bytes(b"x")
    out = refused(cli, spec, "img: 3 more image files fail these checks")
    assert out.count("is not a PNG, JPEG, BMP or GIF image") == 5
    (tmp_path / "img" / "b" / "ok.png").unlink()
    refused(cli, spec, "img/b holds no .png/.jpg/.jpeg/.bmp/.gif images")


# ---------------------------------------------------------------- 7. data outside the spec's tree
def test_data_outside_the_spec_folder_is_refused(cli, tmp_path):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    secret = "api_key_" + "s" * 80
    (elsewhere / "secrets.csv").write_text(f"a,y\n1,{secret}\n2,b\n", encoding="utf-8")
    real = os.path.realpath(elsewhere / "secrets.csv")
    for path in (elsewhere / "secrets.csv", "../elsewhere/secrets.csv"):
        spec = spec_file(project, f"{{source: csv, path: {path}, label: y}}", "v: {shape: [1]}")
        out = refused(
            cli,
            spec,
            f"resolves to {real}, outside the spec's folder {project}",
        )
        assert "set `data_root:` to a folder that holds it" in out and secret not in out
    (project / "link.csv").symlink_to(elsewhere / "secrets.csv")
    spec = spec_file(project, "{source: csv, path: link.csv, label: y}", "v: {shape: [1]}")
    refused(cli, spec, f"data file {project / 'link.csv'} resolves to {real}")
    (project / "t.csv").write_text("a,y\n1,x\n2,z\n", encoding="utf-8")
    data = "{source: csv, path: t.csv, label: y, validation_path: ../elsewhere/secrets.csv}"
    refused(cli, spec_file(project, data, "v: {shape: [1]}", units=2), "outside the spec's folder")
    (elsewhere / "img").mkdir()
    data = "{source: image_dir, path: ../elsewhere/img, image_size: [4, 4]}"
    refused(cli, spec_file(project, data, "v: {shape: [4, 4, 3]}"), "data folder")
    data = "{source: csv, path: ../elsewhere/secrets.csv, label: y, data_root: sub}"
    refused(cli, spec_file(project, data, "v: {shape: [1]}"), f"outside data_root {project}/sub")
    # data_root: .. allows it; a cell that fails a check is printed cut to 40 characters
    data = "{source: csv, path: ../elsewhere/secrets.csv, label: a, data_root: ..}"
    out = refused(
        cli,
        spec_file(project, data, "v: {shape: [1]}", units=1, loss="{type: mse}"),
        f"column 'y' holds '{secret[:40]}...', not a number",
    )
    assert secret not in out


def test_long_cells_and_names_are_cut(cli, tmp_path):
    long = "x" * 500
    spec = csv_spec(tmp_path, f"a,{long},{long},y\n1,2,3,x\n")
    out = refused(cli, spec, f"the header names column '{'x' * 40}...' twice")
    assert long not in out
    np.savez(tmp_path / "d.npz", **{long: X, "y": Y})
    out = refused(cli, npz_spec(tmp_path), f"has no array 'x' (it has {'x' * 40}..., y)")
    assert long not in out


# ---------------------------------------------------------------- 8. empty data
def test_empty_data_is_refused(cli, tmp_path):
    refused(cli, csv_spec(tmp_path, "a,b,y\n"), "t.csv needs a header row and at least one data")
    refused(cli, csv_spec(tmp_path, ""), "t.csv needs a header row and at least one data row")
    spec = csv_spec(tmp_path, "a,b,y\n1,2,x\n", ", validation_split: 0.5")
    refused(cli, spec, "t.csv: no training rows are left after validation_split 0.5 of 1")
    np.savez(tmp_path / "d.npz", x=np.zeros((0, 4), "f4"), y=np.zeros(0, "i8"))
    refused(cli, npz_spec(tmp_path), "d.npz: array 'x' holds no samples")
    np.savez(tmp_path / "d.npz", x=X[:1], y=Y[:1])
    data = "{source: npz, path: d.npz, validation_split: 0.9}"
    refused(
        cli,
        spec_file(tmp_path, data, "v: {shape: [4]}"),
        "d.npz: no training samples are left after validation_split 0.9 of 1",
    )
    np.savez(tmp_path / "d.npz")
    refused(cli, npz_spec(tmp_path), "d.npz has no array 'x' (it has none)")
    spec = image_spec(tmp_path)
    (tmp_path / "img" / "a" / "ok.png").unlink()
    refused(cli, spec, "img/a holds no .png/.jpg/.jpeg/.bmp/.gif images")
    (tmp_path / "img" / "a" / "ok.png").write_bytes(png(4, 4))
    data = "{source: image_dir, path: img, image_size: [4, 4], validation_split: 0.6}"
    refused(
        cli,
        spec_file(tmp_path, data, "v: {shape: [4, 4, 3]}", units=2),
        "img: no training images are left after validation_split 0.6 of 2",
    )
