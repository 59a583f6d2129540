"""Reference tables for docs/spec.md, generated from the schema models and the layer registry.

`python -m modelgen.docs` rewrites the part of docs/spec.md between the markers; a test fails
when the committed text drifts from the models.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from modelgen.layers import REGISTRY
from modelgen.schema import spec as s

__all__ = ["reference", "update", "DOC_PATH"]

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "spec.md"
BEGIN, END = "<!-- reference:begin -->", "<!-- reference:end -->"

SECTIONS: list[tuple[str, list[type[BaseModel]]]] = [
    ("Top level", [s.Spec]),
    ("`model.inputs.<name>`", [s.InputSpec]),
    ("`data` (by `source`)", [s.NpzData, s.CsvData, s.ImageDirData, s.SyntheticData]),
    ("`train`", [s.Train]),
    ("`train.optimizer` (by `type`)", [s.SGD, s.Adam, s.AdamW, s.RMSprop]),
    (
        "`train.optimizer.schedule` (by `type`)",
        [s.ConstantSchedule, s.ExponentialSchedule, s.CosineSchedule],
    ),
    ("`train.loss` (by `type`)", [s.CrossentropyLoss, s.RegressionLoss, s.HuberLoss]),
    ("`runtime`", [s.Runtime]),
]


def _type_name(tp: typing.Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        inner = _type_name(args[0])
        bounds = [
            f"{op} {getattr(meta, attr)}"
            for meta in args[1:]
            for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
            if getattr(meta, attr, None) is not None
        ]
        return inner + (f" ({', '.join(bounds)})" if bounds else "")
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, __import__("types").UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin in (list, dict):
        return f"{origin.__name__} of " + ", ".join(_type_name(a) for a in args)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _default(field: typing.Any) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if value is PydanticUndefined or value is None:
        return "none"
    if isinstance(value, BaseModel):
        return (
            "`" + ", ".join(f"{k}: {v}" for k, v in value.model_dump().items() if k == "type") + "`"
        )
    return f"`{value!r}`".replace("'", "")


def _table(model: type[BaseModel]) -> list[str]:
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |"
        )
    return rows


def reference() -> str:
    """The generated reference: every spec model's fields and every layer kind."""
    out: list[str] = []
    for title, models in SECTIONS:
        out.append(f"### {title}")
        out.append("")
        for model in models:
            if len(models) > 1:
                out.append(
                    f"**{model.__name__}**"
                    + (f": {model.__doc__.strip()}" if model.__doc__ else "")
                )
                out.append("")
            out += _table(model)
            out.append("")
    out.append("### Layer kinds")
    out.append("")
    out.append("Each item of `model.layers` is `- KIND: {params}`, optionally with `name:` and")
    out.append("`inputs:` (default: the previous layer, or the model's only input).")
    out.append("")
    for kind, cls in sorted(REGISTRY.items()):
        out.append(f"#### `{kind}`")
        out.append("")
        out.append(cls.summary + f" Example: `- {kind}: {cls.example}`")
        out.append("")
        if cls.params.model_fields:
            out += _table(cls.params)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def update(check: bool = False) -> bool:
    """Rewrite (or, with ``check``, compare) the generated part of docs/spec.md."""
    text = DOC_PATH.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n{reference()}{END}{tail}"
    if check:
        return new == text
    DOC_PATH.write_text(new, encoding="utf-8")
    return True


if __name__ == "__main__":
    ok = update(check="--check" in sys.argv)
    sys.exit(0 if ok else 1)
