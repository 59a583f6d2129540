"""Library entry points behind the CLI: compile a spec, write or check generated code."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from modelgen._files import atomic_write
from modelgen.codegen import TARGETS, render
from modelgen.errors import ModelgenError
from modelgen.graph import Graph, compile_file

__all__ = [
    "generate",
    "render_program",
    "write_generated",
    "is_up_to_date",
    "OUTPUT_MARK",
]

#: Last line of every generated file: a hash of everything above it, so modelgen can tell its
#: own untouched output (safe to regenerate) from a file a person edited (needs --force).
OUTPUT_MARK = "# modelgen-output-sha256: "


def generate(
    spec_path: str | Path,
    target: str,
    out_dir: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[Graph, str]:
    """Compile ``spec_path`` (with dotted-path ``overrides`` such as
    ``{"runtime.jit_compile": True}``) and render it for ``target``; returns (graph, source)."""
    if target not in TARGETS:
        raise ModelgenError(f"unknown target '{target}': expected one of {', '.join(TARGETS)}")
    graph = compile_file(spec_path, overrides)
    return graph, render_program(graph, target, out_dir)


def render_program(graph: Graph, target: str, out_dir: Path | None = None) -> str:
    """The generated file's text, ending with the hash line that marks it as modelgen's."""
    code = render(graph, target, out_dir)
    return code + OUTPUT_MARK + hashlib.sha256(code.encode()).hexdigest() + "\n"


def _is_pristine(text: str) -> bool:
    body, sep, digest = text.rpartition(OUTPUT_MARK)
    return bool(sep) and hashlib.sha256(body.encode()).hexdigest() == digest.strip()


def is_up_to_date(path: Path, code: str) -> bool:
    """True when ``path`` holds exactly ``code``."""
    return path.is_file() and path.read_text(encoding="utf-8") == code


def write_generated(path: Path, code: str, *, force: bool = False) -> None:
    """Write ``code`` atomically. An existing file is replaced only if it is modelgen's own,
    unedited output, or with ``force``."""
    if path.is_dir():
        raise ModelgenError(f"{path} is a folder; give a file name with -o")
    if path.exists() and not force:
        try:
            existing = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            existing = ""
        if not _is_pristine(existing):
            raise ModelgenError(
                f"{path} exists and is not modelgen's unedited output; "
                "refusing to overwrite it (use --force to replace it)"
            )
    atomic_write(path, code.encode("utf-8"))
