"""The one error root of modelgen and compiler-style diagnostics."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Location", "Diagnostic", "ModelgenError", "SpecError", "RunError", "did_you_mean"]


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column in a file. ``context`` says how a line was reached when that
    is not the line itself: ``in block 'b' used at spec.yaml:12:7`` for a layer of a block."""

    file: str
    line: int
    column: int
    context: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec: where, what, and what would be right."""

    message: str
    location: Location | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        # The message names how its line was reached (a layer of a block: where the block was
        # used), so every reader of a diagnostic (the text, `--format json`) has it.
        context = self.location.context if self.location else ""
        if context and not self.message.endswith(f"({context})"):
            object.__setattr__(self, "message", f"{self.message} ({context})")

    def format(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ModelgenError(Exception):
    """Root of every error modelgen reports to a user (exit code 2 unless stated)."""

    exit_code = 2


class SpecError(ModelgenError):
    """One or more problems in a spec, each with its location."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(
            diagnostics, key=lambda d: (d.location or Location("", 0, 0), d.message)
        )
        super().__init__(self.format())

    def format(self) -> str:
        lines = [d.format() for d in self.diagnostics]
        count = len(self.diagnostics)
        lines.append(f"{count} error{'s' if count != 1 else ''} found")
        return "\n".join(lines)


class RunError(ModelgenError):
    """A generated program failed while running."""

    exit_code = 1


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """Return ``"did you mean 'x'?"`` for the closest choice, or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
