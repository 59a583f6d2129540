"""Shared fixtures: a CLI runner and spec writers."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelgen.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "configs").glob("*.yaml"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def cli():
    """Invoke the modelgen CLI in-process: cli("validate", path) -> Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def silent_tpu() -> Iterator[str]:
    """A TPU address that accepts connections but never answers (TensorFlow's connect would
    block forever on it): grpc://127.0.0.1:<port>."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield f"grpc://127.0.0.1:{silent.getsockname()[1]}"
