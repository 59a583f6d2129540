"""`modelgen new`: create a project folder from a template, with sample data it trains on.

Project templates live in ``templates/projects/<name>/`` (a ``spec.yaml``, a ``README.md`` and a
``test_spec.py``, rendered in a sandboxed Jinja environment); each template's sample data is
generated here with NumPy, shaped by the options (classes, input shape), and learnable, so a new
project trains at once. Files are written atomically; an existing non-empty folder is written
into only with ``force``, and then only the template's own files are replaced.
"""

from __future__ import annotations

import keyword
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelgen._files import atomic_write
from modelgen.codegen import make_environment
from modelgen.errors import ModelgenError

__all__ = ["PROJECT_TEMPLATES", "ProjectTemplate", "create_project", "project_name_for"]

TEMPLATE_ROOT = Path(__file__).resolve().parent / "templates" / "projects"
SampleWriter = Callable[[Path, "Options"], list[Path]]


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
    write_sample: SampleWriter


def _write_png(path: Path, pixels) -> None:
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
    atomic_write(path, data + chunk(b"IEND", b""))


def _images(folder: Path, options: Options) -> list[Path]:
    """Per class, images with a bright bar at a class-specific angle over noise."""
    import numpy as np

    rng = np.random.default_rng(options.seed)
    height, width, channels = options.input_shape
    yy, xx = np.mgrid[0:height, 0:width]
    written = []
    for label in range(options.num_classes):
        angle = np.pi * label / options.num_classes
        for i in range(24):
            offset = rng.uniform(-0.15, 0.15) * min(height, width)
            distance = np.abs(
                (xx - width / 2) * np.sin(angle) - (yy - height / 2) * np.cos(angle) - offset
            )
            image = (
                rng.normal(40, 15, (height, width, channels)) + (distance < 1.5)[..., None] * 170
            )
            path = folder / "data" / "images" / f"class_{label}" / f"{i:03d}.png"
            _write_png(path, np.clip(image, 0, 255).astype("uint8"))
            written.append(path)
    return written


def _table(folder: Path, options: Options, regression: bool) -> list[Path]:
    """A CSV of Gaussian blobs (classification) or a noisy linear target (regression), with
    one categorical column to show its encoding."""
    import numpy as np

    rng = np.random.default_rng(options.seed)
    (width,) = options.input_shape
    numeric = width - 2  # the categorical column 'group' (a/b) is one-hot: 2 columns
    if numeric < 1:
        raise ModelgenError(
            "--input-shape must be at least [3] for this template (2 of the "
            "features come from the one-hot column 'group')"
        )
    count = 240
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
    path = folder / "data" / "table.csv"
    atomic_write(path, ("\n".join(lines) + "\n").encode())
    return [path]


def _tokens(folder: Path, options: Options) -> list[Path]:
    """Token-id sequences whose class decides which part of the vocabulary they favour."""
    import io

    import numpy as np

    rng = np.random.default_rng(options.seed)
    (length,) = options.input_shape
    vocabulary, count = 100, 400
    labels = rng.integers(0, options.num_classes, count)
    band = vocabulary // options.num_classes
    favoured = labels[:, None] * band + rng.integers(0, band, (count, length))
    noise = rng.integers(0, vocabulary, (count, length))
    tokens = np.where(rng.random((count, length)) < 0.5, favoured, noise).astype("int32")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, tokens=tokens, labels=labels.astype("int64"))
    path = folder / "data" / "texts.npz"
    atomic_write(path, buffer.getvalue())
    return [path]


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
        ),
        ProjectTemplate(
            "tabular-classifier",
            "an MLP on a CSV: standardized numbers and a one-hot category",
            (8,),
            1,
            True,
            lambda f, o: _table(f, o, False),
        ),
        ProjectTemplate(
            "regression",
            "an MLP predicting a number from a CSV",
            (8,),
            1,
            False,
            lambda f, o: _table(f, o, True),
        ),
        ProjectTemplate(
            "text-classifier",
            "embedding and average pooling over token ids",
            (20,),
            1,
            True,
            _tokens,
        ),
        ProjectTemplate(
            "residual-cnn",
            "a small CNN with skip connections (a DAG) on an image folder",
            (32, 32, 3),
            3,
            True,
            _images,
        ),
    ]
}


def project_name_for(folder: str) -> str:
    """A spec name from a folder name: 'my-classifier' -> 'my_classifier'."""
    return re.sub(r"[^A-Za-z0-9_]", "_", Path(folder).name).strip("_")


def _check_destination(folder: str) -> Path:
    path = Path(folder)
    if not folder or path.is_absolute() or ".." in path.parts:
        raise ModelgenError(
            f"project folder {folder!r} must be a relative path inside the current folder "
            "(no absolute paths, no '..')"
        )
    return path


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
    """Create a project in ``folder``; returns the files written."""
    if template not in PROJECT_TEMPLATES:
        raise ModelgenError(
            f"unknown template {template!r}; `modelgen templates` lists them: "
            + ", ".join(PROJECT_TEMPLATES)
        )
    spec = PROJECT_TEMPLATES[template]
    root = _check_destination(folder)
    name = name or project_name_for(folder)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name) or keyword.iskeyword(name):
        raise ModelgenError(
            f"project name {name!r} is not a valid Python name; pass --name "
            "with letters, digits and '_' (starting with a letter)"
        )
    shape = tuple(input_shape or spec.default_shape)
    if len(shape) != spec.rank or any(d <= 0 for d in shape):
        raise ModelgenError(
            f"--input-shape for {template} needs {spec.rank} positive number(s), "
            f"e.g. {','.join(map(str, spec.default_shape))}"
        )
    if spec.rank == 3 and (shape[2] not in (1, 3) or min(shape[:2]) < 8):
        raise ModelgenError(
            "--input-shape for images is HEIGHT,WIDTH,CHANNELS with channels 1 "
            "or 3 and sides of at least 8"
        )
    if spec.classes and not 2 <= num_classes <= 50:
        raise ModelgenError("--num-classes must be between 2 and 50")
    if root.exists() and not root.is_dir():
        raise ModelgenError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise ModelgenError(
            f"{root} exists and is not empty; use --force to replace the "
            "template's files in it (other files are left alone)"
        )
    options = Options(name, num_classes, shape)
    env = make_environment(TEMPLATE_ROOT, sandboxed=True)
    written: list[Path] = []
    context = {
        "name": name,
        "num_classes": num_classes,
        "shape": list(shape),
        "template": template,
        "target": target,
    }
    for source in sorted((TEMPLATE_ROOT / template).iterdir()):
        text = env.get_template(f"{template}/{source.name}").render(**context)
        destination = root / source.name.removesuffix(".jinja")
        atomic_write(destination, text.encode())
        written.append(destination)
    written += spec.write_sample(root, options)
    if target is not None:
        from modelgen.build import generate

        program = root / f"train_{target}.py"
        atomic_write(program, generate(root / "spec.yaml", target, root)[1].encode())
        written.append(program)
    return written
