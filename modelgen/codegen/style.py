"""The generated programs' code style: `ruff format`, with the settings every header names.

Formatting is part of code generation (as datamodel-code-generator runs black on its output):
templates say what to write, the formatter decides how it is laid out, so every program reads
the same however its template was indented. ruff is pinned to one minor version, which keeps
the output byte-identical from run to run and machine to machine.
"""

from __future__ import annotations

import subprocess

__all__ = ["LINE_LENGTH", "LINT_RULES", "format_python", "ruff_binary"]

LINE_LENGTH = 100
#: The lint rules generated code is held to (pyflakes, pycodestyle, isort, bugbear, pyupgrade).
LINT_RULES = "E,F,W,I,B,UP"
FORMAT_OPTIONS = (
    "--isolated",  # no project's or user's configuration changes the output
    "--line-length",
    str(LINE_LENGTH),
    "--target-version",
    "py311",
    # Calls that fit on a line are joined even where a template left a trailing comma.
    "--config",
    "format.skip-magic-trailing-comma = true",
)


def ruff_binary() -> str:
    from ruff.__main__ import find_ruff_bin

    return str(find_ruff_bin())


def format_python(code: str) -> str:
    """``code`` laid out by ``ruff format``; a failure is a bug in a template."""
    done = subprocess.run(
        [ruff_binary(), "format", *FORMAT_OPTIONS, "-"],
        input=code.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ruff format failed on generated code: {done.stderr.decode()[:500]}")
    return done.stdout.decode("utf-8")
