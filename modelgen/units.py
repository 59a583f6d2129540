"""Human-readable figures shared by the summary and the error messages."""

from __future__ import annotations

__all__ = ["format_bytes"]


def format_bytes(count: int) -> str:
    """A size in binary units, as Keras' summary shows it: ``527.81 MiB``, ``1,023 B``."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
