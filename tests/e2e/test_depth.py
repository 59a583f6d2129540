"""The depth limit validate enforces is one Keras can build: a model at the limit builds with
the keras target; one deeper is refused before anything runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modelgen.build import generate
from modelgen.graph import MAX_DEPTH
from tests.specs import base_spec, write_spec

pytestmark = pytest.mark.slow


def deep_spec(depth: int) -> dict:
    layers = [{"dense": {"units": 2}} for _ in range(depth - 1)] + [{"dense": {"units": 3}}]
    return base_spec(name="deep", model={"inputs": {"x": {"shape": [6]}}, "layers": layers})


def test_a_model_at_the_depth_limit_builds_with_keras(tmp_path):
    program = tmp_path / "train.py"
    program.write_text(
        generate(write_spec(tmp_path, deep_spec(MAX_DEPTH)), "keras", tmp_path)[1], "utf-8"
    )
    done = subprocess.run(
        [sys.executable, str(program), "--max-steps", "0"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_deeper_model_is_refused(cli, tmp_path):
    result = cli("validate", write_spec(tmp_path, deep_spec(MAX_DEPTH + 1)))
    assert result.exit_code == 2
    assert f"{MAX_DEPTH + 1} layers deep" in result.output and "Traceback" not in result.output
