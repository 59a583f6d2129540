"""Every project template, created through the CLI, passes its own tests: the spec validates
and both targets train a short epoch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelgen.scaffold import PROJECT_TEMPLATES

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("template", list(PROJECT_TEMPLATES))
def test_new_project_trains_with_both_targets(tmp_path: Path, template: str):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelgen",
            "new",
            "proj",
            "--template",
            template,
            "--num-classes",
            "3",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert created.returncode == 0, created.stderr
    project = tmp_path / "proj"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_spec.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
