"""Check a spec's data against the model before anything runs, and read what code generation
needs from it (CSV columns and categories, image classes). Standard library only, except that
the values of small .npz arrays are checked with NumPy, imported then and only then; never
TensorFlow, so `modelgen validate` stays fast.

Each problem is reported at the spec line of the data field it concerns, naming the file (and
the row, column or array). Every read of a data file is bounded: headers only (an .npy header
of at most 10000 bytes, at most 1000 archive members, a bounded scan of each image's header),
never pickles, never a FIFO or device that could block. The generated programs repeat these
checks when they load data (their templates are in templates/common/data/), with the same
messages.
"""

from __future__ import annotations

import ast
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DataInfo", "inspect_data", "IMAGE_SUFFIXES", "MISSING_TOKENS", "resolve", "shown"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_CSV_BYTES = 50_000_000
#: numpy's own cap on an .npy header (``max_header_size``)
MAX_HEADER_BYTES = 10_000
MAX_NPZ_MEMBERS = 1_000
MAX_NPZ_DIRECTORY_BYTES = 4_000_000
#: arrays up to this many bytes (in all) have their values checked at validate time
MAX_VALUE_CHECK_BYTES = 50_000_000
MAX_IMAGE_SIDE = 16_384
MAX_IMAGE_PIXELS = 100_000_000
MAX_IMAGE_BYTES = 256_000_000
FLOAT32_MAX = 3.4028234663852886e38
#: CSV cells that mean "no value" (compared stripped and lower-cased); any spelling that
#: float() reads as NaN (nan, -NaN, +nan) is missing too.
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
SHOWN_CHARS = 40
BAD_FILES_SHOWN = 5


def shown(value: Any) -> str:
    """A value read from a data file, quoted and cut to SHOWN_CHARS characters: a failing
    check never prints more of a file (which might hold anything) than that."""
    text = str(value)
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...")


def _names(names: list[str], most: int = 12) -> str:
    listed = ", ".join(shown(n)[1:-1] for n in names[:most])
    return (listed + (f", ... ({len(names)} in all)" if len(names) > most else "")) or "none"


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
    #: examples in the training file or folder (for the data-memory estimate); 0 if unknown
    examples: int = 0
    #: things validate could not check (printed as notes; not errors)
    notes: list[str] = field(default_factory=list)


def resolve(path: str, spec_path: Path | None) -> Path:
    """A data path as given in the spec, relative to the spec file's folder."""
    p = Path(path)
    return p if p.is_absolute() or spec_path is None else spec_path.parent / p


def inspect_data(
    spec: Any,
    spec_path: Path | None,
    inputs: list,
    loss: Any,
    error,
    *,
    classes: int | None = None,
    id_ranges: dict[str, int] | None = None,
    check_values: bool = True,
) -> DataInfo:
    """Check ``spec.data`` against the model inputs and loss; return what codegen needs.
    ``check_values`` reads npz arrays' values too (not only their headers): `validate` does,
    `build` leaves it to the program, which checks them again before training.

    ``classes`` (the output's class count) and ``id_ranges`` (input -> smallest embedding
    input_dim) bound label and token id values; when not given they are read from the spec.
    """
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
    root = resolve(data.data_root or ".", spec_path)
    for key, given in paths:
        path = resolve(given, spec_path)
        kind = "folder" if data.source == "image_dir" else "file"
        if not _inside(path, root):
            where = f"data_root {root}" if data.data_root else f"the spec's folder {root}"
            error(
                f"data {kind} {path} resolves to {os.path.realpath(path)}, outside {where}",
                ("data", key),
                "modelgen reads data only inside the spec's folder tree (a spec must not copy "
                "other files into generated code): move the data there, or set `data_root:` "
                "to a folder that holds it, relative to the spec (e.g. `data_root: ..`)",
            )
            return info
        exists = path.is_dir() if data.source == "image_dir" else path.is_file()
        if not exists:
            error(
                f"data {kind} not found: {path}",
                ("data", key),
                "relative paths are relative to the spec file's folder",
            )
            return info
        if data.source == "npz":
            ranges = _id_ranges(spec) if id_ranges is None else id_ranges
            count = _class_count(spec) if classes is None else classes
            _check_npz(data, path, key, inputs, loss, info, error, ranges, count, check_values)
        elif data.source == "csv":
            _check_csv(data, path, key, inputs, loss, info, error)
        else:
            _check_images(data, path, key, inputs, loss, info, error)
    return info


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) inside ``root``."""
    real, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    return real == real_root or real.is_relative_to(real_root)


def _id_ranges(spec: Any) -> dict[str, int]:
    """For each int32 model input, the smallest input_dim of the embeddings reading it (as
    Graph.id_ranges, read from the spec: only a layer's explicit inputs, or the first layer's
    default, can name a model input)."""
    inputs = spec.model.inputs
    ranges: dict[str, int] = {}
    for index, item in enumerate(spec.model.layers):
        embedding = getattr(item, "embedding", None)
        if embedding is None:
            continue
        if item.inputs is None:
            sources = list(inputs) if index == 0 and len(inputs) == 1 else []
        else:
            sources = [item.inputs] if isinstance(item.inputs, str) else list(item.inputs)
        for name in sources:
            if name in inputs and inputs[name].dtype == "int32":
                ranges[name] = min(ranges.get(name, embedding.input_dim), embedding.input_dim)
    return ranges


def _class_count(spec: Any) -> int | None:
    """The output's class count when the spec states it (num_classes, or a dense output)."""
    if spec.data.num_classes is not None:
        return spec.data.num_classes
    items = spec.model.layers
    named = [i for i in items if spec.model.output and i.name == spec.model.output]
    dense = getattr(named[0] if named else items[-1], "dense", None)
    return None if dense is None else dense.units


# ---------------------------------------------------------------- npz
class _Bad(Exception):
    """A problem with a data file; the message completes '<file>: '."""


@dataclass(frozen=True)
class _Array:
    shape: tuple[int, ...]
    descr: str
    kind: str  # numpy's dtype kind: b i u f c O S U V M m
    nbytes: int


_DESCR = re.compile(r"^[<>|=]?([biufcOSUVMm])(\d*)(\[\w+\])?$")


def _zip_members(handle) -> int:
    """How many members a zip archive's end record declares, read before zipfile parses the
    whole central directory (a huge one would take unbounded time and memory)."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - 22 - 65_535))
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise _Bad("is not a .npz archive (no zip end record)")
    count = int.from_bytes(tail[at + 10 : at + 12], "little")
    directory = int.from_bytes(tail[at + 12 : at + 16], "little")
    if count == 0xFFFF or directory == 0xFFFFFFFF:  # zip64: the counts are in another record
        locator = tail[at - 20 : at] if at >= 20 else b""
        if locator[:4] != b"PK\x06\x07":
            raise _Bad("is not a readable .npz archive (a zip64 record is missing)")
        handle.seek(int.from_bytes(locator[8:16], "little"))
        record = handle.read(56)
        if record[:4] != b"PK\x06\x06" or len(record) < 56:
            raise _Bad("is not a readable .npz archive (a bad zip64 record)")
        count = int.from_bytes(record[32:40], "little")
        directory = int.from_bytes(record[40:48], "little")
    if count > MAX_NPZ_MEMBERS or directory > MAX_NPZ_DIRECTORY_BYTES:
        raise _Bad(
            f"declares {count} members ({directory:,} bytes of directory); modelgen reads "
            f"archives of at most {MAX_NPZ_MEMBERS} members"
        )
    return count


def _npy_header(handle, name: str) -> tuple[_Array, int]:
    """The array an .npy member declares and its header's length, reading at most
    MAX_HEADER_BYTES of header; every malformation is a _Bad naming the array."""
    array = f"array {shown(name)}"
    magic = handle.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise _Bad(f"{array} is not an .npy array (bad magic bytes)")
    major = magic[6]
    if major not in (1, 2, 3):
        raise _Bad(f"{array} has .npy format version {major}.{magic[7]}, unknown to modelgen")
    width = 2 if major == 1 else 4
    raw = handle.read(width)
    if len(raw) < width:
        raise _Bad(f"{array} has a truncated header")
    length = int.from_bytes(raw, "little")
    if length > MAX_HEADER_BYTES:
        raise _Bad(
            f"{array} declares a {length:,}-byte header; numpy reads at most "
            f"{MAX_HEADER_BYTES} bytes"
        )
    text = handle.read(length)
    if len(text) < length:
        raise _Bad(f"{array} has a truncated header ({len(text)} of {length} bytes)")
    try:
        header = ast.literal_eval(text.decode("latin1" if major < 3 else "utf-8"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeError):
        raise _Bad(f"{array} has a header that is not a Python literal") from None
    if not isinstance(header, dict):
        raise _Bad(f"{array} has a header that is not a dict ({type(header).__name__})")
    keys = {"descr", "fortran_order", "shape"}
    if set(header) != keys:
        wrong = sorted(map(str, keys ^ set(header)))
        raise _Bad(f"{array} has a header with missing or unknown keys: {_names(wrong)}")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(type(d) is int and 0 <= d < 2**63 for d in shape):
        raise _Bad(f"{array} has an invalid shape {shown(shape)} (a tuple of sizes)")
    if not isinstance(header["fortran_order"], bool):
        raise _Bad(f"{array} has a header whose fortran_order is not true or false")
    descr = header["descr"]
    if isinstance(descr, list):  # a structured dtype, possibly holding objects
        objects = any(isinstance(f, tuple) and "O" in str(f[1:2]) for f in descr)
        raise _Bad(
            f"{array} holds "
            + ("Python objects (dtype object)" if objects else "records (a structured dtype)")
            + "; modelgen reads plain numeric arrays only"
        )
    match = _DESCR.match(descr) if isinstance(descr, str) else None
    if match is None:
        raise _Bad(f"{array} has an unknown dtype {shown(descr)}")
    kind, size = match.group(1), int(match.group(2) or 8)
    if kind == "O":
        raise _Bad(
            f"{array} holds Python objects (dtype object); modelgen reads plain numeric arrays only"
        )
    if kind in "biuf" and size not in (1, 2, 4, 8, 16):
        raise _Bad(f"{array} has an unknown dtype {shown(descr)}")
    return _Array(tuple(shape), descr, kind, math.prod(shape) * size), 8 + width + length


def _read_npz(path: Path, wanted: list[str]) -> tuple[list[str], dict[str, _Array]]:
    """The archive's array names, and the headers of the ``wanted`` ones that it holds."""
    import zipfile  # only where needed: it pulls in the compression modules
    import zlib

    try:
        with open(path, "rb") as handle:
            _zip_members(handle)
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            members = [i.filename for i in infos]
            names = [m[:-4] for m in members if m.endswith(".npy")]
            doubled = sorted({n for n in members if members.count(n) > 1})
            if doubled:
                raise _Bad(f"holds the member {shown(doubled[0])} twice")
            arrays = {}
            for info in infos:
                name = info.filename[:-4]
                if not info.filename.endswith(".npy") or name not in wanted:
                    continue
                if info.flag_bits & 0x1:
                    raise _Bad(f"array {shown(name)} is encrypted")
                with archive.open(info) as handle:
                    array, header_bytes = _npy_header(handle, name)
                if array.kind in "biuf" and array.nbytes != info.file_size - header_bytes:
                    raise _Bad(
                        f"array {shown(name)} declares shape {list(array.shape)} of "
                        f"{array.descr} ({array.nbytes:,} bytes), but its member holds "
                        f"{max(0, info.file_size - header_bytes):,} bytes of data"
                    )
                arrays[name] = array
    except _Bad:
        raise
    except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error) as exc:
        raise _Bad(f"is not a readable .npz archive ({shown(exc)[1:-1]})") from None
    except zipfile.BadZipFile as exc:
        raise _Bad(f"is not a readable .npz archive ({shown(exc)[1:-1]})") from None
    return names, arrays


def _check_npz(
    data,
    path: Path,
    key: str,
    inputs,
    loss,
    info: DataInfo,
    error,
    id_ranges: dict[str, int],
    classes: int | None,
    check_values: bool = True,
) -> None:
    where = ("data", key)
    features = data.features if isinstance(data.features, dict) else {inputs[0].name: data.features}
    labels = _label_arrays(data, loss, classes)
    label_names = [name for name, _, _ in labels]
    wanted = [*features.values(), *label_names]
    try:
        names, arrays = _read_npz(path, wanted)
    except _Bad as exc:
        error(f"{path}: {exc}", where)
        return
    missing = [name for name in wanted if name not in arrays]
    if missing:
        error(
            f"{path} has no array {shown(missing[0])} (it has {_names(sorted(names))})",
            ("data", "features" if missing[0] not in label_names else "labels"),
        )
        return
    problems = len(_npz_shapes(path, where, inputs, labels, features, arrays, error))
    if problems:
        return
    count = arrays[label_names[0]].shape[0]
    if key == "path":
        info.examples = count
    if key == "path" and not data.validation_path:
        if math.floor(count * (1.0 - data.validation_split)) == 0:
            error(
                f"{path}: no training samples are left after validation_split "
                f"{data.validation_split} of {count}",
                ("data", "validation_split"),
            )
            return
    if not check_values:
        return
    needs = [(features[i.name], i) for i in inputs] + [(name, None) for name in label_names]
    total = sum(arrays[name].nbytes for name, _ in needs)
    if total > MAX_VALUE_CHECK_BYTES:
        info.notes.append(
            f"{path}: the arrays hold {total / 1e6:,.0f} MB, more than validate reads "
            f"({MAX_VALUE_CHECK_BYTES // 1_000_000} MB); their values are checked when the "
            "program loads them"
        )
        return
    _check_npz_values(path, where, needs, labels, id_ranges, error)


def _label_arrays(data, loss, classes: int | None) -> list[tuple[str, Any, int | None]]:
    """(label array, loss plan, class count) per output: ``loss`` is one plan, or a list of
    plans (one per output, each naming its output) with ``data.labels`` a mapping."""
    if not isinstance(loss, list):
        name = data.labels if isinstance(data.labels, str) else next(iter(data.labels.values()))
        return [(name, loss, classes)]
    return [(data.labels[plan.output], plan, plan.classes or None) for plan in loss]


def _npz_shapes(path, where, inputs, labels_of, features, arrays, error) -> list[str]:
    """Shape and dtype problems of the arrays the model reads (each also reported)."""
    found: list[str] = []

    def bad(message: str) -> None:
        found.append(message)
        error(message, where)

    first = labels_of[0][0]
    labels = arrays[first]
    for name in [*features.values(), *(name for name, _, _ in labels_of)]:
        array = arrays[name]
        if not array.shape:
            bad(f"{path}: array {shown(name)} is a single value, not one row per sample")
        elif array.shape[0] == 0:
            bad(f"{path}: array {shown(name)} holds no samples (shape {list(array.shape)})")
        elif array.kind not in "biuf":
            bad(f"{path}: array {shown(name)} holds {array.descr} values, not numbers")
    if found:
        return found
    count = labels.shape[0]
    for inp in inputs:
        name = features[inp.name]
        shape, descr = arrays[name].shape, arrays[name].descr
        if tuple(shape[1:]) != inp.shape:
            bad(
                f"array {shown(name)} in {path} has shape {list(shape)}, but the model "
                f"input '{inp.name}' needs [N, {', '.join(map(str, inp.shape))}]"
            )
        elif shape[0] != count:
            bad(f"{path}: {shown(name)} has {shape[0]} rows but {shown(first)} has {count}")
        if inp.dtype == "int32" and arrays[name].kind not in "iu":
            bad(
                f"array {shown(name)} in {path} holds {descr}, but the input "
                f"'{inp.name}' takes integer ids"
            )
    for name, loss, _ in labels_of:
        labels = arrays[name]
        label_shape = labels.shape[1:]
        if labels.shape[0] != count:
            bad(f"{path}: {shown(name)} has {labels.shape[0]} rows but {shown(first)} has {count}")
        elif label_shape != loss.label_shape and label_shape + (1,) != loss.label_shape:
            output = f" (output '{loss.output}')" if len(labels_of) > 1 else ""
            bad(
                f"labels {shown(name)}{output} in {path} have shape {list(labels.shape)}, but "
                f"{loss.type} needs [N{''.join(', ' + str(d) for d in loss.label_shape)}]"
            )
    return found


def _check_npz_values(path, where, needs, labels_of, id_ranges, error) -> None:
    """The values of the arrays the model reads, as the generated program checks them."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            for name, inp in needs:
                value = archive[name]
                if inp is None:
                    loss, classes = next((p, c) for n, p, c in labels_of if n == name)
                    problem = _label_problem(np, value, loss.type, classes)
                elif inp.dtype == "int32":
                    problem = _id_problem(np, value, inp.name, id_ranges.get(inp.name))
                else:
                    problem = _float_problem(np, value)
                if problem:
                    error(f"{path}: array {shown(name)} {problem}", where)
    except (OSError, EOFError, ValueError, MemoryError, zipfile.BadZipFile) as exc:
        error(f"{path}: cannot read its arrays ({shown(exc)[1:-1]})", where)


# The three checks below are the generated program's `check_arrays` (runtime.py.jinja), in the
# same words: what is wrong with an array as stored, before any cast, or None.
def _first(np, array, mask) -> str:
    index = np.unravel_index(int(np.argmax(mask)), mask.shape)
    place = int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)
    return f"holds {shown(array[index])[1:-1]} at index {place}"


def _float_problem(np, array) -> str | None:
    with np.errstate(over="ignore"):  # a float64 beyond float32 becomes inf: reported below
        values = array.astype("float32") if array.dtype.kind == "f" else array
    bad = ~np.isfinite(values)
    if bad.any():
        return f"{_first(np, array, bad)}, not a finite float32 number"
    return None


def _id_problem(np, array, name: str, limit: int | None) -> str | None:
    if limit is None:
        return None
    bad = (array < 0) | (array >= limit)
    if bad.any():
        return (
            f"{_first(np, array, bad)}, outside the token ids [0, {limit}) of input "
            f"'{name}' (the input_dim of the embedding reading it)"
        )
    return None


def _label_problem(np, array, loss: str, classes: int | None) -> str | None:
    if loss == "sparse_categorical_crossentropy":
        if array.dtype.kind == "f":
            bad = ~np.isfinite(array)
            if bad.any():
                return f"{_first(np, array, bad)}, not a class id"
            bad = array != np.floor(array)
            if bad.any():
                return f"{_first(np, array, bad)}, not an integer class id"
        if classes is not None:
            bad = (array < 0) | (array >= classes)
            if bad.any():
                return f"{_first(np, array, bad)}, outside the class ids [0, {classes})"
        return None
    problem = _float_problem(np, array)
    if problem or not loss.endswith("crossentropy"):
        return problem
    values = array.astype("float32")  # as the program compares them, after its cast
    bad = (values < 0) | (values > 1)
    if bad.any():
        return f"{_first(np, array, bad)}, outside [0, 1]: {loss} needs probabilities"
    if loss == "categorical_crossentropy" and array.ndim > 1:
        sums = values.astype("float64").sum(axis=-1)
        bad = np.abs(sums - 1.0) > 1e-3
        if bad.any():
            index = np.unravel_index(int(np.argmax(bad)), bad.shape)
            place = int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)
            return (
                f"has a label row summing to {float(sums[index]):.6g} at index {place}; "
                f"{loss} needs one-hot (or probability) rows that sum to 1"
            )
    return None


# ---------------------------------------------------------------- csv
def _cell(text: str) -> tuple[str, float]:
    """('number', value), ('missing', nan), ('infinite', inf) or ('text', nan) for a cell."""
    stripped = text.strip()
    try:
        value = float(stripped)
    except ValueError:
        return ("missing" if stripped.lower() in MISSING_TOKENS else "text"), math.nan
    if math.isnan(value):
        return "missing", value
    if abs(value) > FLOAT32_MAX:
        return "infinite", value
    return "number", value


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
        error(f"cannot read {path} as UTF-8 CSV ({shown(exc)[1:-1]})", where)
        return
    if not header or not rows:
        error(f"{path} needs a header row and at least one data row", where)
        return
    columns: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in columns:
            error(
                f"{path}: the header names column {shown(name)} twice (columns "
                f"{columns[name] + 1} and {i + 1})",
                where,
                "give every column its own name (a repeated name would hide a column)",
            )
            return
        columns[name] = i
    if data.label not in columns:
        error(f"{path} has no column '{data.label}' (columns: {_names(header)})", ("data", "label"))
        return
    features = data.features or [c for c in header if c != data.label]
    for name in [*features, *data.categorical]:
        if name not in columns:
            error(
                f"{path} has no column {shown(name)} (columns: {_names(header)})",
                ("data", "features" if name in features else "categorical"),
            )
            return
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            error(f"{path}:{number}: {len(row)} cells, the header has {len(header)}", where)
            return
    if key == "path":
        if not data.validation_path and math.floor(len(rows) * (1 - data.validation_split)) == 0:
            error(
                f"{path}: no training rows are left after validation_split "
                f"{data.validation_split} of {len(rows)}",
                ("data", "validation_split"),
            )
            return
        info.numeric = [c for c in features if c not in data.categorical]
    for column in data.categorical:
        for number, row in enumerate(rows, start=2):
            if not row[columns[column]].strip():
                error(
                    f"{path}:{number}: column '{column}' is empty (a missing category)",
                    where,
                    "missing categories are errors: fill them in the file, e.g. with a "
                    "category of their own such as 'unknown'",
                )
                return
    if key == "path":
        for column, encoding in data.categorical.items():
            values = sorted({row[columns[column]] for row in rows})
            info.categorical[column] = (encoding, values)
    else:
        for column, (_, values) in info.categorical.items():
            known = set(values)
            for number, row in enumerate(rows, start=2):
                if row[columns[column]] not in known:
                    error(
                        f"{path}:{number}: column '{column}' holds "
                        f"{shown(row[columns[column]])}, not one of the training file's "
                        "categories",
                        where,
                    )
                    return
    if not _check_numeric_cells(data, path, key, rows, columns, info, error):
        return
    if not _check_labels(data, path, key, rows, columns, loss, info, error):
        return
    if key == "path":
        info.examples = len(rows)
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


def _check_numeric_cells(data, path, key, rows, columns, info: DataInfo, error) -> bool:
    """Every numeric feature cell is a finite float32 number, or missing (an error unless the
    spec fills missing cells); False after reporting the first problem."""
    where = ("data", key)
    fill = "set `missing: mean`, `median` or `constant` (with `fill_value:`) to fill them"
    n_train = len(rows) if key != "path" else math.floor(len(rows) * (1 - data.validation_split))
    for column in info.numeric:
        index, present = columns[column], False
        for number, row in enumerate(rows, start=2):
            cell = row[index]
            kind, _ = _cell(cell)
            if kind == "missing" and data.missing == "error":
                what = "is empty" if not cell.strip() else f"holds {shown(cell)}"
                error(f"{path}:{number}: column '{column}' {what} (a missing value)", where, fill)
                return False
            if kind == "infinite":
                error(
                    f"{path}:{number}: column '{column}' holds {shown(cell)}, not a finite "
                    "float32 number",
                    where,
                    "fix or remove the row: no `missing:` setting replaces infinities",
                )
                return False
            if kind == "text":
                error(
                    f"{path}:{number}: column '{column}' holds {shown(cell)}, not a number",
                    where,
                    f"list '{column}' under `categorical:` if it holds categories",
                )
                return False
            present = present or (kind == "number" and number - 2 < n_train)
        if data.missing in ("mean", "median") and key == "path" and not present:
            error(
                f"{path}: column '{column}' has no value in the training rows to take the "
                f"{data.missing} of",
                where,
            )
            return False
    return True


def _check_labels(data, path, key, rows, columns, loss, info: DataInfo, error) -> bool:
    where = ("data", "label")
    labels = [row[columns[data.label]] for row in rows]
    classify = loss.type.endswith("crossentropy")
    for number, value in enumerate(labels, start=2):
        # class labels are names (only an empty one is missing); numeric targets are numbers
        kind = ("missing" if not value.strip() else "class") if classify else _cell(value)[0]
        if kind == "missing":
            what = "is empty" if not value.strip() else f"is {shown(value)}"
            error(f"{path}:{number}: the label {what} (a missing value)", where)
            return False
        if kind == "text":
            error(
                f"{path}:{number}: label {shown(value)} is not a number, and {loss.type} "
                "needs numeric targets",
                where,
            )
            return False
        if kind == "infinite":
            error(f"{path}:{number}: label {shown(value)} is not a finite float32 number", where)
            return False
    if classify:
        if key == "path":
            info.classes = sorted(set(labels), key=_natural)
        unknown = sorted(set(labels) - set(info.classes))
        if unknown:
            error(f"{path}: label {shown(unknown[0])} is not among the training classes", where)
            return False
    return True


def _natural(value: str) -> tuple[int, float | str]:
    """Sort numeric class labels by value (2 before 10), others alphabetically."""
    try:
        number = float(value)
    except ValueError:
        return (1, value)
    return (1, value) if math.isnan(number) else (0, number)  # NaN would break the order


# ---------------------------------------------------------------- image folders
def image_size_of(read):
    """(height, width) from a PNG, GIF, BMP or JPEG header, or None when ``read(offset, n)``
    (bytes of the file) is none of them. Reads a few bytes per JPEG segment, 1000 at most.
    The generated image_dir loader holds a copy of this function (a test keeps them equal)."""
    head = read(0, 32)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        if len(head) < 24 or head[12:16] != b"IHDR":
            return None
        return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return int.from_bytes(head[8:10], "little"), int.from_bytes(head[6:8], "little")
    if head[:2] == b"BM" and len(head) >= 26:
        if int.from_bytes(head[14:18], "little") == 12:
            return int.from_bytes(head[20:22], "little"), int.from_bytes(head[18:20], "little")
        width = int.from_bytes(head[18:22], "little", signed=True)
        height = int.from_bytes(head[22:26], "little", signed=True)
        return abs(height), abs(width)
    if head[:2] != b"\xff\xd8":
        return None
    offset = 2
    for _ in range(1000):
        segment = read(offset, 9)
        if len(segment) < 2 or segment[0] != 0xFF:
            return None
        marker = segment[1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            offset += 2
            continue
        if marker in (0xD9, 0xDA) or len(segment) < 4:  # image end or scan: no frame header
            return None
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if len(segment) < 9:
                return None
            return int.from_bytes(segment[5:7], "big"), int.from_bytes(segment[7:9], "big")
        length = int.from_bytes(segment[2:4], "big")
        if length < 2:
            return None
        offset += 2 + length
    return None


def _image_problem(file: Path) -> str | None:
    """What is wrong with one image file, reading only its header; None if nothing."""
    import stat

    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    try:
        mode = os.fstat(fd)
        if not stat.S_ISREG(mode.st_mode):
            return "is not a regular file (a folder, FIFO, socket or device)"
        if mode.st_size > MAX_IMAGE_BYTES:
            return f"is larger than {MAX_IMAGE_BYTES // 1_000_000} MB"
        with os.fdopen(fd, "rb", closefd=False) as handle:

            def read(offset: int, n: int) -> bytes:
                handle.seek(offset)
                return handle.read(n)

            size = image_size_of(read)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    finally:
        os.close(fd)
    return _size_problem(size)


def _size_problem(size) -> str | None:
    if size is None:
        return "is not a PNG, JPEG, BMP or GIF image"
    height, width = size
    if not height or not width:
        return f"declares an empty image ({height}x{width})"
    if max(height, width) > MAX_IMAGE_SIDE or height * width > MAX_IMAGE_PIXELS:
        return (
            f"declares {height}x{width} pixels; modelgen reads images of at most "
            f"{MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS:,} in all"
        )
    return None


def _check_images(data, path: Path, key: str, inputs, loss, info: DataInfo, error) -> None:
    where = ("data", key)
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if key == "path":
        info.classes = classes
    elif classes != info.classes:
        error(
            f"{path} has classes {_names(classes)}, the training folder has {info.classes}", where
        )
        return
    if len(classes) < 2:
        error(f"{path} needs one sub-folder per class (at least two), found {classes}", where)
        return
    bad: list[str] = []
    count = 0
    for name in classes:
        files = sorted(p for p in (path / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        count += len(files)
        if not files:
            error(f"{path / name} holds no {'/'.join(IMAGE_SUFFIXES)} images", where)
        for file in files:
            problem = _image_problem(file)
            if problem:
                bad.append(f"{file} {problem}")
    for message in bad[:BAD_FILES_SHOWN]:
        error(message, where, "remove or replace the file: nothing in an image folder is skipped")
    if len(bad) > BAD_FILES_SHOWN:
        error(f"{path}: {len(bad) - BAD_FILES_SHOWN} more image files fail these checks", where)
    if key == "path":
        info.examples = count
    if key == "path" and count and not data.validation_path:
        if math.floor(count * (1.0 - data.validation_split)) == 0:
            error(
                f"{path}: no training images are left after validation_split "
                f"{data.validation_split} of {count}",
                ("data", "validation_split"),
            )
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
