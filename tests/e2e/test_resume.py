"""Training survives SIGKILL: resumed from its latest checkpoint, a run ends with exactly the
weights of an uninterrupted run (shuffling and dropout included), for both targets, and its
metrics.jsonl holds exactly the records of an uninterrupted run (timings aside)."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from modelgen.build import generate
from tests.specs import base_spec, write_spec

pytestmark = pytest.mark.slow
KILLS = 10
EVERY = 7


def spec() -> dict:
    s = base_spec(name="resumable")
    s["train"]["epochs"] = 120  # 5 steps per epoch: 600 steps, a few seconds
    s["model"]["layers"] = [
        {"dense": {"units": 16, "activation": "relu"}},
        {"dropout": {"rate": 0.3}},
        {"batch_norm": {}},
        {"dense": {"units": 3}},
    ]
    return s


TIMINGS = {"step_seconds", "seconds", "wall_clock", "build_seconds", "peak_rss_mb"}


def start(program: Path, folder: Path, resume: bool, every: int = EVERY) -> subprocess.Popen:
    args = [
        sys.executable,
        str(program),
        "--checkpoint-dir",
        "ck",
        "--checkpoint-every",
        str(every),
        "--metrics-out",
        "metrics.jsonl",
        "--save-weights",
        "final.npz",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        args + (["--resume"] if resume else []),
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def logged_steps(folder: Path) -> list[int]:
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return []
    steps = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line the kill cut short
        if record["event"] == "step":
            steps.append(record["step"])
    return steps


def training_records(folder: Path) -> list[dict]:
    """The step and epoch records of a metrics file, without their timings."""
    records = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    return [
        {k: v for k, v in r.items() if k not in TIMINGS}
        for r in records
        if r["event"] in ("step", "epoch")
    ]


def assert_same_records(reference: Path, killed: Path) -> None:
    """Every step and epoch record (losses, metrics, val_ metrics) exactly as uninterrupted,
    each once and in order."""
    expected, got = training_records(reference), training_records(killed)
    for index, (a, b) in enumerate(zip(expected, got)):
        assert a == b, f"record {index} differs: {b} instead of {a}"
    assert len(got) == len(expected)


def same_weights(a_path: Path, b_path: Path) -> bool:
    with np.load(a_path) as a, np.load(b_path) as b:
        return a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


@pytest.mark.parametrize("target", ["keras", "tf"])
def test_killed_runs_resume_to_identical_weights(tmp_path: Path, target: str):
    spec_path = write_spec(tmp_path, spec())
    program = tmp_path / "train.py"
    program.write_text(generate(spec_path, target, tmp_path)[1], encoding="utf-8")
    reference = tmp_path / "reference"
    reference.mkdir()
    process = start(program, reference, resume=False)
    assert process.wait(timeout=600) == 0, process.stderr.read()

    records = [json.loads(x) for x in (reference / "metrics.jsonl").read_text().splitlines()]
    training = sum(r["step_seconds"] for r in records if r["event"] == "step")
    killed = tmp_path / "killed"
    killed.mkdir()
    rng = random.Random(f"resume-{target}")
    kills, lost = 0, []
    resume = False
    while kills < KILLS:
        before = len(logged_steps(killed))
        process = start(program, killed, resume=resume)
        while len(logged_steps(killed)) <= before and process.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, training / (KILLS + 2)))  # a random moment in training
        if process.poll() is not None:
            break  # it finished before the kill: no more kill points in this run
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        latest = killed / "ck" / "latest"
        resumed_from = 0  # killed before the first checkpoint: the resume starts over
        if latest.is_file():
            resumed_from = int(latest.read_text().strip().removeprefix("ckpt-")[:-4])
        last_logged = max(logged_steps(killed))
        lost.append(last_logged - resumed_from)
        resume = True
    process = start(program, killed, resume=True)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert kills >= KILLS, f"only {kills} kill points landed"
    # Steps lost per kill are the ones after the last checkpoint: at most the interval.
    assert all(0 <= n <= EVERY for n in lost), lost
    with np.load(reference / "final.npz") as a, np.load(killed / "final.npz") as b:
        assert a.files == b.files
        for name in a.files:
            assert np.array_equal(a[name], b[name]), f"{name} differs after {kills} kills"
    # No step ran twice into the weights: after each resume, logging restarts right after the
    # checkpoint, and the last step is the same as the reference's.
    assert max(logged_steps(killed)) == max(logged_steps(reference)) == 600
    assert_same_records(reference, killed)
    print(f"{target}: {kills} kills, steps lost per kill {lost}")


@pytest.mark.parametrize("target", ["keras", "tf"])
def test_killed_runs_resume_to_identical_records(tmp_path: Path, target: str):
    """Kills at random moments (seeded), checkpoints every 3 steps of 5-step epochs (mid-epoch
    and on epochs' last steps): each checkpoint's recorded log size ends the log right after
    its step's record, or its epoch's record on an epoch's last step (validation done), and
    the resumed log is the uninterrupted one (running losses, accuracies, val_ metrics)."""
    kills_wanted, every, per_epoch = 4, 3, 5
    s = spec()
    s["train"]["epochs"] = 40
    spec_path = write_spec(tmp_path, s)
    program = tmp_path / "train.py"
    program.write_text(generate(spec_path, target, tmp_path)[1], encoding="utf-8")
    reference = tmp_path / "reference"
    reference.mkdir()
    process = start(program, reference, resume=False, every=every)
    assert process.wait(timeout=600) == 0, process.stderr.read()
    records = [json.loads(x) for x in (reference / "metrics.jsonl").read_text().splitlines()]
    training = sum(r["step_seconds"] for r in records if r["event"] == "step")
    killed = tmp_path / "killed"
    killed.mkdir()
    rng = random.Random(f"records-{target}")
    kills, resume, points = 0, False, []
    while kills < kills_wanted:
        before = len(logged_steps(killed))
        process = start(program, killed, resume=resume, every=every)
        while len(logged_steps(killed)) <= before and process.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, training / (kills_wanted + 1)))
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        resume = True
        latest = killed / "ck" / "latest"
        if not latest.is_file():
            continue
        with np.load(killed / "ck" / latest.read_text().strip()) as archive:
            step, size = int(archive["__step__"]), int(archive["__log_bytes__"])
        points.append(step)
        kept = (killed / "metrics.jsonl").read_bytes()[:size].decode().splitlines()
        last = json.loads(kept[-1])
        if step % per_epoch:
            assert (last["event"], last["step"]) == ("step", step), last
        else:
            assert (last["event"], last["epoch"]) == ("epoch", step // per_epoch), last
            assert "val_loss" in last and "val_accuracy" in last
    process = start(program, killed, resume=True, every=every)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert kills >= kills_wanted, f"only {kills} kill points landed"
    assert same_weights(reference / "final.npz", killed / "final.npz")
    assert_same_records(reference, killed)
    print(f"{target}: {kills} kills, resumed from steps {points}")


def test_modelgen_run_resume_extends_a_finished_run_to_more_epochs(tmp_path: Path):
    """`modelgen run --resume DIR --epochs N` continues a finished run to epoch N (on another
    device name too) and ends with exactly the weights of a run of N epochs."""
    s = spec()
    s["train"]["epochs"] = 4
    path = write_spec(tmp_path, s)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

    def modelgen(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "modelgen", "run", *map(str, args)]
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )

    for runs, epochs in (("short", "3"), ("long", "6")):
        result = modelgen(path, "-t", "keras", "--epochs", epochs, "--runs-dir", runs)
        assert result.returncode == 0, result.stderr
    (short,) = (tmp_path / "short").iterdir()
    (long,) = (tmp_path / "long").iterdir()
    result = modelgen("--resume", short, "--epochs", "6", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "resumed from step 15" in (short / "output.log").read_text()
    record = json.loads((short / "run.json").read_text())
    assert record["status"] == "completed" and len(record["epoch_seconds"]) == 3
    assert same_weights(long / "weights.npz", short / "weights.npz")
    # The first part's end record is cut with the rest after its last checkpoint: both logs,
    # and the CSVs built from them, hold the same step and epoch rows (timings aside).
    assert_same_records(long, short)

    def rows(folder: Path) -> list[dict]:
        with open(folder / "metrics.csv", newline="") as handle:
            return [
                {k: v for k, v in r.items() if k not in TIMINGS} for r in csv.DictReader(handle)
            ]

    assert rows(short) == rows(long) and len(rows(long)) == 6 * 5 + 6
    assert json.loads((short / "command.json").read_text())["options"]["epochs"] == 6


def test_signals_to_modelgen_run_at_random_moments_resume_exactly(tmp_path: Path):
    """SIGINT, SIGTERM and SIGKILL of `modelgen run` itself, each at a random moment: no process
    of the run survives (checked in /proc), and resuming after each ends with the weights and
    records of an uninterrupted `modelgen run`."""
    from tests.e2e.test_run import _alive, _none_left

    s = spec()
    s["train"]["epochs"] = 40
    path = write_spec(tmp_path, s)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

    def modelgen_run(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "modelgen", "run", *map(str, args)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    whole = modelgen_run(path, "-t", "tf", "--checkpoint-every", "3", "--runs-dir", "whole")
    assert whole.wait(timeout=600) == 0, whole.stderr.read()
    (reference,) = (tmp_path / "whole").iterdir()
    rng = random.Random("runner-signals")
    process = modelgen_run(path, "-t", "tf", "--checkpoint-every", "3", "--runs-dir", "cut")
    stopped = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("cut/*/checkpoints/latest")) or len(
            logged_steps(next((tmp_path / "cut").iterdir()))
        ) < 3 * (len(stopped) + 1):
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        (run_dir,) = (tmp_path / "cut").iterdir()
        if process.poll() is not None:
            break  # it finished first
        process.send_signal(sig)
        process.communicate(timeout=60)
        assert _none_left(run_dir), f"a process of the run outlived {sig.name}: {_alive(run_dir)}"
        stopped.append(sig.name)
        process = modelgen_run("--resume", run_dir)
    assert process.wait(timeout=600) == 0, process.stderr.read()
    assert stopped, "every signal came after the run had finished"
    assert same_weights(reference / "weights.npz", run_dir / "weights.npz")
    assert_same_records(reference, run_dir)


@pytest.mark.parametrize("target", ["keras", "tf"])
def test_metric_state_is_checkpointed(tmp_path: Path, target: str):
    """Metrics with their own state (AUC's, precision's, recall's and F1's confusion counts)
    go into the checkpoint: a run stopped in mid-epoch and resumed logs exactly the records
    of an uninterrupted run (the resumed epoch's metrics include the steps before the stop)."""
    s = base_spec(name="resumable_metrics")
    s["train"]["epochs"] = 4  # 5 steps per epoch
    s["model"]["layers"][-1]["dense"] |= {"units": 1, "activation": "sigmoid"}
    s["train"]["loss"] = {"type": "binary_crossentropy"}
    s["train"]["metrics"] = ["accuracy", "auc", "precision", "recall", "f1_score"]
    spec_path = write_spec(tmp_path, s)
    program = tmp_path / "train.py"
    program.write_text(generate(spec_path, target, tmp_path)[1], encoding="utf-8")
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    for folder in (reference, stopped):
        folder.mkdir()
    assert start(program, reference, resume=False, every=4).wait(timeout=600) == 0
    # A run cut at step 8 (checkpointed there, in mid-epoch 2), then resumed to the end.
    cut = subprocess.run(
        [
            sys.executable,
            str(program),
            "--checkpoint-dir",
            "ck",
            "--checkpoint-every",
            "4",
            "--metrics-out",
            "metrics.jsonl",
            "--max-steps",
            "8",
        ],
        cwd=stopped,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert cut.returncode == 0, cut.stderr
    assert (stopped / "ck" / "latest").read_text().strip() == "ckpt-000000008.npz"
    assert start(program, stopped, resume=True, every=4).wait(timeout=600) == 0
    assert same_weights(reference / "final.npz", stopped / "final.npz")
    records = training_records(reference)
    assert {"auc", "precision", "recall", "f1_score", "val_auc"} <= set(records[-1])
    assert_same_records(reference, stopped)
