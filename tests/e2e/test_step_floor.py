"""benchmarks/step_floor.py drives the generated tf program's own model, loss, metrics and
optimizer directly: a change to the program's structure must not break it silently."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_bare_step_runs_the_generated_programs_step(tmp_path: Path):
    path = ROOT / "benchmarks" / "step_floor.py"
    spec = importlib.util.spec_from_file_location("step_floor", path)
    step_floor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(step_floor)
    seconds = step_floor.bare_step(ROOT / "examples" / "configs" / "digits_mlp.yaml", tmp_path)
    assert 0 < seconds < 0.5  # a step of a small MLP: well under a second per step
