"""Programs generated with the program's own names as model, input and layer names train, and
both targets still agree bit for bit (the static check is tests/unit/test_naming.py)."""

from __future__ import annotations

import ast
import builtins
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from modelgen.build import generate
from modelgen.codegen import TARGETS
from modelgen.codegen.naming import _module_names
from tests.unit.test_naming import (
    SPEC_NAME,
    many_inputs_spec,
    naming_spec,
    render_spec,
    snake_for_class,
)

pytestmark = pytest.mark.slow
STEPS = 3


def _top_level_and_builtins(code: str) -> set[str]:
    """The names a program binds at its top level and the builtins it uses."""
    tree = ast.parse(code)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and hasattr(builtins, n.id)}
    return _module_names(tree) | used


def _specs(folder: Path) -> dict[str, dict]:
    """Every top-level and builtin name of either program as a layer name, as an input name,
    and (where a spec name can ask for it) as the model class."""
    names: set[str] = set()
    for target in TARGETS:
        code = render_spec(folder, naming_spec("tiny", "x", ["a"]), target)[0]
        names |= _top_level_and_builtins(code) - {"Tiny"}
    names = {n for n in names if SPEC_NAME.fullmatch(n)}
    specs = {
        "layers": naming_spec("crowded", "x", sorted(names - {"x", "head"})),
        "inputs": many_inputs_spec(sorted(names - {"joined", "head"})),
    }
    for name in sorted(names):
        snake = snake_for_class(name)
        if snake:
            specs[f"class_{name}"] = naming_spec(snake, name.lower() + "_input", ["a", "b"])
    return specs


def test_programs_with_hostile_names_train_identically(tmp_path):
    specs = _specs(tmp_path)
    assert {"class_Path", "class_Optimizer", "class_KeyboardInterrupt"} <= set(specs)
    jobs = []
    for label, spec in specs.items():
        path = tmp_path / f"{label}.yaml"
        path.write_text(yaml.safe_dump(spec), encoding="utf-8")
        for target in TARGETS:
            program = tmp_path / f"{label}_{target}.py"
            program.write_text(generate(path, target, tmp_path)[1], encoding="utf-8")
            argv = [
                "--max-steps",
                str(STEPS),
                "--save-weights",
                str(tmp_path / f"{program.stem}.npz"),
            ]
            jobs.append({"file": str(program), "argv": argv})
    (tmp_path / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    driver = Path(__file__).with_name("run_programs.py")
    subprocess.run(
        [sys.executable, str(driver), tmp_path / "jobs.json", tmp_path / "results.json"],
        check=True,
        timeout=900,
    )
    statuses = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    failed = {job["file"]: s[-800:] for job, s in zip(jobs, statuses) if s != "ok"}
    assert not failed, failed
    for label in specs:
        with (
            np.load(tmp_path / f"{label}_keras.npz") as keras,
            np.load(tmp_path / f"{label}_tf.npz") as tf,
        ):
            assert sorted(keras.files) == sorted(tf.files)
            for name in keras.files:
                np.testing.assert_array_equal(keras[name], tf[name], err_msg=f"{label} {name}")
