"""Render a Graph into one self-contained Python training program for a target."""

from __future__ import annotations

import ast
import contextvars
import functools
import os
from pathlib import Path
from typing import Literal

import jinja2

from modelgen import VERIFIED_KERAS, VERIFIED_TENSORFLOW, __version__
from modelgen.codegen import style
from modelgen.codegen.literals import identifier, py_literal, word
from modelgen.codegen.naming import TF_MODULE_ATTRIBUTES, Namer, camel_case
from modelgen.errors import ModelgenError
from modelgen.graph import Graph

__all__ = [
    "TARGETS",
    "Target",
    "make_environment",
    "render",
    "render_with_names",
    "template_path",
]

Target = Literal["keras", "tf"]
#: target name -> template folder
TARGETS: dict[str, str] = {"keras": "keras", "tf": "lowlevel_tf"}
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


#: The Namer of the program being rendered; the `pyname` filter hands out its placeholders
#: (a context variable, since layer macros are loaded once without a render context).
_NAMER: contextvars.ContextVar[Namer] = contextvars.ContextVar("namer")


def _pyname(spec_name: str) -> str:
    return _NAMER.get().placeholder(spec_name)


def template_path(target: str, kind: str) -> Path:
    """Where a layer kind's emitter for ``target`` lives (naming convention)."""
    return TEMPLATES / TARGETS[target] / "layers" / f"{kind}.py.jinja"


def _relative(target: str, kind: str) -> str:
    return template_path(target, kind).relative_to(TEMPLATES).as_posix()


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates cached across runs (keyed by their source checksum, so never stale);
    this keeps `modelgen build` fast. No cache when the folder cannot be created."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = root / "modelgen" / f"jinja-{__version__}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


def make_environment(root: Path, *, sandboxed: bool = False) -> jinja2.Environment:
    """The Jinja settings every modelgen template uses: undefined names are errors, no HTML
    escaping, and spec values reach the output only through the `py` filter (a literal), the
    `pyname` filter (a spec name as an identifier, see naming.py), the `ident` filter (a
    checked identifier the template itself chose) or the `word` filter (a checked name in
    prose). Project templates render in a sandbox; compiled code templates are cached."""
    import jinja2.sandbox

    kind = jinja2.sandbox.SandboxedEnvironment if sandboxed else jinja2.Environment
    env = kind(
        loader=jinja2.FileSystemLoader(str(root)),
        bytecode_cache=None if sandboxed else _bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["py"] = py_literal
    env.filters["ident"] = identifier
    env.filters["word"] = word
    env.filters["pyname"] = _pyname
    return env


@functools.cache
def _environment() -> jinja2.Environment:
    return make_environment(TEMPLATES)


def render(graph: Graph, target: str, out_dir: Path | None = None) -> str:
    """Generated source for ``target``; ``out_dir`` is where the file will live (data paths
    are written relative to it, so the program finds its data from any working directory)."""
    return render_with_names(graph, target, out_dir)[0]


def render_with_names(
    graph: Graph, target: str, out_dir: Path | None = None
) -> tuple[str, dict[str, str]]:
    """(source, {spec name: its Python identifier}); the model class is under ``"<class>"``."""
    if target not in TARGETS:
        raise ModelgenError(f"unknown target '{target}': expected one of {', '.join(TARGETS)}")
    base = (out_dir or Path.cwd()).resolve()

    def relative(path: Path | None) -> str | None:
        return None if path is None else Path(os.path.relpath(path, base)).as_posix()

    env = _environment()
    template = env.get_template(f"{TARGETS[target]}/train.py.jinja")
    kinds = {node.kind for node in graph.nodes}
    namer = Namer()
    class_token = namer.placeholder(camel_case(graph.spec.name), role="class")
    reset = _NAMER.set(namer)
    try:
        code = template.render(
            # each layer kind's emitter macros, loaded once: layer_macros[kind].forward(node, g)
            layer_macros={k: env.get_template(_relative(target, k)).module for k in kinds},
            g=graph,
            target=target,
            spec=graph.spec,
            version=__version__,
            tf_version=VERIFIED_TENSORFLOW,
            keras_version=VERIFIED_KERAS,
            data_rel=relative(graph.data_path),
            val_rel=relative(graph.validation_path),
            class_name=class_token,
            style_rules=style.LINT_RULES,
            line_length=style.LINE_LENGTH,
        )
    finally:
        _NAMER.reset(reset)
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:  # a bug in a template, never the user's fault
        raise RuntimeError(f"modelgen generated invalid Python (line {exc.lineno}): {exc}") from exc
    inherited = TF_MODULE_ATTRIBUTES if target == "tf" else frozenset()
    code, chosen = namer.resolve(code, tree, inherited)
    names = {("<class>" if i == 0 else wanted): chosen[i] for i, wanted in enumerate(namer.wanted)}
    return style.format_python(code), names
