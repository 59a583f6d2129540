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


def test_a_project_outside_the_current_folder_trains_with_its_generated_programs(tmp_path: Path):
    """Created at a parent path with --target (generated in a staging folder, then moved into
    place), then regenerated into with --force: both programs find their data from anywhere."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()

    def modelgen(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "modelgen", *args],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    common = ("--template", "text-classifier", "--num-classes", "2")
    created = modelgen("new", "../elsewhere/proj", *common, "--target", "tf")
    assert created.returncode == 0, created.stderr
    regenerated = modelgen("new", str(elsewhere / "proj"), *common, "--target", "keras", "--force")
    assert regenerated.returncode == 0, regenerated.stderr
    project = elsewhere / "proj"
    assert not list(elsewhere.glob(".modelgen-*")) and not list(project.glob(".modelgen-*"))
    for target in ("tf", "keras"):
        result = subprocess.run(
            [sys.executable, str(project / f"train_{target}.py"), "--epochs", "1"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
