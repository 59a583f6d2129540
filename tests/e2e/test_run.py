"""`modelgen run` and `modelgen bench` end to end: run folders, summaries, failures."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import ROOT
from tests.specs import base_spec, write_spec

pytestmark = pytest.mark.slow
DIGITS = ROOT / "examples" / "configs" / "digits_mlp.yaml"


def modelgen(
    *args: str, cwd: Path, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "modelgen", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_run_writes_a_complete_run_folder(tmp_path: Path):
    """Also: --batch-size, --seed and --data reach the program, the options are recorded as
    data, and every file of the folder follows the umask (0o027 here)."""
    data = ROOT / "examples" / "data" / "digits.npz"
    result = subprocess.run(
        [sys.executable, "-m", "modelgen", "run", str(DIGITS), "-t", "tf", "--epochs", "2",
         "--batch-size", "64", "--seed", "1", "--data", str(data)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        preexec_fn=lambda: os.umask(0o027),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for line in (
        "status                                 completed",
        "steady step (median)",
        "examples per second",
        "final val_accuracy",
        "peak memory",
    ):
        assert line.split("  ")[0] in result.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("digits_mlp-tf-")
    for name in (
        "train.py",
        "spec.yaml",
        "metrics.jsonl",
        "metrics.csv",
        "run.json",
        "weights.npz",
        "curves.png",
        "output.log",
    ):
        assert (run_dir / name).is_file(), name
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed" and record["exit_code"] == 0
    assert record["batch_size"] == 64 and record["steps"] == 2 * 23
    assert len(record["epoch_seconds"]) == 2 and record["steady_step_seconds"] > 0
    assert record["final"]["val_accuracy"] > 0.5
    assert "epoch 2:" in result.stderr  # the live progress lines
    command = json.loads((run_dir / "command.json").read_text())
    assert command["version"] == 1 and command["target"] == "tf"
    assert {k: command["options"][k] for k in ("epochs", "batch_size", "seed", "data")} == {
        "epochs": 2,
        "batch_size": 64,
        "seed": 1,
        "data": str(data),
    }
    for path in [run_dir, *run_dir.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o750 if path.is_dir() else 0o640), f"{path}: {oct(mode)}"


def test_run_reports_a_missing_device_before_training(tmp_path: Path):
    result = modelgen("run", DIGITS, "-t", "keras", "--device", "gpu", cwd=tmp_path)
    assert result.returncode == 1
    line = "error: device 'gpu' is not available here (devices found:"
    assert line in result.stderr
    assert "Traceback" not in result.stderr.split("see ")[0]
    (run_dir,) = (tmp_path / "runs").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["exit_code"] == 1
    assert record["error"].startswith(line)


def test_run_passes_the_tpu_timeout_to_the_program(tmp_path: Path, silent_tpu: str):
    """A TPU address that accepts but never answers: `modelgen run` gives up after its
    --tpu-timeout, with the program's error, before any training."""
    started = time.monotonic()
    result = modelgen(
        "run",
        DIGITS,
        "-t",
        "tf",
        "--device",
        "tpu",
        "--tpu-timeout",
        "3",
        cwd=tmp_path,
        env={"TPU_NAME": silent_tpu},
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"error: no TPU at '{silent_tpu}': no answer within 3 s (--tpu-timeout)" in result.stderr
    assert elapsed < 60  # the program's default would wait 120 s
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not (run_dir / "metrics.jsonl").exists()  # stopped before anything ran


def test_a_diverging_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    spec = base_spec(name="diverge")
    spec["train"]["optimizer"] = {"type": "sgd", "learning_rate": 1.0e30}
    path = write_spec(tmp_path, spec)
    for target in ("keras", "tf"):
        runs = tmp_path / f"runs_{target}"
        result = modelgen(
            "run", path, "-t", target, "--checkpoint-every", "1", "--runs-dir", runs, cwd=tmp_path
        )
        assert result.returncode == 1, result.stdout
        match = re.search(r"the loss stopped being finite at step (\d+)", result.stderr)
        assert match and "Lower the learning rate" in result.stderr
        failed_at = int(match.group(1))
        checkpoints = next(runs.iterdir()) / "checkpoints"
        if failed_at > 1:
            latest = checkpoints / (checkpoints / "latest").read_text().strip()
            with np.load(latest) as archive:
                assert int(archive["__step__"]) < failed_at
                assert all(np.isfinite(archive[k]).all() for k in archive.files)
        else:
            assert not (checkpoints / "latest").exists()


def test_ctrl_c_stops_cleanly_with_the_summary_so_far(tmp_path: Path):
    spec = yaml.safe_load(DIGITS.read_text())
    spec["data"]["path"] = str(ROOT / "examples" / "data" / "digits.npz")
    spec["data"]["data_root"] = str(ROOT / "examples" / "data")  # data outside the spec's folder
    spec["train"]["epochs"] = 2000  # ~40 s: never over before the signal, even on a busy machine
    path = write_spec(tmp_path, spec)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        [sys.executable, "-m", "modelgen", "run", str(path), "-t", "tf"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        metrics = list((tmp_path / "runs").glob("*/metrics.jsonl"))
        if metrics and '"event": "epoch"' in metrics[0].read_text():
            break
        time.sleep(0.3)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "status                                 interrupted" in out
    record = json.loads(next((tmp_path / "runs").glob("*/run.json")).read_text())
    assert record["status"] == "interrupted" and 0 < record["steps"] < 2000 * 45


def test_bench_runs_targets_interleaved_and_saves_the_table(tmp_path: Path):
    result = modelgen("bench", DIGITS, "--repeat", "1", "--max-steps", "30", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "tf/keras" in result.stdout and "steady step (median)" in result.stdout
    table = json.loads((tmp_path / "runs" / "bench.json").read_text())
    assert set(table["targets"]) == {"keras", "tf"}
    assert table["ratio_tf_over_keras"]["steady_step_seconds"] > 0
    order = [line for line in result.stderr.splitlines() if line.startswith("run ")]
    assert order == ["run 1/1: keras", "run 1/1: tf"]


def test_run_resume_continues_a_killed_run_to_the_same_weights(tmp_path: Path):
    spec = yaml.safe_load(DIGITS.read_text())
    spec["data"]["path"] = str(ROOT / "examples" / "data" / "digits.npz")
    spec["data"]["data_root"] = str(ROOT / "examples" / "data")  # data outside the spec's folder
    spec["train"]["epochs"] = 12
    path = write_spec(tmp_path, spec)
    assert modelgen("run", path, "-t", "tf", "--runs-dir", "whole", cwd=tmp_path).returncode == 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelgen",
            "run",
            str(path),
            "-t",
            "tf",
            "--checkpoint-every",
            "20",
            "--runs-dir",
            "cut",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        latest = list((tmp_path / "cut").glob("*/checkpoints/latest"))
        if latest and "ckpt-000000060" <= latest[0].read_text():
            break
        time.sleep(0.05)
    (run_dir,) = (tmp_path / "cut").iterdir()
    # Kill modelgen and the training program (its own session, working in the run folder).
    os.killpg(process.pid, signal.SIGKILL)
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")) == run_dir.resolve():
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            continue
    process.wait()
    # A run folder moved elsewhere still resumes (its data is named by absolute path), and
    # is still recognised as modelgen's own (no --trust-run-dir).
    moved = tmp_path / "elsewhere" / run_dir.name
    shutil.copytree(run_dir, moved)
    shutil.rmtree(run_dir)
    run_dir = moved
    result = modelgen("run", "--resume", run_dir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "resumed from step" in (run_dir / "output.log").read_text()
    (whole,) = (tmp_path / "whole").iterdir()
    with np.load(whole / "weights.npz") as a, np.load(run_dir / "weights.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def _alive(run_dir: Path) -> list[int]:
    """Live processes working in ``run_dir`` (the training program runs there)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")) == run_dir.resolve():
                if (proc / "stat").read_text().rpartition(")")[2].split()[0] != "Z":
                    pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _none_left(run_dir: Path, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(run_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "modelgen", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _epochs_logged(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    return path.read_text().count('"event": "epoch"') if path.is_file() else 0


def _wait_for_epochs(run_dir: Path, count: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while _epochs_logged(run_dir) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_stopping_modelgen_run_ends_its_program_and_the_folder_is_locked_meanwhile(tmp_path):
    """SIGKILL and SIGTERM of `modelgen run` leave no process of the run behind; a second
    resume of a folder in use is refused; a checkpoint holding a pickle is refused unread."""
    spec = base_spec(name="stoppable")
    spec["train"]["epochs"] = 100_000  # 5 steps an epoch: trains until stopped
    path = write_spec(tmp_path, spec)
    process = _start("run", path, "-t", "tf", cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("runs/*/metrics.jsonl")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    (run_dir,) = (tmp_path / "runs").iterdir()
    _wait_for_epochs(run_dir, 2, process)
    second = modelgen("run", "--resume", run_dir, cwd=tmp_path)
    assert second.returncode == 2 and "is in use by another `modelgen run`" in second.stderr
    assert _alive(run_dir)
    process.kill()  # SIGKILL: no handler runs; the kernel ends the program (PDEATHSIG)
    process.communicate()
    assert _none_left(run_dir), "the program outlived `modelgen run` after SIGKILL"

    before = _epochs_logged(run_dir)
    process = _start("run", "--resume", run_dir, "--epochs", "200000", cwd=tmp_path)
    _wait_for_epochs(run_dir, before + 2, process)
    process.terminate()  # SIGTERM, as `timeout` or a service manager sends it
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert _none_left(run_dir), "the program outlived `modelgen run` after SIGTERM"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "interrupted" and record["stopped_by"] == "SIGTERM"
    assert "status                                 interrupted" in out

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    checkpoints = run_dir / "checkpoints"
    latest = checkpoints / (checkpoints / "latest").read_text().strip()
    with np.load(latest) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays[sorted(arrays)[-1]] = np.array([Payload()], dtype=object)
    np.savez(latest, **arrays)
    result = modelgen("run", "--resume", run_dir, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"error: {latest.relative_to(run_dir)}: holds Python objects" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "pwned").exists()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
