"""Validate a located YAML document against the typed spec, reporting errors at their lines."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from modelgen._yaml import LocatedDocument
from modelgen.errors import Diagnostic, SpecError, did_you_mean
from modelgen.layers import REGISTRY
from modelgen.schema.spec import (
    LAYER_ITEM_KEYS,
    LAYER_ITEM_MODELS,
    BlockUse,
    Spec,
    layer_kind_of,
)

__all__ = ["Spec", "validate_document", "json_schema", "SCHEMA_PATH"]

SCHEMA_PATH = Path(__file__).with_name("spec.schema.json")


def json_schema() -> str:
    """The JSON Schema of a spec (for editors), as stable, pretty-printed text."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "modelgen spec"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def validate_document(doc: LocatedDocument) -> Spec:
    """Turn a located document into a ``Spec``, or raise SpecError with every problem found."""
    try:
        return Spec.model_validate(doc.data)
    except ValidationError as exc:
        diagnostics = {_diagnostic(error, doc) for error in exc.errors(include_url=False)}
        raise SpecError(diagnostics) from None


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The path into the data named by a pydantic loc, skipping union tags."""
    path: list[Any] = []
    node = data
    for i, part in enumerate(loc):
        after = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(node, dict) and part in node and _is_tag(node, part, after):
            continue  # a layer item's kind tag, e.g. ("dense", "name") means the item's name
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def _is_tag(node: dict[str, Any], part: Any, after: Any) -> bool:
    """Whether ``part`` is a union tag that happens to be a key too: the layer kind of a layer
    item, followed in the loc by a field of the item itself (``name``, ``inputs``)."""
    return (
        after in LAYER_ITEM_KEYS
        and after in node
        and layer_kind_of(node) == part
        and not (isinstance(node[part], dict) and after in node[part])
    )


def _label(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the spec"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _diagnostic(error: dict[str, Any], doc: LocatedDocument) -> Diagnostic:
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    path = _data_path(doc.data, loc)
    label = _label(doc.origin(path))  # a layer expanded from a block: the block's path
    value = error.get("input")
    if kind == "missing":
        field = loc[-1]
        return Diagnostic(
            f"{label}: missing required field '{field}'",
            doc.where(path),
            f"add `{field}:` here",
        )
    if kind == "extra_forbidden":
        key = path[-1] if path else loc[-1]
        allowed = _fields_at(path[:-1], doc.data)
        hint = did_you_mean(str(key), allowed or [])
        if allowed:
            hint = (hint + " " if hint else "") + "allowed: " + ", ".join(allowed)
        return Diagnostic(
            f"{_label(doc.origin(path[:-1]))}: unknown field '{key}'",
            doc.where(path, key=True),
            hint,
        )
    if kind == "layer_kind":
        return _layer_kind_diagnostic(path, value, doc)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        field, expected = ctx.get("discriminator", "type").strip("'"), ctx.get("expected_tags", "")
        if kind == "union_tag_not_found":
            return Diagnostic(
                f"{label}: missing '{field}'",
                doc.where(path),
                f"add `{field}:` (one of {expected})",
            )
        tag = str(ctx.get("tag"))
        hint = did_you_mean(tag, [t.strip(" '") for t in expected.split(",")])
        return Diagnostic(
            f"{label}.{field}: unknown {field} '{tag}'",
            doc.where(path + (field,)),
            (hint + " " if hint else "") + f"expected one of {expected}",
        )
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
        hint = did_you_mean(str(value), choices)
        return Diagnostic(
            f"{label}: expected {expected}, got {_short(value)}",
            doc.where(path),
            hint,
        )
    if kind == "string_pattern_mismatch" and "A-Za-z" in str(ctx.get("pattern", "")):
        return Diagnostic(
            f"{label}: {_short(value)} is not a valid name",
            doc.where(path, key=isinstance(value, str) and path[-1:] == (value,)),
            "a name starts with a letter and holds only letters, digits and '_' (64 at most)",
        )
    if kind == "string_pattern_mismatch" and path[-1:] == ("device",):
        return Diagnostic(
            f"{label}: expected auto, cpu, gpu, gpu:N or tpu, got {_short(value)}", doc.where(path)
        )
    message = error["msg"].removeprefix("Value error, ")
    message = message[0].lower() + message[1:]
    if kind not in ("value_error", "assertion_error") and not isinstance(value, dict | list):
        message += f", got {_short(value)}"
    return Diagnostic(f"{label}: {message}", doc.where(path))


def _layer_kind_diagnostic(path: tuple[Any, ...], item: Any, doc: LocatedDocument) -> Diagnostic:
    example = "write a layer as `- dense: {units: 10}`"
    where_label = _label(doc.origin(path))
    if not isinstance(item, dict):
        return Diagnostic(
            f"{where_label}: a layer must be a mapping, got {_short(item)}",
            doc.where(path),
            example,
        )
    kinds = [key for key in item if key not in LAYER_ITEM_KEYS]
    if not kinds:
        return Diagnostic(f"{where_label}: the layer names no layer kind", doc.where(path), example)
    unknown = [k for k in kinds if k not in REGISTRY]
    if unknown:
        key = unknown[0]
        hint = did_you_mean(key, REGISTRY) or ""
        return Diagnostic(
            f"{where_label}: unknown layer kind '{key}'",
            doc.where(path + (key,), key=True),
            (hint + " " if hint else "") + "known kinds: " + ", ".join(sorted(REGISTRY)),
        )
    return Diagnostic(
        f"{where_label}: one layer item names several kinds: {', '.join(kinds)}",
        doc.where(path + (kinds[1],), key=True),
        "give each layer its own list item",
    )


def _fields_at(path: tuple[Any, ...], data: Any) -> list[str] | None:
    """Field names of the model that validates the node at ``path`` (for 'did you mean')."""
    tp: Any = Spec
    node = data
    for part in path:
        tp = _concrete(tp, node)
        if isinstance(part, int):
            args = typing.get_args(tp)
            tp = args[0] if args else Any
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
        node = node[part]
    tp = _concrete(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return None


def _concrete(tp: Any, node: Any) -> Any:
    """Strip Annotated/Optional and choose the union member that fits ``node``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [
                typing.get_origin(m) is typing.Annotated and typing.get_args(m)[0] or m
                for m in typing.get_args(tp)
            ]
            kind = layer_kind_of(node)
            if kind is not None and LAYER_ITEM_MODELS[kind] in members:
                return LAYER_ITEM_MODELS[kind]
            if isinstance(node, dict) and "block" in node and BlockUse in members:
                return BlockUse
            chosen = _pick_member(members, node)
            if chosen is None:
                return tp
            tp = chosen
        else:
            return tp


def _pick_member(members: list[Any], node: Any) -> Any:
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(node, dict):
        for model in models:
            for tag_field in ("type", "source"):
                field = model.model_fields.get(tag_field)
                if field is not None and node.get(tag_field) in typing.get_args(field.annotation):
                    return model
        return models[0] if len(models) == 1 else None
    if isinstance(node, list):
        return next((m for m in members if typing.get_origin(m) is list), None)
    return None
