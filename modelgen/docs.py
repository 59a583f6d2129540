"""Reference tables for docs/spec.md and the README's spec example, generated so they cannot drift.

The tables are walked from the schema models, starting at ``Spec``: every model a field can
hold gets a table (one per variant of a tagged union such as ``data`` by ``source``), and
every layer kind of the registry gets one under ``model.layers[]``. A field or kind added to
the schema appears without a change here. The README's yaml block under "## The spec" is the
example file named in the line above it, copied verbatim.

`python -m modelgen.docs` rewrites the part of docs/spec.md between the markers and the
README block; `python -m modelgen.docs --check` exits 1 when either is stale (a test runs it).
"""

from __future__ import annotations

import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import annotated_types as at
from pydantic import AllowInfNan, BaseModel, StringConstraints
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from modelgen.layers import REGISTRY
from modelgen.schema import spec as s

__all__ = ["reference", "readme", "update", "stale", "DOC_PATH", "README_PATH"]

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "spec.md"
README_PATH = ROOT / "README.md"
BEGIN, END = "<!-- reference:begin -->", "<!-- reference:end -->"
#: The README section whose first yaml block is an example file, named in the line above it.
README_SECTION = "## The spec"

_IDENTIFIER_PATTERN = next(
    m.pattern for m in typing.get_args(s.Identifier)[1:] if isinstance(m, StringConstraints)
)
#: What an item of model.layers may be: a layer of a registered kind, or a use of a block.
_LAYER_ITEMS = set(s.LAYER_ITEM_MODELS.values()) | {s.BlockUse}


# ---------------------------------------------------------------- walking the models
@dataclass
class Section:
    """One part of the reference: the models a spec path may hold."""

    path: str
    models: list[type[BaseModel]] = field(default_factory=list)
    tag: str | None = None  # the discriminating field of a union of models
    layers: bool = False  # model.layers[]: the layer items of the registry


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> list[Any]:
    """The members of a union (Optional included, None left out), else ``[tp]``."""
    tp = _strip(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [_strip(m) for m in typing.get_args(tp) if m is not type(None)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _nested(tp: Any) -> tuple[str, list[type[BaseModel]]] | None:
    """Where models sit in a field's type, as a path suffix, and which: ``("", [Runtime])``,
    ``(".<name>", [InputSpec])`` for a mapping of names, ``("[]", [...])`` for a list."""
    models = [m for member in _members(tp) for m in _members(member) if _is_model(m)]
    if models:  # a model, or a mapping of them (a loss per output): documented once, here
        return "", models
    for member in _members(tp):
        origin = typing.get_origin(member)
        if origin is list:
            found = _nested(typing.get_args(member)[0])
            if found:
                return "[]" + found[0], found[1]
        elif origin is dict:
            found = _nested(typing.get_args(member)[1])
            if found:
                return ".<name>" + found[0], found[1]
    models = [m for m in _members(tp) if _is_model(m)]
    return ("", models) if models else None


def _discriminator(tp: Any) -> str | None:
    """The discriminator of a tagged union inside a union (``Loss | dict[name, Loss]``), or
    inside a list's items (``list[NAME | Annotated[A | B, discriminator]]``)."""
    for member in typing.get_args(tp):
        for meta in (
            typing.get_args(member)[1:] if typing.get_origin(member) is typing.Annotated else ()
        ):
            if isinstance(getattr(meta, "discriminator", None), str):
                return meta.discriminator
        if typing.get_origin(member) in (list, typing.Union, types.UnionType):
            found = _discriminator(member)
            if found:
                return found
    return None


def sections() -> list[Section]:
    """Every section of the reference, in the order a depth-first walk from ``Spec`` meets them."""
    found: dict[str, Section] = {}

    def walk(path: str, models: list[type[BaseModel]], tag: str | None) -> None:
        section = found.setdefault(path, Section(path, tag=tag))
        for model in models:
            if model not in section.models:
                section.models.append(model)
        if models and all(m in _LAYER_ITEMS for m in models):
            section.layers = True  # tables from the registry's parameter models
            return
        for model in models:
            for name, info in model.model_fields.items():
                nested = _nested(info.annotation)
                if nested:
                    suffix, inner = nested
                    child = f"{path}.{name}" if path else name
                    tag = info.discriminator or _discriminator(info.annotation)
                    walk(child + suffix, inner, tag if not suffix or len(inner) > 1 else None)

    walk("", [s.Spec], None)
    return list(found.values())


# ---------------------------------------------------------------- rendering
def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def _clean(text: str | None) -> str:
    """A docstring or description as one line of Markdown."""
    text = " ".join((text or "").split())
    return text.replace("``", "`").replace("|", "\\|")


def _yaml(value: Any) -> str:
    """A default value as a YAML flow scalar or collection."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_defaults=True)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bounds(base: Any, meta: list[Any]) -> str:
    """Constraints of a scalar or list as words: ``1 to 65536``, ``> 0``, ``≥ 0, < 1``."""
    c: dict[str, Any] = {}
    for item in meta:
        if isinstance(item, FieldInfo):
            c.update((k, v) for k, v in _constraints(item.metadata).items() if k not in c)
        else:
            c.update((k, v) for k, v in _constraints([item]).items() if k not in c)
    words: list[str] = []
    if base in (int, float):
        lo = ("[", c["ge"]) if "ge" in c else ("(", c["gt"]) if "gt" in c else None
        hi = ("]", c["le"]) if "le" in c else (")", c["lt"]) if "lt" in c else None
        if base is int:  # integers: inclusive bounds
            lo = ("[", lo[1] + (lo[0] == "(")) if lo else None
            hi = ("]", hi[1] - (hi[0] == ")")) if hi else None
        if base is int and lo and hi:
            words.append(f"{lo[1]} to {hi[1]}")
        else:
            if lo:
                words.append(("≥ " if lo[0] == "[" else "> ") + _number(lo[1]))
            if hi:
                words.append(("≤ " if hi[0] == "]" else "< ") + _number(hi[1]))
        if c.get("allow_inf_nan") is False:
            words.append("finite")
    elif base is str:
        if c.get("pattern"):
            words.append("matching " + _code(c["pattern"]))
        if c.get("min_length") == 1:
            words.append("non-empty")
        if c.get("max_length"):
            words.append(f"at most {c['max_length']} characters")
    elif base is list or base is dict:
        lo, hi = c.get("min_length"), c.get("max_length")
        what = "items" if base is list else "entries"
        if lo and hi:
            words.append(f"{lo} {what}" if lo == hi else f"{lo} to {hi} {what}")
        elif lo:
            words.append(f"at least {lo} {'item' if base is list else 'entry'}")
        elif hi:
            words.append(f"at most {hi} {what}")
    return ", ".join(words)


def _constraints(meta: list[Any]) -> dict[str, Any]:
    """Bounds, lengths, pattern and ``allow_inf_nan`` of annotated-types/pydantic metadata."""
    out: dict[str, Any] = {}
    for item in meta:
        if not isinstance(item, at.BaseMetadata | StringConstraints | AllowInfNan):
            continue
        for key in ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern", "allow_inf_nan"):
            value = getattr(item, key, None)
            if value is not None:
                out.setdefault(key, value)
    return out


def _choices(values: tuple[Any, ...]) -> str:
    coded = [_code(_yaml(v)) for v in values]
    return coded[0] if len(coded) == 1 else "one of " + ", ".join(coded)


class _Types:
    """Type names for the tables, linking a model to the section that documents it."""

    def __init__(self, parts: list[Section]):
        self.link: dict[type[BaseModel], str] = {}
        for section in parts:
            for model in section.models:
                self.link.setdefault(model, f"[{_title(section)}](#{_slug(_heading(section))})")
        self.layers = next(f"[layer items](#{_slug(_heading(p))})" for p in parts if p.layers)
        for model in _param_models():
            self.link.setdefault(model, f"[{_code(_keys(model))}](#{_slug(_param_heading(model))})")

    def name(self, tp: Any, meta: list[Any] | None = None) -> str:
        meta = list(meta or [])
        while typing.get_origin(tp) is typing.Annotated:
            tp, *more = typing.get_args(tp)
            meta += more
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            members = [m for m in args if m is not type(None)]
            stripped = [_strip(m) for m in members]
            if stripped and all(m in _LAYER_ITEMS for m in stripped):
                return self.layers
            models = [m for m in stripped if _is_model(m)]
            if models and len(models) == len(members):
                return self.name(models[0])
            return " or ".join(self.name(m) for m in members)
        if origin is typing.Literal:
            return _choices(args)
        if origin is list:
            bounds = _bounds(list, meta)
            return "list" + (f" ({bounds})" if bounds else "") + f" of {self.name(args[0])}"
        if origin is dict:
            bounds = _bounds(dict, meta)
            key, value = self.name(args[0]), self.name(args[1])
            return "mapping" + (f" ({bounds})" if bounds else "") + f" of {key} to {value}"
        if _is_model(tp) and tp not in self.link:  # a mapping inside a layer's parameters
            return f"mapping ({_clean(tp.__doc__ or tp.__name__).rstrip('.')})"
        if _is_model(tp):
            return self.link[tp] if tp in self.link else _code(_keys(tp))
        if tp is str and any(getattr(m, "pattern", None) == _IDENTIFIER_PATTERN for m in meta):
            return "name"
        bounds = _bounds(tp, meta)
        return getattr(tp, "__name__", str(tp)) + (f" ({bounds})" if bounds else "")


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The models anywhere in a type (unions, Annotated, lists, mappings)."""
    tp = _strip(tp)
    if _is_model(tp):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models_in(arg)]


def _param_models() -> list[type[BaseModel]]:
    """The mappings nested in layer parameters (initializers, regularizers), first seen first."""
    found: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        for info in model.model_fields.values():
            for inner in _models_in(info.annotation):
                if inner not in found:
                    found.append(inner)
                    visit(inner)

    for kind in sorted(REGISTRY):
        visit(REGISTRY[kind].params)
    return found


def _param_heading(model: type[BaseModel]) -> str:
    return f"Layer parameter mapping {_keys(model)} ({model.__name__})"


def _keys(model: type[BaseModel]) -> str:
    """A mapping no section documents (inside a layer's parameters), shown by its keys."""
    parts = []
    for name, info in model.model_fields.items():
        inner = [m for m in _members(info.annotation) if _is_model(m)]
        parts.append(f"{name}: {_keys(inner[0])}" if inner else name)
    return "{" + ", ".join(parts) + "}"


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if value is None or value is PydanticUndefined:
        return "—"
    return _code(_yaml(value))


def _table(fields: list[tuple[str, FieldInfo]], names: _Types) -> list[str]:
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, info in fields:
        rows.append(
            f"| `{info.alias or name}` | {names.name(info.annotation, info.metadata)} "
            f"| {_default(info)} "
            f"| {_clean(info.description)} |"
        )
    return rows


def _fields(model: type[BaseModel], first: str | None = None) -> list[tuple[str, FieldInfo]]:
    """A model's fields in declaration order (inherited first), ``first`` moved to the top."""
    return sorted(model.model_fields.items(), key=lambda item: item[0] != first)


def _title(section: Section) -> str:
    return _code(section.path) if section.path else "top level"


def _heading(section: Section) -> str:
    if section.layers:
        return f"{_title(section)}: layer kinds"
    if section.tag:
        return f"{_title(section)} (by `{section.tag}`)"
    (model,) = section.models
    return f"{_title(section)[0].upper()}{_title(section)[1:]} ({model.__name__})"


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def _tag_values(model: type[BaseModel], tag: str) -> tuple[Any, ...]:
    return typing.get_args(_strip(model.model_fields[tag].annotation))


def _layer_section(section: Section, names: _Types) -> list[str]:
    out = [
        f"Each item of `{section.path.removesuffix('[]')}` is `- KIND: {{params}}`: one key that "
        "names the layer kind, its parameters as a mapping, and optionally these fields:",
        "",
    ]
    items = {
        next(n for n in item.model_fields if n not in s.LAYER_ITEM_KEYS): item
        for item in section.models
        if item is not s.BlockUse
    }
    common = [(n, i) for n, i in section.models[0].model_fields.items() if n in s.LAYER_ITEM_KEYS]
    out += _table(common, names)
    out.append("")
    for kind, item in sorted(items.items()):
        cls, params = REGISTRY[kind], _strip(item.model_fields[kind].annotation)
        out += [f"#### `{kind}`", "", f"{_clean(cls.summary)} Example: `- {kind}: {cls.example}`"]
        out.append("")
        if params.model_fields:
            out += _table(_fields(params), names)
        else:
            out.append("No parameters: write `{}`.")
        out.append("")
    for model in _param_models():
        out += [f"#### {_param_heading(model)}", ""]
        if model.__doc__:
            out += [_clean(model.__doc__), ""]
        out += _table(_fields(model), names)
        out.append("")
    if s.BlockUse in section.models:
        out += [
            "#### `block`: a use of a block (BlockUse)",
            "",
            f"{_clean(s.BlockUse.__doc__)} Example: "
            "`- {name: stage2_block, block: bottleneck, with: {filters: 64}, repeat: 2}`",
            "",
        ]
        out += _table(_fields(s.BlockUse), names)
        out.append("")
    return out


def reference() -> str:
    """The generated reference: a table for every spec model and every layer kind."""
    parts = sections()
    names = _Types(parts)
    out: list[str] = []
    for section in parts:
        out += [f"### {_heading(section)}", ""]
        if section.layers:
            out += _layer_section(section, names)
            continue
        if section.tag:
            out += [f"One of these, chosen by `{section.tag}`.", ""]
            for model in section.models:
                values = ", ".join(_code(_yaml(v)) for v in _tag_values(model, section.tag))
                out += [f"#### `{section.tag}`: {values} ({model.__name__})", ""]
                if model.__doc__:
                    out += [_clean(model.__doc__), ""]
                out += _table(_fields(model, section.tag), names)
                out.append("")
        else:
            (model,) = section.models
            if model.__doc__:
                out += [_clean(model.__doc__), ""]
            out += _table(_fields(model), names)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------- the README example
_FENCE = re.compile(r"^```yaml\n(.*?)^```$", re.S | re.M)
_NAMED = re.compile(r"(examples/[\w./-]+\.ya?ml)")


def readme_example(text: str) -> tuple[str, int, int] | None:
    """The example file named in the paragraph above the first yaml block of the README's spec
    section, and that block's content span: ``(path, start, end)``."""
    section = text.find("\n" + README_SECTION + "\n")
    if section < 0:
        return None
    fence = _FENCE.search(text, section)
    if fence is None:
        return None
    above = text[section : fence.start()].rstrip("\n").rsplit("\n\n", 1)[-1]
    named = _NAMED.search(above)
    return (named.group(1), fence.start(1), fence.end(1)) if named else None


def readme(text: str) -> str:
    """The README with its spec example replaced by the file it names."""
    found = readme_example(text)
    if found is None:
        raise ValueError(
            f"README.md: no yaml block under '{README_SECTION}' below a line naming its file"
        )
    path, start, end = found
    example = (ROOT / path).read_text(encoding="utf-8")
    return text[:start] + example.rstrip("\n") + "\n" + text[end:]


# ---------------------------------------------------------------- updating
def _spec_md(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{reference()}{END}{tail}"


def stale() -> list[Path]:
    """The generated files whose committed text differs from what would be generated."""
    out = []
    for path, render in ((DOC_PATH, _spec_md), (README_PATH, readme)):
        text = path.read_text(encoding="utf-8")
        if render(text) != text:
            out.append(path)
    return out


def update(check: bool = False) -> bool:
    """Rewrite docs/spec.md's reference and the README's example, or with ``check`` only say
    whether both are up to date."""
    if check:
        return not stale()
    for path, render in ((DOC_PATH, _spec_md), (README_PATH, readme)):
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    if "--check" in argv:
        paths = stale()
        for path in paths:
            print(f"{path} is stale: run `python -m modelgen.docs`", file=sys.stderr)
        return 1 if paths else 0
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
