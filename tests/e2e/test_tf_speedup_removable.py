"""The tf target's speed-up (several steps per compiled call) is an optional, separate piece.

Each generated tf program marks it with `# --- speed-up: begin ---` / `# --- speed-up: end ---`
lines. Deleting every such region must leave a program that trains to the same numbers: here
both versions run the same steps with the same seed, and their final weights and per-step
losses must be bitwise equal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from modelgen.build import generate
from tests.conftest import ROOT
from tests.e2e.test_equivalence import TWO_HEADS
from tests.specs import write_spec

pytestmark = pytest.mark.slow
BEGIN, END = "# --- speed-up: begin ---", "# --- speed-up: end ---"
CONFIGS = ROOT / "examples" / "configs"


def without_speedup(code: str) -> str:
    """`code` with every line from a begin marker through its end marker deleted."""
    kept, inside = [], False
    for line in code.splitlines(keepends=True):
        if line.strip() == BEGIN:
            assert not inside, "nested speed-up regions"
            inside = True
        elif line.strip() == END:
            assert inside, "an end marker without a begin marker"
            inside = False
        elif not inside:
            kept.append(line)
    assert not inside, "a speed-up region is not closed"
    return "".join(kept)


def example_variant(folder: Path, name: str, runtime: dict) -> Path:
    """The example spec `name` with another runtime section, written into `folder`."""
    spec = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text(encoding="utf-8"))
    data = (CONFIGS / spec["data"]["path"]).resolve()
    shutil.copyfile(data, folder / data.name)  # a spec reads data only inside its folder
    spec["data"]["path"] = data.name
    spec["data"].pop("data_root", None)
    spec["runtime"] = {**spec.get("runtime", {}), **runtime}
    return write_spec(folder, spec, f"{name}.yaml")


# (case, spec, extra flags): the plain example (the speed-up times its steps and runs many to
# a call, ending calls at checkpoint steps), and one with steps_per_execution > 1 (whole calls
# of 5 steps, 45 steps per epoch: --max-steps 28 runs 30).
CASES = [
    ("digits_cnn", lambda folder: CONFIGS / "digits_cnn.yaml", ["--max-steps", "40"]),
    (
        "digits_cnn-checkpoints",
        lambda folder: CONFIGS / "digits_cnn.yaml",
        ["--max-steps", "30", "--checkpoint-every", "7"],
    ),
    (
        "digits_mlp-steps-per-execution",
        lambda folder: example_variant(folder, "digits_mlp", {"steps_per_execution": 5}),
        ["--max-steps", "28"],
    ),
    # Two outputs: per-output losses and metrics stacked by the speed-up's train_steps.
    ("multi-output", lambda folder: write_spec(folder, TWO_HEADS), ["--max-steps", "20"]),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("speedup")
    jobs = []
    for case, spec_of, flags in CASES:
        folder = root / case
        folder.mkdir()
        _, code = generate(spec_of(folder), "tf", folder)
        assert code.count(BEGIN) >= 1 and code.count(BEGIN) == code.count(END), case
        stripped = without_speedup(code)
        assert "train_steps" in code and "train_steps" not in stripped, case
        for version, text in (("original", code), ("stripped", stripped)):
            program = folder / f"train_{version}.py"
            program.write_text(text, encoding="utf-8")
            argv = [*flags, "--save-weights", str(folder / f"{version}.npz")]
            argv += ["--metrics-out", str(folder / f"{version}.jsonl")]
            if "--checkpoint-every" in flags:
                argv += ["--checkpoint-dir", str(folder / f"ck_{version}")]
            jobs.append({"file": str(program), "argv": argv})
    (root / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    driver = Path(__file__).with_name("run_programs.py")
    subprocess.run(
        [sys.executable, str(driver), str(root / "jobs.json"), str(root / "results.json")],
        check=True,
        timeout=900,
    )
    statuses = json.loads((root / "results.json").read_text(encoding="utf-8"))
    assert statuses == ["ok"] * len(jobs), [s[-800:] for s in statuses if s != "ok"]
    return {case: root / case for case, _, _ in CASES}


def steps(path: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(r["step"], r["loss"]) for r in records if r["event"] == "step"]


@pytest.mark.parametrize("case", [case for case, _, _ in CASES])
def test_deleting_the_speedup_changes_no_number(runs: dict[str, Path], case: str) -> None:
    folder = runs[case]
    original, stripped = steps(folder / "original.jsonl"), steps(folder / "stripped.jsonl")
    assert original == stripped
    assert len(original) >= 6 and len({loss for _, loss in original}) > 1, "it did not train"
    with np.load(folder / "original.npz") as a, np.load(folder / "stripped.npz") as b:
        assert a.files == b.files and a.files
        for name in a.files:
            assert np.array_equal(a[name], b[name]), f"{case}: weight {name} differs"
    if "checkpoints" in case:
        for version in ("original", "stripped"):
            assert (folder / f"ck_{version}" / "latest").read_text() == "ckpt-000000028.npz"
