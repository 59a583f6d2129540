"""`modelgen new`: create a project folder from a template, with sample data it trains on.

Project templates live in ``templates/projects/<name>/`` (a ``spec.yaml``, a ``README.md`` and a
``test_spec.py``, rendered in a sandboxed Jinja environment); each template's sample data is
generated here with NumPy, shaped by the options (classes, input shape), bounded in size, and
learnable, so a new project trains at once.

Creating a project is all or nothing. Every option and every path is checked, and every file is
rendered in memory, before anything is written; the files are then written into a private
staging folder (where the training program, if asked for, is generated from them) and only
then moved into place: a new folder by one rename, an existing one (``force``) file by file,
each replaced file restored if a later move fails. The destination may be any path (``~`` is
expanded); the links in it that the user typed are followed, but a destination that is itself a
symbolic link, or a link where the template writes a file or folder, is refused: modelgen never
writes through a link the user did not name.
"""

from __future__ import annotations

import io
import keyword
import math
import os
import re
import secrets
import shutil
import stat
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from modelgen._files import sync_folder
from modelgen.codegen import make_environment
from modelgen.errors import ModelgenError

__all__ = [
    "MAX_IMAGE_SIDE",
    "MAX_SAMPLE_BYTES",
    "MAX_SEQUENCE_LENGTH",
    "MAX_TABLE_WIDTH",
    "PROJECT_TEMPLATES",
    "ProjectTemplate",
    "create_project",
    "project_name_for",
]

TEMPLATE_ROOT = Path(__file__).resolve().parent / "templates" / "projects"

#: Bounds on the generated sample data (it is a demonstration; your own data may be any size).
MAX_IMAGE_SIDE = 1024
MAX_TABLE_WIDTH = 1024
MAX_SEQUENCE_LENGTH = 2048
#: raw sample data (pixels, table cells, token ids) in bytes
MAX_SAMPLE_BYTES = 32 * 2**20
IMAGES_PER_CLASS = 24
TABLE_ROWS = 240
SEQUENCES = 400

#: a project's files: POSIX path relative to the project folder -> content
Files = dict[str, bytes]


@dataclass(frozen=True)
class Options:
    name: str
    num_classes: int
    input_shape: tuple[int, ...]
    seed: int = 0


@dataclass(frozen=True)
class ProjectTemplate:
    name: str
    description: str
    default_shape: tuple[int, ...]
    #: number of dimensions of --input-shape, and whether --num-classes applies
    rank: int
    classes: bool
    #: the sample data, in memory
    make_sample: Callable[[Options], Files]
    #: raises ModelgenError when the options would make sample data too large or unusable
    check_sample: Callable[[Options], None]


def _mb(size: float) -> str:
    return f"{size / 2**20:.0f} MB" if size >= 2**20 else f"{size / 2**10:.0f} KB"


def _png(pixels) -> bytes:
    """A minimal PNG encoder (8-bit grey or RGB), so no imaging library is needed."""
    height, width = pixels.shape[:2]
    color = 0 if pixels.ndim == 2 or pixels.shape[2] == 1 else 2
    rows = pixels.reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
    return data + chunk(b"IEND", b"")


def _check_images(options: Options) -> None:
    height, width, channels = options.input_shape
    if channels not in (1, 3) or min(height, width) < 8:
        raise ModelgenError(
            "--input-shape for images is HEIGHT,WIDTH,CHANNELS with channels 1 "
            "or 3 and sides of at least 8"
        )
    if max(height, width) > MAX_IMAGE_SIDE:
        raise ModelgenError(
            f"--input-shape {height},{width},{channels}: the sample images' sides must be at "
            f"most {MAX_IMAGE_SIDE}; use e.g. 32,32,{channels} or 224,224,{channels} (the sample "
            "data is small on purpose; your own images can be any size)"
        )
    per_pixel = IMAGES_PER_CLASS * options.num_classes * channels
    size = per_pixel * height * width
    if size > MAX_SAMPLE_BYTES:
        side = math.isqrt(MAX_SAMPLE_BYTES // per_pixel)
        raise ModelgenError(
            f"--input-shape {height},{width},{channels} with {options.num_classes} classes "
            f"would make {_mb(size)} of sample images ({IMAGES_PER_CLASS} per class); the "
            f"limit is {_mb(MAX_SAMPLE_BYTES)}: use sides of at most {side} (e.g. "
            f"{side},{side},{channels}){' or fewer classes' if options.num_classes > 2 else ''}"
            ", and point the spec at your own images for larger ones"
        )


def _images(options: Options) -> Files:
    """Per class, images with a bright bar at a class-specific angle over noise."""
    import numpy as np

    rng = np.random.default_rng(options.seed)
    height, width, channels = options.input_shape
    yy, xx = np.mgrid[0:height, 0:width]
    files: Files = {}
    for label in range(options.num_classes):
        angle = np.pi * label / options.num_classes
        for i in range(IMAGES_PER_CLASS):
            offset = rng.uniform(-0.15, 0.15) * min(height, width)
            distance = np.abs(
                (xx - width / 2) * np.sin(angle) - (yy - height / 2) * np.cos(angle) - offset
            )
            image = (
                rng.normal(40, 15, (height, width, channels)) + (distance < 1.5)[..., None] * 170
            )
            path = f"data/images/class_{label}/{i:03d}.png"
            files[path] = _png(np.clip(image, 0, 255).astype("uint8"))
    return files


def _check_table(options: Options) -> None:
    (width,) = options.input_shape
    if width < 3:
        raise ModelgenError(
            "--input-shape must be at least [3] for this template (2 of the "
            "features come from the one-hot column 'group')"
        )
    if width > MAX_TABLE_WIDTH:
        raise ModelgenError(
            f"--input-shape {width}: the sample table is at most {MAX_TABLE_WIDTH} features "
            "wide; use e.g. 8, and point the spec at your own CSV for a wider one "
            "(`modelgen validate` tells you the width it gives)"
        )


def _table(options: Options, regression: bool) -> Files:
    """A CSV of Gaussian blobs (classification) or a noisy linear target (regression), with
    one categorical column to show its encoding."""
    import numpy as np

    rng = np.random.default_rng(options.seed)
    (width,) = options.input_shape
    numeric = width - 2  # the categorical column 'group' (a/b) is one-hot: 2 columns
    count = TABLE_ROWS
    groups = rng.integers(0, 2, count)
    if regression:
        x = rng.normal(0, 1, (count, numeric))
        target = x @ rng.normal(0, 1, numeric) + 2.0 * groups + rng.normal(0, 0.3, count)
        labels = [f"{v:.4f}" for v in target]
    else:
        centers = rng.normal(0, 2.5, (options.num_classes, numeric))
        classes = rng.integers(0, options.num_classes, count)
        x = centers[classes] + rng.normal(0, 1, (count, numeric))
        labels = [f"kind_{c}" for c in classes]
    header = [f"f{i}" for i in range(numeric)] + ["group", "label"]
    lines = [",".join(header)]
    for row, group, label in zip(x, groups, labels):
        lines.append(",".join([*(f"{v:.4f}" for v in row), "ab"[group], label]))
    return {"data/table.csv": ("\n".join(lines) + "\n").encode()}


def _check_tokens(options: Options) -> None:
    (length,) = options.input_shape
    if length > MAX_SEQUENCE_LENGTH:
        raise ModelgenError(
            f"--input-shape {length}: the sample sequences are at most {MAX_SEQUENCE_LENGTH} "
            "tokens long; use e.g. 20, and point the spec at your own .npz for longer ones"
        )


def _tokens(options: Options) -> Files:
    """Token-id sequences whose class decides which part of the vocabulary they favour."""
    import numpy as np

    rng = np.random.default_rng(options.seed)
    (length,) = options.input_shape
    vocabulary, count = 100, SEQUENCES
    labels = rng.integers(0, options.num_classes, count)
    band = vocabulary // options.num_classes
    favoured = labels[:, None] * band + rng.integers(0, band, (count, length))
    noise = rng.integers(0, vocabulary, (count, length))
    tokens = np.where(rng.random((count, length)) < 0.5, favoured, noise).astype("int32")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, tokens=tokens, labels=labels.astype("int64"))
    return {"data/texts.npz": buffer.getvalue()}


PROJECT_TEMPLATES: dict[str, ProjectTemplate] = {
    t.name: t
    for t in [
        ProjectTemplate(
            "image-classifier",
            "a small CNN on an image folder (one sub-folder per class)",
            (32, 32, 3),
            3,
            True,
            _images,
            _check_images,
        ),
        ProjectTemplate(
            "tabular-classifier",
            "an MLP on a CSV: standardized numbers and a one-hot category",
            (8,),
            1,
            True,
            lambda o: _table(o, False),
            _check_table,
        ),
        ProjectTemplate(
            "regression",
            "an MLP predicting a number from a CSV",
            (8,),
            1,
            False,
            lambda o: _table(o, True),
            _check_table,
        ),
        ProjectTemplate(
            "text-classifier",
            "embedding and average pooling over token ids",
            (20,),
            1,
            True,
            _tokens,
            _check_tokens,
        ),
        ProjectTemplate(
            "residual-cnn",
            "a small CNN with skip connections (a DAG) on an image folder",
            (32, 32, 3),
            3,
            True,
            _images,
            _check_images,
        ),
    ]
}


def project_name_for(folder: str) -> str:
    """A spec name from a folder name: 'my-classifier' -> 'my_classifier', '.' -> the current
    folder's name."""
    base = os.path.basename(os.path.abspath(os.path.expanduser(folder))) if folder else ""
    return re.sub(r"[^A-Za-z0-9_]", "_", base).strip("_")


# --- where the project goes ---------------------------------------------------------------


@dataclass(frozen=True)
class _Destination:
    given: Path  # as the user typed it, ``~`` expanded: what messages and results show
    real: Path  # its real path: no links in the part that exists
    exists: bool
    base: Path  # the existing folder the staging folder is made in (``real`` or an ancestor)


def _shorten(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 4 :]}"


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _check_folder_text(folder: str) -> None:
    if not folder:
        raise ModelgenError("the project folder is empty; give a path, e.g. my-project")
    control = next((c for c in folder if ord(c) < 32 or ord(c) == 127), None)
    if control is not None:
        raise ModelgenError(
            f"project folder {folder!r} contains the control character {control!r}; "
            "choose a name without one"
        )


def _destination(folder: str, force: bool) -> _Destination:
    given = Path(os.path.expanduser(folder))
    if given.is_symlink():
        raise ModelgenError(
            f"{given} is a symbolic link (to {_link_target(given)}); modelgen new does not "
            f"write through links: pass the real path, {os.path.realpath(given)}"
        )
    # Links among the parents are the user's own choice and are followed, unless they lead
    # nowhere (mkdir -p and cargo refuse those too).
    for parent in given.parents:
        if os.path.lexists(parent):
            if parent.is_symlink() and not parent.exists():
                raise ModelgenError(
                    f"{parent} is a symbolic link to {_link_target(parent)}, which does not "
                    "lead to a folder; create it first or pass the real path"
                )
            break
    real = Path(os.path.realpath(given))
    if ".." in given.parts:  # shown as it resolves: 'a/../b' needs no 'a'
        given = real if given.is_absolute() else Path(os.path.relpath(real))
    if os.path.lexists(real):
        if not real.is_dir():
            raise ModelgenError(f"{given} exists and is not a folder")
        if not force and any(real.iterdir()):
            raise ModelgenError(
                f"{given} exists and is not empty; use --force to replace the "
                "template's files in it (other files are left alone)"
            )
        base, exists = real, True
    else:
        base = next(p for p in real.parents if os.path.lexists(p))
        if not base.is_dir():
            raise ModelgenError(f"cannot create {given}: {base} is not a folder")
        exists = False
    if not os.access(base, os.W_OK | os.X_OK):
        raise ModelgenError(f"cannot create {given}: no permission to write in {base}")
    return _Destination(given, real, exists, base)


def _check_paths(dest: _Destination, template: str, relative: list[str]) -> None:
    """Where a path the template writes exists already, it is a plain file or folder of the
    right kind, never a link; and every path resolves inside the destination's real path."""
    wanted: dict[tuple[str, ...], bool] = {}  # parts -> is a folder
    for rel in relative:
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or {"..", "."} & set(parts):
            raise ModelgenError(f"template {template} would write {rel!r}, outside {dest.given}")
        for i in range(1, len(parts) + 1):
            wanted[parts[:i]] = wanted.get(parts[:i], False) or i < len(parts)
    if dest.exists:
        links: list[str] = []
        clashes: list[str] = []
        blocked: list[tuple[str, ...]] = []
        for parts, is_folder in sorted(wanted.items()):  # a folder before what it holds
            if any(parts[: len(b)] == b for b in blocked):
                continue
            path = dest.real.joinpath(*parts)
            try:
                mode = os.lstat(path).st_mode
            except (FileNotFoundError, NotADirectoryError):
                continue
            shown = "/".join(parts)
            if stat.S_ISLNK(mode):
                links.append(f"{shown} -> {_link_target(path)}")
            elif is_folder and not stat.S_ISDIR(mode):
                clashes.append(f"{shown} is not a folder")
            elif not is_folder and not stat.S_ISREG(mode):
                kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
                clashes.append(f"{shown} is {kind}")
            else:
                continue
            blocked.append(parts)
        if links:
            raise ModelgenError(
                f"in {dest.given}, the template would write through symbolic links, which "
                f"modelgen new never follows: {', '.join(links)}; remove them (or create the "
                "project elsewhere) and run again; nothing was written"
            )
        if clashes:
            raise ModelgenError(
                f"in {dest.given}, the template's paths are taken: {'; '.join(clashes)}; move "
                "them away and run again; nothing was written"
            )
    for rel in relative:
        inside = Path(os.path.realpath(dest.real.joinpath(*PurePosixPath(rel).parts)))
        if not inside.is_relative_to(dest.real):
            raise ModelgenError(
                f"template {template} would write {rel} at {inside}, outside {dest.given}"
            )


# --- writing: a private staging folder, then into place -----------------------------------


def _make_staging(base: Path) -> tuple[Path, int]:
    """A fresh folder in ``base``, private while it is filled; returns it and the mode a new
    folder gets here (the umask's), to give it before it becomes the project."""
    for _ in range(100):
        path = base / f".modelgen-new-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(0o700)
        return path, mode
    raise ModelgenError(f"cannot make a staging folder in {base}")


def _write_tree(root: Path, files: Files) -> None:
    for rel, data in files.items():
        path = root.joinpath(*PurePosixPath(rel).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:  # 0o666 less the umask
            handle.write(data)


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_new(staging: Path, mode: int, dest: _Destination) -> None:
    """A new project folder: create the missing parents, then one rename."""
    created: list[Path] = []
    try:
        for parent in reversed(dest.real.parents):
            if not os.path.lexists(parent):
                parent.mkdir()
                created.append(parent)
        staging.chmod(mode)
        os.rename(staging, dest.real)
        sync_folder(dest.real.parent)
    except BaseException:
        for parent in reversed(created):
            try:
                parent.rmdir()
            except OSError:
                pass
        raise


def _move_into(staging: Path, relative: list[str], dest: _Destination) -> None:
    """An existing folder: replace or add the template's files one by one; if one fails, put
    back what was there."""
    backups = staging / ".replaced"
    backups.mkdir()
    created: list[Path] = []  # folders made in the destination
    placed: list[tuple[Path, Path | None]] = []  # (file, its backup or None when it was new)
    try:
        for index, rel in enumerate(relative):
            parts = PurePosixPath(rel).parts
            target = dest.real.joinpath(*parts)
            for i in range(1, len(parts)):
                folder = dest.real.joinpath(*parts[:i])
                if not os.path.lexists(folder):
                    folder.mkdir()
                    created.append(folder)
                elif not stat.S_ISDIR(os.lstat(folder).st_mode):  # changed since the check
                    raise ModelgenError(f"{folder} is no longer a plain folder; nothing replaced")
            source = staging.joinpath(*parts)
            backup = None
            try:
                old = os.lstat(target)
            except FileNotFoundError:
                old = None
            if old is not None:
                if not stat.S_ISREG(old.st_mode):  # changed since the check
                    raise ModelgenError(f"{target} is no longer a plain file; nothing replaced")
                try:  # keep the file's owner (where allowed) and mode
                    os.chown(source, old.st_uid, old.st_gid)
                except OSError:
                    pass
                os.chmod(source, stat.S_IMODE(old.st_mode) & 0o777)
                _sync_file(source)  # what it replaces is the user's: on disk before the rename
                backup = backups / str(index)
                try:
                    os.link(target, backup)
                except OSError:
                    shutil.copy2(target, backup)
            os.replace(source, target)
            placed.append((target, backup))
        for folder in {p.parent for p, _ in placed}:
            sync_folder(folder)
    except BaseException:
        for target, backup in reversed(placed):
            try:
                if backup is None:
                    target.unlink()
                else:
                    os.replace(backup, target)
            except OSError:
                pass
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise


def create_project(
    folder: str,
    template: str,
    *,
    name: str | None = None,
    num_classes: int = 3,
    input_shape: tuple[int, ...] | None = None,
    target: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Create a project in ``folder`` (any path; ``~`` is expanded), all or nothing; returns
    the files written, as paths under ``folder``."""
    if template not in PROJECT_TEMPLATES:
        raise ModelgenError(
            f"unknown template {template!r}; `modelgen templates` lists them: "
            + ", ".join(PROJECT_TEMPLATES)
        )
    spec = PROJECT_TEMPLATES[template]
    _check_folder_text(folder)
    name = name or project_name_for(folder)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name) or keyword.iskeyword(name):
        raise ModelgenError(
            f"project name {name!r} is not a valid Python name; pass --name "
            "with letters, digits and '_' (starting with a letter, at most 64)"
        )
    shape = tuple(spec.default_shape if input_shape is None else input_shape)
    if len(shape) != spec.rank or any(
        not isinstance(d, int) or isinstance(d, bool) or d <= 0 for d in shape
    ):
        raise ModelgenError(
            f"--input-shape for {template} needs {spec.rank} positive number(s), "
            f"e.g. {','.join(map(str, spec.default_shape))}"
        )
    if spec.classes and not (isinstance(num_classes, int) and 2 <= num_classes <= 50):
        raise ModelgenError("--num-classes must be between 2 and 50")
    if target not in (None, "keras", "tf"):
        raise ModelgenError(f"unknown target {target!r}: expected keras or tf")
    options = Options(name, num_classes if spec.classes else 3, shape)
    spec.check_sample(options)
    try:
        dest = _destination(folder, force)
        files: Files = {}
        env = make_environment(TEMPLATE_ROOT, sandboxed=True)
        context = {
            "name": name,
            "num_classes": num_classes,
            "shape": list(shape),
            "template": template,
            "target": target,
        }
        for source in sorted((TEMPLATE_ROOT / template).glob("*.jinja")):
            text = env.get_template(f"{template}/{source.name}").render(**context)
            files[source.name.removesuffix(".jinja")] = text.encode()
        files.update(spec.make_sample(options))
        relative = list(files) + ([f"train_{target}.py"] if target else [])
        _check_paths(dest, template, relative)
        staging, mode = _make_staging(dest.base)
        try:
            _write_tree(staging, files)
            if target is not None:
                from modelgen.build import generate

                program = generate(staging / "spec.yaml", target, staging)[1]
                _write_tree(staging, {f"train_{target}.py": program.encode()})
            if dest.exists:
                _move_into(staging, relative, dest)
            else:
                _move_new(staging, mode, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        shown = _shorten(str(Path(os.path.expanduser(folder))))
        where = f" ({_shorten(str(exc.filename))})" if exc.filename not in (None, folder) else ""
        raise ModelgenError(
            f"cannot create the project in {shown}: {exc.strerror or exc}{where}; "
            "nothing was written"
        ) from None
    return [dest.given.joinpath(*PurePosixPath(rel).parts) for rel in relative]
