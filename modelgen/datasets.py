"""Check a spec's data against the model before anything runs, and read what code generation
needs from it (CSV columns and categories, image classes). Standard library only: no NumPy or
TensorFlow import, so `modelgen validate` stays fast.

Each problem is reported at the spec line of the data field it concerns, naming the file.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DataInfo", "inspect_data", "IMAGE_SUFFIXES", "resolve"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_CSV_BYTES = 50_000_000


@dataclass
class DataInfo:
    """What the templates need to know about the data, decided here once."""

    #: CSV: numeric feature columns, categorical columns -> (encoding, sorted categories)
    numeric: list[str] = field(default_factory=list)
    categorical: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: class names, in label order (CSV labels of a classification loss, image folders)
    classes: list[str] = field(default_factory=list)
    #: number of feature values per example a CSV gives
    width: int = 0


def resolve(path: str, spec_path: Path | None) -> Path:
    """A data path as given in the spec, relative to the spec file's folder."""
    p = Path(path)
    return p if p.is_absolute() or spec_path is None else spec_path.parent / p


def inspect_data(spec: Any, spec_path: Path | None, inputs: list, loss: Any, error) -> DataInfo:
    """Check ``spec.data`` against the model inputs and loss; return what codegen needs."""
    data = spec.data
    info = DataInfo()
    if data.source == "synthetic":
        return info
    paths = [("path", data.path)]
    if data.validation_path is not None:
        paths.append(("validation_path", data.validation_path))
        if data.validation_split:
            error(
                "give validation_split or validation_path, not both",
                ("data", "validation_path"),
                "remove one of them",
            )
    for key, given in paths:
        path = resolve(given, spec_path)
        exists = path.is_dir() if data.source == "image_dir" else path.is_file()
        if not exists:
            kind = "folder" if data.source == "image_dir" else "file"
            error(
                f"data {kind} not found: {path}",
                ("data", key),
                "relative paths are relative to the spec file's folder",
            )
            return info
        check = {"npz": _check_npz, "csv": _check_csv, "image_dir": _check_images}[data.source]
        check(data, path, key, inputs, loss, info, error)
    return info


def _npy_header(handle) -> tuple[tuple[int, ...], str]:
    """(shape, dtype descr) of a .npy member, read from its header without NumPy."""
    magic = handle.read(8)
    if magic[:6] != b"\x93NUMPY":
        raise ValueError("not a .npy array")
    size_bytes = 2 if magic[6] == 1 else 4
    length = int.from_bytes(handle.read(size_bytes), "little")
    header = ast.literal_eval(handle.read(length).decode("latin1"))
    return tuple(header["shape"]), str(header["descr"])


def _check_npz(data, path: Path, key: str, inputs, loss, info: DataInfo, error) -> None:
    import zipfile  # only where needed: it pulls in the compression modules

    where = ("data", key)
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {}
            for name in archive.namelist():
                if name.endswith(".npy"):
                    with archive.open(name) as handle:
                        arrays[name[:-4]] = _npy_header(handle)
    except (OSError, ValueError, SyntaxError, zipfile.BadZipFile) as exc:
        error(f"{path} is not a readable .npz archive ({exc})", where)
        return
    features = data.features if isinstance(data.features, dict) else {inputs[0].name: data.features}
    wanted = [*features.values(), data.labels]
    missing = [name for name in wanted if name not in arrays]
    if missing:
        error(
            f"{path} has no array '{missing[0]}' (it has {', '.join(sorted(arrays)) or 'none'})",
            ("data", "features" if missing[0] != data.labels else "labels"),
        )
        return
    count = arrays[data.labels][0][0] if arrays[data.labels][0] else 0
    for inp in inputs:
        shape, descr = arrays[features[inp.name]]
        if tuple(shape[1:]) != inp.shape or not shape:
            error(
                f"array '{features[inp.name]}' in {path} has shape {list(shape)}, but the model "
                f"input '{inp.name}' needs [N, {', '.join(map(str, inp.shape))}]",
                where,
            )
        elif shape[0] != count:
            error(
                f"{path}: '{features[inp.name]}' has {shape[0]} rows but '{data.labels}' has "
                f"{count}",
                where,
            )
        if inp.dtype == "int32" and descr[-2] not in "iu":
            error(
                f"array '{features[inp.name]}' in {path} holds {descr}, but the input "
                f"'{inp.name}' takes integer ids",
                where,
            )
    label_shape = tuple(arrays[data.labels][0][1:])
    if label_shape != loss.label_shape and label_shape + (1,) != loss.label_shape:
        error(
            f"labels '{data.labels}' in {path} have shape {list(arrays[data.labels][0])}, but "
            f"{loss.type} needs [N{''.join(', ' + str(d) for d in loss.label_shape)}]",
            where,
        )


def _check_csv(data, path: Path, key: str, inputs, loss, info: DataInfo, error) -> None:
    import csv

    where = ("data", key)
    if path.stat().st_size > MAX_CSV_BYTES:
        error(f"{path} is larger than {MAX_CSV_BYTES // 1_000_000} MB; convert it to .npz", where)
        return
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        error(f"cannot read {path} as UTF-8 CSV ({exc})", where)
        return
    if not header or not rows:
        error(f"{path} needs a header row and at least one data row", where)
        return
    columns = {name: i for i, name in enumerate(header)}
    if data.label not in columns:
        error(
            f"{path} has no column '{data.label}' (columns: {', '.join(header)})", ("data", "label")
        )
        return
    features = data.features or [c for c in header if c != data.label]
    for name in [*features, *data.categorical]:
        if name not in columns:
            error(
                f"{path} has no column '{name}' (columns: {', '.join(header)})",
                ("data", "features" if name in features else "categorical"),
            )
            return
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            error(f"{path}:{number}: {len(row)} cells, the header has {len(header)}", where)
            return
    if key == "path":
        info.numeric = [c for c in features if c not in data.categorical]
        for column, encoding in data.categorical.items():
            values = sorted({row[columns[column]] for row in rows})
            info.categorical[column] = (encoding, values)
    for column in info.numeric:
        for number, row in enumerate(rows, start=2):
            cell = row[columns[column]]
            try:
                float(cell)
            except ValueError:
                error(
                    f"{path}:{number}: column '{column}' holds {cell!r}, not a number",
                    where,
                    f"list '{column}' under `categorical:` if it holds categories",
                )
                return
    labels = [row[columns[data.label]] for row in rows]
    if loss.type.endswith("crossentropy"):
        if key == "path":
            info.classes = sorted(set(labels), key=_natural)
        unknown = sorted(set(labels) - set(info.classes))
        if unknown:
            error(f"{path}: label {unknown[0]!r} is not among the training classes", where)
    else:
        for number, value in enumerate(labels, start=2):
            try:
                float(value)
            except ValueError:
                error(
                    f"{path}:{number}: label {value!r} is not a number, and {loss.type} "
                    "needs numeric targets",
                    ("data", "label"),
                )
                return
    if key == "path":
        info.width = len(info.numeric) + sum(
            len(values) if encoding == "one_hot" else 1
            for encoding, values in info.categorical.values()
        )
        if len(inputs) != 1 or inputs[0].shape != (info.width,) or inputs[0].dtype != "float32":
            error(
                f"the CSV gives {info.width} feature values per row ({len(info.numeric)} numeric"
                + "".join(
                    f", '{c}' {e} x{len(v) if e == 'one_hot' else 1}"
                    for c, (e, v) in info.categorical.items()
                )
                + f"), so the model needs one float input of shape [{info.width}]",
                ("model", "inputs"),
            )


def _natural(value: str) -> tuple[int, float | str]:
    """Sort numeric class labels by value (2 before 10), others alphabetically."""
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _check_images(data, path: Path, key: str, inputs, loss, info: DataInfo, error) -> None:
    where = ("data", key)
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if key == "path":
        info.classes = classes
    elif classes != info.classes:
        error(f"{path} has classes {classes}, the training folder has {info.classes}", where)
        return
    if len(classes) < 2:
        error(f"{path} needs one sub-folder per class (at least two), found {classes}", where)
        return
    for name in classes:
        files = [p for p in (path / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            error(f"{path / name} holds no {'/'.join(IMAGE_SUFFIXES)} images", where)
    channels = 3 if data.color_mode == "rgb" else 1
    expected = (*data.image_size, channels)
    if len(inputs) != 1 or inputs[0].shape != expected:
        error(
            f"image_size {data.image_size} with color_mode {data.color_mode} gives images of "
            f"shape {list(expected)}, so the model needs one input of that shape",
            ("model", "inputs"),
        )
    if loss.type != "sparse_categorical_crossentropy":
        error(
            "an image folder gives integer class labels: use sparse_categorical_crossentropy",
            ("train", "loss"),
        )
