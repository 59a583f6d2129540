"""The only two ways spec data reaches generated source: a Python literal or a checked name."""

from __future__ import annotations

import keyword
import math
import re
from typing import Any

__all__ = ["py_literal", "identifier", "word"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def py_literal(value: Any) -> str:
    """Python source text for a plain value (None, bool, int, finite float, str, list, tuple,
    dict of those). ``repr`` of these types is always a valid literal that evaluates back to
    the value, so no spec text can escape into code. Strings are ASCII-escaped (``ascii``):
    no invisible or bidirectional characters from a spec or a data file reach the source."""
    if isinstance(value, str):
        text = ascii(value)
        if text.startswith("'") and '"' not in value and "'" not in value:
            text = f'"{text[1:-1]}"'  # prefer double quotes, as ruff format does
        return text
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot emit non-finite float {value!r}")
        return repr(value)
    if isinstance(value, tuple):
        items = [py_literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot emit a {type(value).__name__} as a Python literal")


def identifier(value: Any) -> str:
    """``value`` unchanged if it is a plain ASCII Python identifier and not a keyword."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or keyword.iskeyword(value):
        raise ValueError(f"{value!r} is not a safe Python identifier")
    return value


def word(value: Any) -> str:
    """``value`` unchanged if it is a plain ASCII name (letters, digits, ``_``), for prose in
    docstrings and comments; keywords are fine there."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_]+", value):
        raise ValueError(f"{value!r} is not a plain name")
    return value
