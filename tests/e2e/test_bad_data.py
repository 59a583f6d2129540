"""Hostile data given to a generated program (``--data``) is refused when it loads, before
anything trains: `error: <file>...` through sys.exit, naming the file and the row, column or
array, never a traceback, never unpickling. The same checks as `modelgen validate`
(tests/unit/test_data_checks.py), here in the generated code; and missing CSV cells are filled
from the training rows only, identically in both targets.

Each test builds its programs once and calls their `split_arrays` (the data path of `main`)
in this process, so TensorFlow starts once for all of them.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from modelgen.build import generate
from tests.unit.test_data_checks import GOOD_Y, TOKENS, Marker, archive, npy, png

pytestmark = pytest.mark.slow
TARGETS = ("keras", "tf")
LOSS = "{type: sparse_categorical_crossentropy, from_logits: true}"


def spec_text(data: str, inputs: str, units: int, loss: str = LOSS) -> str:
    return (
        f"name: bad_data\ndata: {data}\nmodel:\n  inputs: {{{inputs}}}\n"
        f"  layers:\n    - flatten: {{}}\n    - dense: {{units: {units}}}\n"
        f"train: {{loss: {loss}}}\n"
    )


def programs(folder: Path, text: str, targets=TARGETS) -> list:
    """The generated programs of the spec ``text`` (written into ``folder``), imported."""
    (folder / "spec.yaml").write_text(text, encoding="utf-8")
    modules = []
    for target in targets:
        _, code = generate(folder / "spec.yaml", target, folder)
        path = folder / f"train_{target}.py"
        path.write_text(code, encoding="utf-8")
        name = f"bad_data_{target}_{abs(hash(str(folder)))}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def split(module, data: Path):
    return module.split_arrays(module.parse_args(["--data", str(data)]))


def refused(module, data: Path, *texts: str) -> str:
    with pytest.raises(SystemExit) as info:
        split(module, data)
    message = str(info.value.code)
    assert message.startswith(f"error: {data}"), message
    for text in texts:
        assert text in message, message
    return message


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- CSV (classes 1, 2, 7, 8)
def test_csv_cells_are_checked_when_the_program_loads_them(tmp_path):
    write(tmp_path, "t.csv", "a,b,c,y\n1,2,red,x\n3,4,blue,z\n")
    data = "{source: csv, path: t.csv, label: y, categorical: {c: one_hot}}"
    (program,) = programs(tmp_path, spec_text(data, "v: {shape: [4]}", 2), ("keras",))
    secret = "s" * 200
    cases = [
        ("a,b,c,y\n1,nan,red,x\n", ":2: column 'b' holds 'nan' (a missing value)"),
        ("a,b,c,y\n1,2,red,x\n1,,red,x\n", ":3: column 'b' is empty (a missing value)"),
        ("a,b,c,y\n1,NA,red,x\n", ":2: column 'b' holds 'NA' (a missing value)"),
        ("a,b,c,y\n1,inf,red,x\n", ":2: column 'b' holds 'inf', not a finite float32 number"),
        ("a,b,c,y\n-inf,1,red,x\n", ":2: column 'a' holds '-inf', not a finite float32"),
        ("a,b,c,y\n1e39,1,red,x\n", ":2: column 'a' holds '1e39', not a finite float32"),
        (f"a,b,c,y\n{secret},1,red,x\n", f":2: column 'a' holds '{'s' * 40}...', not a number"),
        ("a,a,b,c,y\n1,2,3,red,x\n", ": the header names column 'a' twice (columns 1 and 2)"),
        ("a,b,c,y\n1,2,red\n", ":2: 3 cells, the header has 4"),
        ("a,b,c,y\n1,2,red,x,extra\n", ":2: 5 cells, the header has 4"),
        ("a,b,c,y\n1,2,red,\n", ":2: the label is empty (a missing value)"),
        ("a,b,c,y\n1,2,red,w\n", ":2: label 'w' is not among the training classes"),
        ("a,b,c,y\n1,2,,x\n", ":2: column 'c' is empty (a missing category)"),
        ("a,b,c,y\n1,2,green,x\n", ":2: c='green' is an unknown category"),
        ("a,b,c,y\n", " needs a header row and at least one data row"),
        ("", " needs a header row and at least one data row"),
        ("a,b,y\n1,2,x\n", " needs rows with the columns"),
    ]
    for index, (text, message) in enumerate(cases):
        message = refused(program, write(tmp_path, f"bad{index}.csv", text), message)
        assert secret not in message
    (tmp_path / "bad.csv").write_bytes(b"a,b,c,y\n1,2,\xff,x\n")
    refused(program, tmp_path / "bad.csv", "as UTF-8 CSV")


def test_csv_fills_use_the_training_rows_only_and_match_between_targets(tmp_path):
    # b's training rows (the first 4 of 6) hold 1, 3 and 8; the validation rows 100 and 200,
    # which must not shift the fill.
    text = "a,b,y\n0,1,x\n1,,z\n2,3,x\n3,8,z\n4,100,x\n5,NaN,z\n6,200,x\n7,N/A,z\n"
    write(tmp_path, "t.csv", text)
    expected = {"mean": 4.0, "median": 3.0, "constant, fill_value: -1.5": -1.5}
    for index, (missing, fill) in enumerate(expected.items()):
        folder = tmp_path / str(index)
        folder.mkdir()
        write(folder, "t.csv", text)
        data = (
            f"{{source: csv, path: t.csv, label: y, validation_split: 0.5, missing: {missing}, "
            "standardize: false}"
        )
        keras, tf = programs(folder, spec_text(data, "v: {shape: [2]}", 2))
        train_x, _, val_x, _ = split(keras, folder / "t.csv")
        column = np.concatenate([train_x["v"][:, 1], val_x["v"][:, 1]])
        assert column.tolist() == [1, fill, 3, 8, 100, fill, 200, fill], missing
        other = split(tf, folder / "t.csv")
        assert other[0]["v"].tobytes() == train_x["v"].tobytes()
        assert other[2]["v"].tobytes() == val_x["v"].tobytes()
        if missing == "mean":
            write(folder, "empty.csv", "a,b,y\n0,,x\n1,,z\n2,3,x\n")
            refused(keras, folder / "empty.csv", "column 'b' has no value in the training rows")
            refused(keras, write(folder, "inf.csv", "a,b,y\n0,inf,x\n"), ":2: column 'b' holds")
    folder = tmp_path / "std"
    folder.mkdir()
    write(folder, "t.csv", text)
    data = "{source: csv, path: t.csv, label: y, validation_split: 0.5, missing: median}"
    keras, tf = programs(folder, spec_text(data, "v: {shape: [2]}", 2))
    train_x, _, val_x, _ = split(keras, folder / "t.csv")
    assert np.isfinite(train_x["v"]).all() and np.isfinite(val_x["v"]).all()
    assert abs(train_x["v"].mean(axis=0)).max() < 1e-6  # standardized after the fill
    assert split(tf, folder / "t.csv")[2]["v"].tobytes() == val_x["v"].tobytes()


# ---------------------------------------------------------------- npz (classes 3, 4, 5, 8)
X = np.zeros((6, 4), "float32")
Y = np.arange(6) % 3


def test_npz_values_are_checked_before_any_cast(tmp_path):
    np.savez(tmp_path / "d.npz", x=X, y=Y)
    text = spec_text("{source: npz, path: d.npz}", "v: {shape: [4]}", 3)
    (program,) = programs(tmp_path, text, ("tf",))
    bad_x = X.astype("float64")
    bad_x[3, 2] = 1e39
    nan_x = X.copy()
    nan_x[1, 0] = np.nan
    cases = [
        ({"x": X, "y": Y + np.array([0, 0, 0.5, 0, 0, 0])}, "holds 2.5 at index 2, not an integer"),
        ({"x": X, "y": np.where(Y == 1, 2**40, Y)}, "holds 1099511627776 at index 1, outside"),
        ({"x": X, "y": Y - 1}, "array 'y' holds -1 at index 0, outside the class ids [0, 3)"),
        ({"x": X, "y": np.where(Y == 2, np.nan, Y)}, "holds nan at index 2, not a class id"),
        ({"x": nan_x, "y": Y}, "array 'x' holds nan at index (1, 0), not a finite float32"),
        ({"x": bad_x, "y": Y}, "array 'x' holds 1e+39 at index (3, 2), not a finite float32"),
        ({"x": X.astype("U1"), "y": Y}, "array 'x' holds <U1 values, not numbers"),
        ({"x": X, "y": Y.astype("U1")}, "array 'y' holds <U1 values, not numbers"),
        ({"x": X[:0], "y": Y[:0]}, " holds no samples"),
        ({"x": X, "y": np.int64(1)}, "array 'y' is a single value, not one label per sample"),
        ({"x": X, "labels": Y}, "has no array 'y' (it has labels, x)"),
    ]
    for index, (arrays, message) in enumerate(cases):
        np.savez(tmp_path / f"bad{index}.npz", **arrays)
        refused(program, tmp_path / f"bad{index}.npz", message)
    marker = tmp_path / "UNPICKLED"
    evil = np.empty(6, dtype=object)
    evil[:] = [Marker(str(marker)) for _ in range(6)]
    np.savez(tmp_path / "evil.npz", x=X, y=evil)
    refused(program, tmp_path / "evil.npz", "holds Python objects (dtype object) in array 'y'")
    (tmp_path / "pickle.npz").write_bytes(__import__("pickle").dumps(Marker(str(marker))))
    refused(program, tmp_path / "pickle.npz", " is not a .npz archive")
    assert not marker.exists()
    archive(tmp_path / "raw.npz", {"x.npy": b"not an array", "y.npy": GOOD_Y})
    refused(program, tmp_path / "raw.npz", ": array 'x' is not an .npy array")
    huge = npy("", version=2, length=2**31)
    archive(tmp_path / "huge.npz", {"x.npy": huge, "y.npy": GOOD_Y})
    refused(program, tmp_path / "huge.npz", " is not a readable .npz archive")
    short = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 4)}", data=b"\0" * 10)
    archive(tmp_path / "short.npz", {"x.npy": short, "y.npy": GOOD_Y})
    refused(program, tmp_path / "short.npz", " is not a readable .npz archive")
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    refused(program, tmp_path / "empty.npz", "has no array 'x' (it has none)")


def test_npz_token_ids_and_probability_labels(tmp_path):
    (tmp_path / "ids").mkdir()
    np.savez(tmp_path / "ids" / "d.npz", x=np.zeros((6, 4), "int32"), y=Y)
    (program,) = programs(tmp_path / "ids", TOKENS, ("tf",))
    for index, (value, message) in enumerate(
        [
            (2**32 + 7, "holds 4294967303 at index (2, 1), outside the token ids [0, 50)"),
            (50, "array 'x' holds 50 at index (2, 1), outside the token ids [0, 50) of input"),
            (-1, "array 'x' holds -1 at index (2, 1), outside the token ids [0, 50)"),
        ]
    ):
        ids = np.zeros((6, 4), "int64")
        ids[2, 1] = value
        np.savez(tmp_path / f"ids{index}.npz", x=ids, y=Y)
        refused(program, tmp_path / f"ids{index}.npz", message)
    np.savez(tmp_path / "float_ids.npz", x=np.zeros((6, 4), "float32"), y=Y)
    refused(program, tmp_path / "float_ids.npz", "holds float32, but 'tokens' takes integer ids")
    features, labels, _, _ = split(program, tmp_path / "ids" / "d.npz")
    assert features["tokens"].dtype == np.int32 and labels.dtype == np.int32

    (tmp_path / "bin").mkdir()
    np.savez(tmp_path / "bin" / "d.npz", x=X, y=Y % 2)
    loss = "{type: binary_crossentropy, from_logits: true}"
    data = "{source: npz, path: d.npz}"
    (binary,) = programs(tmp_path / "bin", spec_text(data, "v: {shape: [4]}", 1, loss), ["tf"])
    np.savez(tmp_path / "bin2.npz", x=X, y=np.where(Y == 2, 2, 0))
    refused(binary, tmp_path / "bin2.npz", "holds 2 at index 2, outside [0, 1]: binary_cross")
    np.savez(tmp_path / "bin3.npz", x=X, y=np.where(Y == 2, np.inf, 0))
    refused(binary, tmp_path / "bin3.npz", "holds inf at index 2, not a finite float32 number")

    (tmp_path / "cat").mkdir()
    np.savez(tmp_path / "cat" / "d.npz", x=X, y=np.eye(3)[Y])
    loss = "{type: categorical_crossentropy, from_logits: true}"
    (categorical,) = programs(tmp_path / "cat", spec_text(data, "v: {shape: [4]}", 3, loss), ["tf"])
    soft = np.eye(3)[Y]
    soft[4] = [0.5, 0.5, 0.5]
    np.savez(tmp_path / "soft.npz", x=X, y=soft)
    refused(categorical, tmp_path / "soft.npz", "has a label row summing to 1.5 at index 4")
    split(categorical, tmp_path / "cat" / "d.npz")


def test_a_pickled_archive_ends_the_program_with_an_error_not_a_traceback(tmp_path):
    np.savez(tmp_path / "d.npz", x=X, y=Y)
    (tmp_path / "spec.yaml").write_text(
        spec_text("{source: npz, path: d.npz}", "v: {shape: [4]}", 3), encoding="utf-8"
    )
    _, code = generate(tmp_path / "spec.yaml", "tf", tmp_path)
    (tmp_path / "train.py").write_text(code, encoding="utf-8")
    marker = tmp_path / "UNPICKLED"
    evil = np.empty(6, dtype=object)
    evil[:] = [Marker(str(marker)) for _ in range(6)]
    np.savez(tmp_path / "evil.npz", x=X, y=evil)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(Path.cwd())}
    result = subprocess.run(
        [sys.executable, "train.py", "--data", "evil.npz", "--max-steps", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 1, result.stderr
    assert "error: evil.npz: holds Python objects (dtype object) in array 'y'" in result.stderr
    assert "Traceback" not in result.stderr and not marker.exists()


# ---------------------------------------------------------------- image folders (6, 8)
def test_image_folder_files_are_checked_when_the_program_loads_them(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "img" / name).mkdir(parents=True)
        (tmp_path / "img" / name / "ok.png").write_bytes(png(4, 4))
    data = "{source: image_dir, path: img, image_size: [4, 4], color_mode: grayscale}"
    (program,) = programs(tmp_path, spec_text(data, "v: {shape: [4, 4, 1]}", 2), ("keras",))
    features, labels, _, _ = split(program, tmp_path / "img")
    assert features["v"].shape == (2, 4, 4, 1) and sorted(labels.tolist()) == [0, 1]
    broken = png(4, 4)
    at = broken.index(b"IDAT") + 4
    broken = broken[:at] + b"\xff" * 8 + broken[at + 8 :]
    cases = [
        ("fifo.png", lambda p: os.mkfifo(p), "is not a regular file (a folder, FIFO or device)"),
        ("dir.png", lambda p: p.mkdir(), "is not a regular file (a folder, FIFO or device)"),
        ("huge.png", lambda p: p.write_bytes(png(20000, 20000, b"")), "declares 20000x20000"),
        ("garbage.gif", lambda p: p.write_bytes(b"garbage"), "is not a PNG, JPEG, BMP or GIF"),
        ("broken.png", lambda p: p.write_bytes(broken), "cannot be decoded as an image"),
        ("gone.png", lambda p: p.symlink_to(p.parent / "nothing"), "cannot be read (No such"),
    ]
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("blocked")))
    for index, (name, make, message) in enumerate(cases):
        folder = tmp_path / f"case{index}"
        for label in ("a", "b"):
            (folder / label).mkdir(parents=True)
            (folder / label / "ok.png").write_bytes(png(4, 4))
        make(folder / "b" / name)
        signal.alarm(20)  # opening a FIFO for reading would block until a writer comes
        try:
            with pytest.raises(SystemExit) as info:
                split(program, folder)
        finally:
            signal.alarm(0)
        assert str(info.value.code).startswith(f"error: {folder / 'b' / name} {message}")
    (tmp_path / "img" / "b" / "ok.png").unlink()
    refused(program, tmp_path / "img", "/b holds no .png/.jpg/.jpeg/.bmp/.gif images")
    (tmp_path / "img" / "b").rmdir()
    refused(program, tmp_path / "img", " has no class folder 'b'")
