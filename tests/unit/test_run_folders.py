"""Run folders as untrusted data: command.json, the train.py trust check, checkpoints/latest,
links, locks, unique names, file modes, failed runs and signals. No TensorFlow: a program
that must run is a small fake train.py writing the records a generated one writes."""

from __future__ import annotations

import argparse
import ast
import errno
import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from modelgen import __version__, runner
from modelgen.build import OUTPUT_MARK, generate
from modelgen.errors import ModelgenError
from modelgen.runner import (
    MetricsReader,
    RunLock,
    RunSummary,
    _wait,
    new_run_dir,
    resume,
    run,
)
from tests.conftest import ROOT
from tests.specs import base_spec, write_spec

DIGITS = ROOT / "examples" / "configs" / "digits_mlp.yaml"


@pytest.fixture
def calls(monkeypatch):
    """Replace the program's execution: record what would run, report success."""
    made: list[SimpleNamespace] = []

    def execute(run_dir, target, flags, quiet, lock, resuming):
        made.append(SimpleNamespace(run_dir=run_dir, target=target, flags=flags, lock=lock))
        assert lock.fd >= 0  # the folder is locked while it is used
        return RunSummary(target=target, status="completed", run_dir=str(run_dir))

    monkeypatch.setattr(runner, "_execute", execute)
    return made


@pytest.fixture
def folder(tmp_path: Path, calls) -> Path:
    """A fresh run folder of the tiny synthetic spec (tf target), as `modelgen run` makes it."""
    spec = write_spec(tmp_path, base_spec())
    run(spec, "tf", runs_dir=tmp_path / "runs", epochs=3, max_steps=12)
    return calls[-1].run_dir


def fail_text(cli, *args) -> str:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


# -- command.json --------------------------------------------------------------------------


def test_command_json_holds_structured_options_and_flags_are_rebuilt(folder: Path, calls):
    command = json.loads((folder / "command.json").read_text())
    assert command["version"] == 1 and command["target"] == "tf"
    assert command["options"]["epochs"] == 3 and command["options"]["max_steps"] == 12
    assert calls[-1].flags == [
        "--metrics-out=metrics.jsonl",
        "--save-weights=weights.npz",
        "--checkpoint-dir=checkpoints",
        "--checkpoint-every=0",
        "--epochs=3",
        "--max-steps=12",
    ]


BAD_COMMANDS = [
    ("{", "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('"flags"', "expected a JSON object, got str"),
    ('{"target": "tf", "flags": ["--metrics-out", "/etc/x"]}', "no format version"),
    ('{"version": 2, "target": "tf", "options": {}}', "unknown format version 2"),
    ('{"version": "1", "target": "tf", "options": {}}', "unknown format version '1'"),
    ('{"version": true, "target": "tf", "options": {}}', "unknown format version True"),
    ('{"version": 1, "options": {}}', "missing key 'target'"),
    ('{"version": 1, "target": "tf"}', "missing key 'options'"),
    ('{"version": 1, "target": "evil", "options": {}}', "unknown target 'evil'"),
    ('{"version": 1, "target": ["tf"], "options": {}}', "unknown target ['tf']"),
    ('{"version": 1, "target": "tf", "options": []}', "'options' must be a JSON object"),
    ('{"version": 1, "target": "tf", "options": {}, "flags": []}', "unknown key 'flags'"),
    ('{"version": 1, "target": "tf", "options": {"metrics_out": "/x"}}', "unknown option"),
    ('{"version": 1, "target": "tf", "options": {"epochs": "3"}}', "'epochs' must be a whole"),
    ('{"version": 1, "target": "tf", "options": {"epochs": 0}}', "'epochs' must be a whole"),
    ('{"version": 1, "target": "tf", "options": {"epochs": true}}', "'epochs' must be a whole"),
    ('{"version": 1, "target": "tf", "options": {"epochs": 2.5}}', "'epochs' must be a whole"),
    ('{"version": 1, "target": "tf", "options": {"max_steps": -1}}', "'max_steps' must be"),
    ('{"version": 1, "target": "tf", "options": {"seed": 1e400}}', "'seed' must be a whole"),
    ('{"version": 1, "target": "tf", "options": {"seed": 99999999999999999999}}', "'seed'"),
    ('{"version": 1, "target": "tf", "options": {"checkpoint_every": null}}', "must be given"),
    ('{"version": 1, "target": "tf", "options": {"tpu_timeout": NaN}}', "'tpu_timeout' must"),
    ('{"version": 1, "target": "tf", "options": {"tpu_timeout": 0}}', "'tpu_timeout' must"),
    ('{"version": 1, "target": "tf", "options": {"device": "foo"}}', "unknown device name"),
    ('{"version": 1, "target": "tf", "options": {"device": "gpu:x"}}', "unknown device name"),
    ('{"version": 1, "target": "tf", "options": {"device": "--x=1"}}', "unknown device name"),
    ('{"version": 1, "target": "tf", "options": {"device": 3}}', "unknown device name"),
    ('{"version": 1, "target": "tf", "options": {"data": "data.npz"}}', "absolute path"),
    ('{"version": 1, "target": "tf", "options": {"data": "/a\\u0000b"}}', "absolute path"),
    ('{"version": 1, "target": "tf", "options": {"jit": "yes"}}', "'jit' must be true"),
    (
        '{"version": 1, "target": "tf", "options": {}, "spec_overrides": {"train.lr": 1}}',
        "unknown spec override 'train.lr'",
    ),
    (
        '{"version": 1, "target": "tf", "options": {}, "spec_overrides": {"data.path": "x"}}',
        "must be an absolute path",
    ),
    ('{"version": 1, "target": "tf", "options": {}, "spec_overrides": []}', "must be a JSON"),
    ('{"version": 1, "target": "tf", "options": {}, "modelgen": 5}', "'modelgen' must be"),
    ("[" * 100_000 + "]" * 100_000, "too large"),
    ("[" * 20_000 + "]" * 20_000, "not valid JSON"),
]


@pytest.mark.parametrize("text,message", BAD_COMMANDS)
def test_malformed_command_json_is_a_clear_error(cli, folder: Path, calls, text, message):
    (folder / "command.json").write_text(text)
    output = fail_text(cli, "run", "--resume", folder)
    assert f"error: {folder / 'command.json'}: " in output and message in output
    assert len(calls) == 1  # only the original run: nothing else started


def test_command_json_that_is_not_text_or_not_a_file(cli, folder: Path, tmp_path: Path):
    command = folder / "command.json"
    command.write_bytes(b'{"version": 1, "target": "\xff"}')
    assert "not UTF-8 text" in fail_text(cli, "run", "--resume", folder)
    command.unlink()
    assert "missing: not a modelgen run folder" in fail_text(cli, "run", "--resume", folder)
    command.mkdir()
    assert "not a regular file" in fail_text(cli, "run", "--resume", folder)
    command.rmdir()
    (tmp_path / "elsewhere.json").write_text('{"version": 1, "target": "tf", "options": {}}')
    command.symlink_to(tmp_path / "elsewhere.json")
    assert "not a regular file" in fail_text(cli, "run", "--resume", folder)
    assert "no such run folder" in fail_text(cli, "run", "--resume", tmp_path / "nothing")


# -- the train.py trust check --------------------------------------------------------------


def test_resume_runs_an_unedited_train_py(cli, folder: Path, calls):
    result = cli("run", "--resume", folder)
    assert result.exit_code == 0, result.output
    assert calls[-1].flags[-1] == "--resume" and calls[-1].target == "tf"


def _refusal(cli, folder: Path) -> str:
    output = fail_text(cli, "run", "--resume", folder)
    assert f"error: {folder / 'train.py'}: refusing to run it: " in output
    assert "--trust-run-dir" in output
    return output


def _rehash(text: str, old: str, new: str) -> str:
    """Change ``old`` to ``new`` in a generated file and fix its hash line (as a generator of
    that other version would have written it)."""
    body = text.rpartition(OUTPUT_MARK)[0].replace(old, new)
    return body + OUTPUT_MARK + hashlib.sha256(body.encode()).hexdigest() + "\n"


def test_resume_refuses_a_train_py_that_is_not_modelgens_output(cli, folder: Path, calls):
    program = folder / "train.py"
    original = program.read_text()
    program.write_text(original.replace("def main(argv=None):", "import os\ndef main(argv=None):"))
    assert "train.py was edited" in _refusal(cli, folder)
    program.write_text(original + "print('hi')\n")  # after the hash line
    assert "train.py was edited" in _refusal(cli, folder)
    program.write_text(
        _rehash(original, f"# modelgen-version: {__version__}", "# modelgen-version: 0.0.1")
    )
    assert f"generated by modelgen 0.0.1, this is {__version__}" in _refusal(cli, folder)
    program.write_text(_rehash(original, "epochs", "epochz"))  # pristine, same version
    assert "with the recorded options" in _refusal(cli, folder)
    program.write_text(original)
    spec = folder / "spec.yaml"
    spec.write_text(spec.read_text().replace("units: 8", "units: 9"))
    assert "spec.yaml changed since train.py was generated" in _refusal(cli, folder)
    spec.write_text("name: [")
    output = fail_text(cli, "run", "--resume", folder)
    assert "no longer compiles" in output and "--trust-run-dir" not in output
    program.unlink()
    spec.unlink()
    assert len(calls) == 1
    program.write_text("import os; os.system('touch /tmp/pwned')\n")
    result = cli("run", "--resume", folder, "--trust-run-dir")  # the user's explicit choice
    assert result.exit_code == 0 and len(calls) == 2


def test_resume_refuses_train_py_when_it_is_a_link_or_missing(cli, folder: Path, tmp_path: Path):
    program = folder / "train.py"
    elsewhere = tmp_path / "other.py"
    elsewhere.write_bytes(program.read_bytes())
    program.unlink()
    assert "train.py is missing" in _refusal(cli, folder)
    program.symlink_to(elsewhere)
    assert "symbolic link" in fail_text(cli, "run", "--resume", folder)


def test_resume_regenerates_with_the_runs_overrides_and_relative_data(
    cli, tmp_path: Path, calls, monkeypatch
):
    """digits_mlp's data path is relative to the spec; a jit run changes the program: the
    folder's copy regenerates the same train.py from the recorded overrides."""
    monkeypatch.chdir(tmp_path)
    run(DIGITS, "keras", runs_dir=Path("runs"), jit=True)
    folder = calls[-1].run_dir
    command = json.loads((folder / "command.json").read_text())
    assert command["options"]["jit"] is True
    assert command["spec_overrides"]["data.path"] == str(ROOT / "examples" / "data" / "digits.npz")
    assert "jit_compile=True" in (folder / "train.py").read_text()
    result = cli("run", "--resume", folder)
    assert result.exit_code == 0, result.output
    command["options"]["jit"] = False  # a tampered option shows as a different program
    (folder / "command.json").write_text(json.dumps(command))
    assert "with the recorded options" in _refusal(cli, folder)


# -- options on the command line, and on resume ----------------------------------------------


@pytest.mark.parametrize("device", ["foo", "gpu:x", "gpu:", "GPU", "gpu:123", "", "cpu ", "tpu:0"])
def test_unknown_device_names_are_refused_before_anything_runs(cli, tmp_path, calls, device):
    spec = write_spec(tmp_path, base_spec())
    for command in (["run", spec], ["bench", spec, "--repeat", "1"]):
        output = fail_text(cli, *command, "--device", device)
        assert f"error: unknown device name {device!r}: expected auto, cpu, gpu, gpu:N" in output
        assert "tpu" in output
    assert not calls and not (tmp_path / "runs").exists()


def test_an_unknown_device_is_refused_without_importing_tensorflow(tmp_path: Path):
    spec = write_spec(tmp_path, base_spec())
    script = (
        "import sys\nfrom modelgen.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit as exc:\n"
        "    print(exc.code, 'tensorflow' in sys.modules)\n"
    )
    for command in ("run", "bench"):
        result = subprocess.run(
            [sys.executable, "-c", script, command, str(spec), "--device", "gpu:x"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert result.stdout.split() == ["2", "False"], result.stderr
        assert "error: unknown device name 'gpu:x'" in result.stderr


def test_known_device_names_pass(cli, tmp_path: Path, calls):
    spec = write_spec(tmp_path, base_spec())
    for device in ("auto", "cpu", "gpu", "gpu:0", "gpu:12", "tpu"):
        assert cli("run", spec, "--device", device).exit_code == 0
        assert f"--device={device}" in calls[-1].flags


def test_run_passes_seed_batch_size_and_data(cli, tmp_path: Path, calls, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "digits.npz"
    data.write_bytes((ROOT / "examples" / "data" / "digits.npz").read_bytes())
    result = cli("run", DIGITS, "--seed", "7", "--batch-size", "64", "--data", "digits.npz")
    assert result.exit_code == 0, result.output
    assert calls[-1].flags[-3:] == ["--batch-size=64", "--seed=7", f"--data={data}"]
    options = json.loads((calls[-1].run_dir / "command.json").read_text())["options"]
    assert options["data"] == str(data) and options["seed"] == 7  # stored absolute
    assert "no such file" in fail_text(cli, "run", DIGITS, "--data", "missing.npz")
    synthetic = write_spec(tmp_path, base_spec())
    assert "synthetic" in fail_text(cli, "run", synthetic, "--data", "digits.npz")
    for flag, value in (("--seed", "-1"), ("--batch-size", "0")):
        assert cli("run", synthetic, flag, value).exit_code == 2


def test_resume_honours_new_epochs_and_device(cli, folder: Path, calls):
    result = cli("run", "--resume", folder, "--epochs", "9", "--device", "cpu")
    assert result.exit_code == 0, result.output
    flags = calls[-1].flags
    assert "--epochs=9" in flags and "--device=cpu" in flags
    assert not any(f.startswith("--max-steps") for f in flags)  # --epochs N: to epoch N
    options = json.loads((folder / "command.json").read_text())["options"]
    assert options["epochs"] == 9 and options["device"] == "cpu"  # kept for the next resume
    assert cli("run", "--resume", folder, "--max-steps", "40").exit_code == 0
    assert "--max-steps=40" in calls[-1].flags and "--epochs=9" in calls[-1].flags


@pytest.mark.parametrize(
    "args,message",
    [
        (["--batch-size", "8"], "--batch-size cannot change when resuming"),
        (["--seed", "1"], "--seed cannot change when resuming"),
        (["-t", "keras"], "--target cannot change when resuming (the run began with tf)"),
        (["--data", "/"], "--data cannot change when resuming"),
        (["--runs-dir", "x"], "--runs-dir does not apply to --resume"),
        (["--device", "gpu:x"], "unknown device name 'gpu:x'"),
        (["--epochs", "0"], "--epochs"),
    ],
)
def test_resume_refuses_what_cannot_change(cli, folder: Path, calls, args, message):
    assert message in fail_text(cli, "run", "--resume", folder, *args)
    assert len(calls) == 1


def test_resume_accepts_the_target_it_has_and_not_a_spec_too(cli, folder: Path, tmp_path):
    assert cli("run", "--resume", folder, "-t", "tf").exit_code == 0
    spec = write_spec(tmp_path, base_spec(), "other.yaml")
    assert "not both" in fail_text(cli, "run", spec, "--resume", folder)
    assert "--resume only" in fail_text(cli, "run", spec, "--trust-run-dir")


# -- checkpoints/latest and links in the folder ----------------------------------------------


def _latest(folder: Path, content: bytes) -> Path:
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir(exist_ok=True)
    (checkpoints / "latest").write_bytes(content)
    return checkpoints


@pytest.mark.parametrize(
    "content",
    [b"/etc/passwd", b"../command.json", b"ckpt-000000005.npz/../../x", b"ckpt-00000005.npz",
     b"ckpt-000000005.npy", b"\xff\xfe\x00", b"", b"ckpt-\xd9\xa1\xd9\xa2\xd9\xa3.npz"],
)  # fmt: skip
def test_latest_must_name_a_plain_checkpoint_file(cli, folder: Path, calls, content):
    _latest(folder, content)
    output = fail_text(cli, "run", "--resume", folder)
    assert "must name a ckpt-NNNNNNNNN.npz file" in output
    assert len(calls) == 1


def test_latest_naming_a_missing_file_or_a_link_out_is_refused(cli, folder, tmp_path, calls):
    checkpoints = _latest(folder, b"ckpt-000000005.npz\n")
    assert "which is missing or not a regular file" in fail_text(cli, "run", "--resume", folder)
    outside = tmp_path / "outside.npz"
    np.savez(outside, x=np.zeros(2))
    (checkpoints / "ckpt-000000005.npz").symlink_to(outside)
    assert "which is missing or not a regular file" in fail_text(cli, "run", "--resume", folder)
    (checkpoints / "ckpt-000000005.npz").unlink()
    (checkpoints / "latest").unlink()
    pointer = tmp_path / "pointer"
    pointer.write_text("ckpt-000000005.npz")
    (checkpoints / "latest").symlink_to(pointer)
    assert "latest is not a regular file" in fail_text(cli, "run", "--resume", folder)
    (checkpoints / "latest").unlink()
    (checkpoints / "latest").mkdir()
    assert "latest is not a regular file" in fail_text(cli, "run", "--resume", folder)
    assert len(calls) == 1


@pytest.mark.parametrize("name", ["weights.npz", "metrics.jsonl", "output.log", "run.json"])
def test_links_in_the_folder_are_refused(cli, folder: Path, tmp_path: Path, calls, name):
    victim = tmp_path / f"victim-{name}"
    victim.write_text("precious")
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(victim)
    assert "is a symbolic link" in fail_text(cli, "run", "--resume", folder)
    (folder / name).unlink()
    os.link(victim, folder / name)
    assert "has other hard links" in fail_text(cli, "run", "--resume", folder)
    assert victim.read_text() == "precious" and len(calls) == 1


def test_a_checkpoint_folder_that_is_a_link_or_a_file_is_refused(cli, folder, tmp_path, calls):
    (tmp_path / "elsewhere").mkdir()
    (folder / "checkpoints").symlink_to(tmp_path / "elsewhere")
    assert "checkpoints is a symbolic link" in fail_text(cli, "run", "--resume", folder)
    (folder / "checkpoints").unlink()
    (folder / "checkpoints").write_text("")
    assert "checkpoints is not a folder" in fail_text(cli, "run", "--resume", folder)
    (folder / "checkpoints").unlink()
    os.mkfifo(folder / "output.log")
    assert "output.log is not a regular file" in fail_text(cli, "run", "--resume", folder)
    (folder / "output.log").unlink()
    (folder / ".lock").unlink()
    (folder / ".lock").symlink_to(tmp_path / "lock-elsewhere")
    assert "cannot open the lock" in fail_text(cli, "run", "--resume", folder)
    assert not (tmp_path / "lock-elsewhere").exists()
    (folder / ".lock").unlink()
    (tmp_path / "victim").write_text("precious")
    os.link(tmp_path / "victim", folder / ".lock")
    assert "a hard link?" in fail_text(cli, "run", "--resume", folder)
    assert (tmp_path / "victim").read_text() == "precious" and len(calls) == 1


def test_resume_removes_stale_temporaries_and_ends_a_cut_line(cli, folder: Path, tmp_path):
    checkpoints = _latest(folder, b"ckpt-000000010.npz")
    # A checkpoint that records no log size (an older one): the log is kept, its line ended.
    np.savez(checkpoints / "ckpt-000000010.npz", __step__=np.asarray(10))
    victim = tmp_path / "victim"
    victim.write_text("precious")
    stale = [
        folder / ".run.json.1a2b3c4d.tmp",
        folder / ".metrics.csv.deadbeef.tmp",
        checkpoints / ".ckpt-000000010.npz.tmp",
        checkpoints / ".latest.tmp",
    ]
    for path in stale[:-1]:
        path.write_text("half")
    stale[-1].symlink_to(victim)  # a planted link: removed, never written through
    (folder / "metrics.jsonl").write_text('{"event": "step", "step": 1, "lo')
    assert cli("run", "--resume", folder).exit_code == 0
    assert not any(os.path.lexists(p) for p in stale) and victim.read_text() == "precious"
    assert (folder / "metrics.jsonl").read_text().endswith('"lo\n')


def test_resume_cuts_the_log_back_to_the_latest_checkpoint(cli, folder: Path):
    """As the program will: what was logged after the checkpoint goes before it starts, so
    metrics.csv is built from the log the program continues; no checkpoint: no log."""
    checkpoints = _latest(folder, b"ckpt-000000001.npz")
    kept = b'{"event": "step", "step": 1, "loss": 1.0, "step_seconds": 0.1}\n'
    np.savez(checkpoints / "ckpt-000000001.npz", __step__=np.asarray(1),
             __log_bytes__=np.asarray(len(kept)))  # fmt: skip
    (folder / "metrics.jsonl").write_bytes(kept + b'{"event": "step", "step": 2, "lo')
    assert cli("run", "--resume", folder).exit_code == 0
    assert (folder / "metrics.jsonl").read_bytes() == kept
    (checkpoints / "latest").unlink()
    assert cli("run", "--resume", folder).exit_code == 0
    assert (folder / "metrics.jsonl").read_bytes() == b""


# -- the program's own loader (the functions of a generated train.py, without TensorFlow) ----


class Variable:
    def __init__(self, shape, dtype="float32"):
        self.value = np.zeros(shape, dtype)
        self.shape = shape

    def assign(self, value):
        value = np.asarray(value)
        if value.dtype.kind not in "fiu":
            raise TypeError(f"cannot assign {value.dtype}")
        self.value = value.astype(self.value.dtype)

    def numpy(self):
        return self.value


class Payload:
    """Unpickling this creates the marker file: what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> dict:
    """The checkpoint, weights, flags and metrics-log functions of a generated program,
    executed without its TensorFlow imports."""
    folder = tmp_path_factory.mktemp("program")
    code = generate(write_spec(folder, base_spec()), "tf", folder)[1]
    names = {"read_npz", "load_checkpoint", "load_weights", "save_checkpoint", "save_weights",
             "parse_args", "MetricsLog", "latest_checkpoint", "logged_bytes",
             "open_log", "assign_all", "write_atomically"}  # fmt: skip
    tree = ast.parse(code)
    body = [n for n in tree.body if getattr(n, "name", None) in names]
    assert {n.name for n in body} == names
    space = {"np": np, "os": os, "sys": sys, "Path": Path, "argparse": argparse, "json": json}
    space["SPEC_NAME"] = "tiny"
    exec(compile(ast.Module(body=body, type_ignores=[]), "train.py", "exec"), space)
    return space


def _refused(function, *args) -> str:
    with pytest.raises(SystemExit) as stopped:
        function(*args)
    assert isinstance(stopped.value.code, str) and stopped.value.code.startswith("error: ")
    return stopped.value.code


def test_checkpoints_round_trip_in_the_program(program, tmp_path: Path):
    variables = [("w", Variable((2, 3))), ("step", Variable((), "int64"))]
    variables[0][1].value[:] = 1.5
    program["save_checkpoint"](tmp_path, 7, variables, program["MetricsLog"](None))
    fresh = [("w", Variable((2, 3))), ("step", Variable((), "int64"))]
    assert program["load_checkpoint"](tmp_path, fresh) == 7
    assert (fresh[0][1].value == 1.5).all()
    assert program["load_checkpoint"](tmp_path / "none", fresh) == 0


def test_pickles_in_checkpoints_and_init_weights_are_never_unpickled(program, tmp_path: Path):
    marker = tmp_path / "pwned"
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    objects = np.array([Payload(marker)], dtype=object)
    np.savez(checkpoints / "ckpt-000000005.npz", __step__=np.asarray(5), w=objects)
    (checkpoints / "latest").write_text("ckpt-000000005.npz")
    variables = [("w", Variable((1,)))]
    message = _refused(program["load_checkpoint"], checkpoints, variables)
    assert "ckpt-000000005.npz: holds Python objects (dtype object) in array 'w'" in message
    with open(checkpoints / "ckpt-000000005.npz", "wb") as handle:  # a bare pickle
        pickle.dump({"w": Payload(marker)}, handle)
    assert "is not a .npz archive" in _refused(program["load_checkpoint"], checkpoints, variables)
    weights = tmp_path / "init.npz"
    np.savez(weights, w=objects)
    message = _refused(program["load_weights"], weights, variables)
    assert "init.npz: holds Python objects (dtype object) in array 'w'" in message
    assert not marker.exists()
    # The payload is real: loading it the unsafe way runs it.
    with np.load(weights, allow_pickle=True) as archive:
        archive["w"]
    assert marker.exists()


def test_damaged_or_foreign_archives_are_refused_in_the_program(program, tmp_path: Path):
    variables = [("w", Variable((2,)))]
    cases = {
        b"": "is not a .npz archive",
        b"PK\x03\x04garbage": "is not a readable .npz archive",
        b"\x93NUMPY\x01\x00garbage": "is not a .npz archive",
        b"just text": "is not a .npz archive",  # numpy would take it for a pickle
    }
    for index, (content, message) in enumerate(cases.items()):
        path = tmp_path / f"w{index}.npz"
        path.write_bytes(content)
        assert message in _refused(program["load_weights"], path, variables)
    assert "cannot read it" in _refused(program["load_weights"], tmp_path / "none.npz", variables)
    np.savez(tmp_path / "shape.npz", w=np.zeros(3))
    assert "has shape (3,)" in _refused(program["load_weights"], tmp_path / "shape.npz", variables)
    np.savez(tmp_path / "text.npz", w=np.array(["a", "b"]))
    assert "does not fit the model" in _refused(
        program["load_weights"], tmp_path / "text.npz", variables
    )
    checkpoints = tmp_path / "ck"
    checkpoints.mkdir()
    (checkpoints / "latest").write_text("ckpt-000000001.npz")
    for step in (None, np.asarray(-1), np.asarray([1, 2]), np.asarray(1.5)):
        arrays = {"w": np.zeros(2)} | ({} if step is None else {"__step__": step})
        np.savez(checkpoints / "ckpt-000000001.npz", **arrays)
        assert "no valid __step__" in _refused(program["load_checkpoint"], checkpoints, variables)


@pytest.mark.parametrize(
    "content,message",
    [("/etc/passwd", "must name a ckpt-"), ("../../etc/passwd", "must name a ckpt-"),
     ("ckpt-000000001.npz/../x", "must name a ckpt-"), ("ckpt-000000002.npz", "missing")],
)  # fmt: skip
def test_the_programs_latest_pointer_is_checked(program, tmp_path, content, message):
    checkpoints = tmp_path / "ck"
    checkpoints.mkdir()
    (checkpoints / "latest").write_text(content)
    assert message in _refused(program["load_checkpoint"], checkpoints, [])
    (checkpoints / "latest").unlink()
    np.savez(tmp_path / "outside.npz", __step__=np.asarray(1))
    (checkpoints / "ckpt-000000001.npz").symlink_to(tmp_path / "outside.npz")
    (checkpoints / "latest").write_text("ckpt-000000001.npz")
    assert "not a regular file" in _refused(program["load_checkpoint"], checkpoints, [])


def test_the_program_writes_never_follow_links(program, tmp_path: Path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    checkpoints = tmp_path / "ck"
    checkpoints.mkdir()
    (checkpoints / ".ckpt-000000003.npz.tmp").symlink_to(victim)
    (checkpoints / ".latest.tmp").symlink_to(victim)
    program["save_checkpoint"](checkpoints, 3, [("w", Variable((2,)))], program["MetricsLog"](None))
    (tmp_path / "weights.npz").symlink_to(victim)
    program["save_weights"](tmp_path / "weights.npz", [("w", Variable((2,)))])
    assert victim.read_text() == "precious"
    assert not (tmp_path / "weights.npz").is_symlink()
    program["save_weights"](tmp_path / "final", [("w", Variable((2,)))])
    assert (tmp_path / "final.npz").is_file()  # as np.savez(path) names it


@pytest.mark.parametrize("device", ["foo", "gpu:x", "gpu:", "gpu:123", "GPU", "gpu:\u0663"])
def test_the_programs_parse_args_refuses_unknown_devices(program, capsys, device):
    with pytest.raises(SystemExit) as stopped:
        program["parse_args"](["--device", device])
    assert stopped.value.code == 2
    assert f"unknown device name {device!r}" in capsys.readouterr().err
    assert program["parse_args"](["--device", "gpu:3"]).device == "gpu:3"


def test_the_programs_metrics_log_ends_a_cut_line_before_appending(program, tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"event": "step", "st')
    log = program["MetricsLog"](path, None)  # keep what is there
    log.write(event="setup")
    log.close()
    assert path.read_text().splitlines()[1] == '{"event": "setup"}'


def test_the_programs_resume_cuts_the_log_back_to_its_checkpoint(program, tmp_path: Path):
    """Records written after the checkpoint (steps that run again) are cut on resume;
    without a checkpoint the run starts over, and so does its log."""
    path, checkpoints = tmp_path / "metrics.jsonl", tmp_path / "ck"
    log = program["MetricsLog"](path)
    log.write(event="step", step=1)
    program["save_checkpoint"](checkpoints, 1, [("w", Variable((2,)))], log)
    log.write(event="step", step=2)
    log.close()
    path.write_bytes(path.read_bytes() + b'{"event": "st')  # cut short by a kill
    args = program["parse_args"](["--resume", "--checkpoint-dir", str(checkpoints),
                                  "--metrics-out", str(path)])  # fmt: skip
    log = program["open_log"](args)
    log.write(event="step", step=2)
    log.close()
    assert path.read_text() == '{"event": "step", "step": 1}\n{"event": "step", "step": 2}\n'
    args.checkpoint_dir = tmp_path / "none"
    program["open_log"](args).close()
    assert path.read_bytes() == b""


# -- run folders: unique names, locks, modes -------------------------------------------------


def test_run_folders_started_at_the_same_moment_never_collide(tmp_path: Path):
    frozen = datetime(2026, 1, 2, 3, 4, 5, 6)
    made: list[Path] = []
    barrier = threading.Barrier(16)

    def make() -> None:
        barrier.wait()
        made.append(new_run_dir(tmp_path / "runs", "tiny-tf", now=lambda: frozen))

    threads = [threading.Thread(target=make) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 16 and all(p.is_dir() and not any(p.iterdir()) for p in made)
    names = sorted(p.name for p in made)
    assert "tiny-tf-20260102-030405-000006" in names
    assert "tiny-tf-20260102-030405-000006-16" in names


def test_runs_dir_that_is_a_file_is_a_clear_error(cli, tmp_path: Path):
    spec = write_spec(tmp_path, base_spec())
    (tmp_path / "file").write_text("")
    output = fail_text(cli, "run", spec, "--runs-dir", tmp_path / "file")
    assert f"--runs-dir {tmp_path / 'file'} is not a folder" in output
    output = fail_text(cli, "run", spec, "--runs-dir", tmp_path / "file" / "sub")
    assert "cannot create the runs folder" in output
    output = fail_text(cli, "bench", spec, "--runs-dir", tmp_path / "file", "--repeat", "1")
    assert "is not a folder" in output


def test_a_locked_run_folder_is_refused(cli, folder: Path, calls):
    with RunLock(folder):
        output = fail_text(cli, "run", "--resume", folder)
        assert f"{folder} is in use by another `modelgen run` (process {os.getpid()})" in output
        with pytest.raises(ModelgenError, match="in use"):
            RunLock(folder)
    assert cli("run", "--resume", folder).exit_code == 0  # released


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_run_folder_files_follow_the_umask(tmp_path: Path, calls, umask):
    spec = write_spec(tmp_path, base_spec())
    old = os.umask(umask)
    try:
        run(spec, "tf", runs_dir=tmp_path / "runs")
        folder = calls[-1].run_dir
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    for name in ("train.py", "spec.yaml", "command.json", ".lock"):
        assert (folder / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


# -- the supervised program: outcomes, records, signals --------------------------------------

HEADER = """import json, os, signal, sys, time
log = open("metrics.jsonl", "a")
def w(**record):
    log.write(json.dumps(record) + "\\n")
    log.flush()
w(event="setup", target="tf", device="/CPU:0", replicas=1, wall_clock=time.time(),
  build_seconds=0.1, train_examples=10, batch_size=5, steps_per_epoch=2)
"""
COMPLETES = """
for step in range(1, 5):
    w(event="step", step=step, loss=1.0 / step, accuracy=0.5, step_seconds=0.01 * step)
    if step % 2 == 0:
        w(event="epoch", epoch=step // 2, loss=0.5, val_loss=0.6, seconds=0.02)
w(event="end", status="completed", steps=4, seconds=0.1, peak_rss_mb=10.0)
"""
FOREVER = """
def stop(signum, frame):
    w(event="end", status="interrupted", steps=step, seconds=0.1, peak_rss_mb=10.0)
    sys.exit(130)
signal.signal(signal.SIGINT, signal.SIG_IGN if "ignore" in sys.argv[0] else stop)
step = 0
while True:
    step += 1
    w(event="step", step=step, loss=1.0, step_seconds=0.001)
    time.sleep(0.005)
"""


def _fake(folder: Path, body: str) -> None:
    (folder / "train.py").write_text(HEADER + body)


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """A run folder (made with the real runner functions) whose train.py is a fake."""
    spec = write_spec(tmp_path, base_spec())
    folder = new_run_dir(tmp_path / "runs", "tiny-tf")
    (folder / "spec.yaml").write_bytes(spec.read_bytes())
    command = {"version": 1, "target": "tf", "options": {"epochs": 2}}
    (folder / "command.json").write_text(json.dumps(command))
    return folder


def test_a_completed_run_is_summarised_and_written_atomically(live: Path, monkeypatch):
    _fake(live, COMPLETES)
    old = os.umask(0o027)
    try:
        summary = resume(live, trust=True, quiet=True)
    finally:
        os.umask(old)
    assert summary.status == "completed" and summary.exit_code == 0 and summary.error is None
    assert summary.steps == 4 and summary.first_step_seconds == 0.01
    assert summary.steady_step_seconds == 0.03 and summary.epoch_seconds == [0.02, 0.02]
    record = json.loads((live / "run.json").read_text())
    assert record["status"] == "completed" and record["final"] == {"loss": 0.5, "val_loss": 0.6}
    rows = (live / "metrics.csv").read_text().splitlines()
    assert rows[0] == "event,step,loss,accuracy,step_seconds,epoch,val_loss,seconds"
    assert len(rows) == 1 + 4 + 2
    for name in ("run.json", "metrics.csv"):
        assert (live / name).stat().st_mode & 0o777 == 0o640, name
    assert not [p for p in live.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "body,code,error",
    [
        ("sys.exit(\"error: device 'gpu' is not available here (devices found: CPU)\")", 1,
         "error: device 'gpu' is not available here (devices found: CPU)"),
        ("raise RuntimeError('boom')", 1, "RuntimeError: boom"),
        ("os.kill(os.getpid(), signal.SIGKILL)", -9, "killed by SIGKILL"),
        ("pass", 0, "w(event=\"setup\"") ,
        ("w(event='end', status='nan', steps=1, seconds=0.1, peak_rss_mb=1.0)\n"
         "sys.exit('error: the loss stopped being finite at step 1')", 1,
         "error: the loss stopped being finite at step 1"),
    ],
)  # fmt: skip
def test_a_failed_run_says_failed_with_its_error_line(cli, live: Path, body, code, error):
    _fake(live, body)
    result = cli("run", "--resume", live, "--trust-run-dir")
    assert result.exit_code == 1, result.output
    record = json.loads((live / "run.json").read_text())
    status = "nan" if "finite" in error else "failed"
    assert record["status"] == status and record["exit_code"] == code
    if code != 0:
        assert record["error"] == error and error in result.output
    assert f"see {live / 'output.log'}" in result.output and "Traceback" not in result.output


def test_hostile_metrics_lines_are_skipped_not_trusted(live: Path):
    garbage = [
        "not json",
        "[1, 2, 3]",
        '"step"',
        '{"event": "step", "step": "1", "loss": 1, "step_seconds": 0.1}',
        '{"event": "step", "step": 1, "loss": 1, "step_seconds": "fast"}',
        '{"event": "step", "step": true, "loss": 1, "step_seconds": 0.1}',
        '{"event": "setup", "device": 1}',
        '{"event": "epoch", "epoch": 1, "seconds": null}',
        '{"event": "end", "status": ["completed"], "steps": 1, "peak_rss_mb": 1}',
        '{"event": "mystery"}',
        "[" * 50_000 + "]" * 50_000,
        '{"event": "step", "step": 1, "loss": 1, "step_seconds": 0.1, "x": "' + "a" * 70000,
    ]
    body = "".join(f"log.write({line!r} + '\\n')\n" for line in garbage) + COMPLETES
    _fake(live, body)
    summary = resume(live, trust=True, quiet=True)
    assert summary.status == "completed" and summary.steps == 4
    assert len((live / "metrics.csv").read_text().splitlines()) == 1 + 4 + 2


def test_the_reader_parses_only_new_complete_lines(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    reader = MetricsReader(path)
    assert reader.poll() == []  # not there yet
    step = '{"event": "step", "step": %d, "loss": 1.0, "step_seconds": 0.1}'
    with open(path, "w") as handle:
        handle.write(step % 1 + "\n" + (step % 2)[:20])
        handle.flush()
        assert [r["step"] for r in reader.poll()] == [1]
        handle.write((step % 2)[20:] + "\n")
        handle.flush()
        assert [r["step"] for r in reader.poll()] == [2]
        assert reader.poll() == []
    assert reader.offset == path.stat().st_size
    reader.close()
    resumed = MetricsReader(path, offset=path.stat().st_size)
    with open(path, "a") as handle:
        handle.write(step % 3 + "\n")
    assert [r["step"] for r in resumed.poll()] == [3]
    resumed.close()


def _alive(folder: Path) -> list[int]:
    """Processes working in ``folder`` (the program runs there)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")) == folder.resolve():
                state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
                if state != "Z":
                    pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _gone(folder: Path, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(folder):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _steps(folder: Path) -> int:
    path = folder / "metrics.jsonl"
    return path.read_text().count('"step"') if path.is_file() else 0


def _supervise(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "modelgen", "run", "--resume", str(folder), "--trust-run-dir"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while _steps(folder) < 5:
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)
    return process


def test_sigterm_of_the_runner_stops_the_program_cleanly(live: Path):
    _fake(live, FOREVER)
    process = _supervise(live)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert "status                                 interrupted" in out
    record = json.loads((live / "run.json").read_text())
    assert record["status"] == "interrupted" and record["stopped_by"] == "SIGTERM"
    assert record["exit_code"] == 130 and _gone(live)


def test_sigkill_of_the_runner_kills_the_program(live: Path):
    _fake(live, FOREVER)
    process = _supervise(live)
    assert _alive(live)
    process.kill()
    process.communicate(timeout=30)
    assert _gone(live), "the program outlived its runner"
    with RunLock(live):  # and the lock went with them
        pass


def test_a_program_that_ignores_the_stop_is_killed_after_the_grace(tmp_path: Path):
    program = tmp_path / "ignore.py"
    program.write_text("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                       "print('ready', flush=True)\ntime.sleep(60)\n")  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, str(program)], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout.readline() == b"ready\n"
    sent = []

    def tick() -> None:
        if not sent:
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGTERM)

    returncode, _, stopped_by = _wait(process, tick, grace=0.5)
    assert (returncode, stopped_by) == (-9, "SIGTERM")
    assert time.monotonic() - sent[0] < 10


def test_a_runner_that_fails_kills_its_program(tmp_path: Path):
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def tick() -> None:
        raise RuntimeError("the runner broke")

    with pytest.raises(RuntimeError):
        _wait(process, tick)
    assert process.returncode == -9


def test_the_csv_built_as_records_arrive_is_what_a_dict_writer_writes(tmp_path: Path):
    """Columns in order of first appearance, empty cells where a record has no value, line
    breaks in hostile strings kept out of the row structure."""
    import csv
    import io

    records = [
        {"event": "step", "step": 1, "loss": 0.5, "step_seconds": 0.1},
        {"event": "step", "step": 2, "loss": float("nan"), "step_seconds": 0.1},
        {"event": "epoch", "epoch": 1, "loss": 0.4, "val_loss": 0.3, "seconds": 1.0},
        {"event": "step", "step": 3, "loss": 0.2, "step_seconds": 0.1, "note": "a\r\nb,c"},
        {"event": "step", "step": 4, "step_seconds": 0.1, "loss": 0.1, "extra": [1, {"x": 2}]},
        {"event": "setup"},
    ]
    builder = runner.CsvBuilder(tmp_path / ".body")
    builder.add(records[:2])
    builder.add(records[2:])
    builder.finish(tmp_path / "metrics.csv")
    builder.close()
    assert not (tmp_path / ".body").exists() and len(builder.epochs) == 1
    rows = [r for r in records if r["event"] != "setup"]
    expected = io.StringIO()
    writer = csv.DictWriter(expected, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(
        {k: (runner._cell(v) if isinstance(v, (str, list)) else v) for k, v in r.items()}
        for r in rows
    )
    assert (tmp_path / "metrics.csv").read_bytes().decode() == expected.getvalue()
    parsed = list(csv.DictReader(io.StringIO(expected.getvalue())))
    assert len(parsed) == 5 and parsed[3]["note"] == json.dumps("a\r\nb,c")


def test_a_full_disk_when_writing_the_results_is_a_clear_error(cli, live: Path, monkeypatch):
    import errno

    _fake(live, COMPLETES)
    (live / "run.json").write_text('{"status": "completed"}')
    real_write = runner.atomic_write

    def full(path, data, **kwargs):
        if path.name == "run.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data, **kwargs)

    monkeypatch.setattr(runner, "atomic_write", full)
    output = fail_text(cli, "run", "--resume", live, "--trust-run-dir")
    assert f"cannot write the run's results in {live}" in output and "No space left" in output
    assert (live / "run.json").read_text() == '{"status": "completed"}'
    assert not [p for p in live.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_while_checkpointing_leaves_no_temporary(program, tmp_path, monkeypatch):
    """ENOSPC in the middle of a checkpoint: a clear error, no `.tmp` left, the previous
    checkpoint still the latest."""
    variables = [("w", Variable((2,)))]
    log = program["MetricsLog"](None)
    program["save_checkpoint"](tmp_path, 3, variables, log)

    def full(handle, **arrays):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(program["np"], "savez", full)
    message = _refused(program["save_checkpoint"], tmp_path, 6, variables, log)
    assert "cannot write" in message and "No space left on device" in message
    assert "the previous one is kept" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-000000003.npz", "latest"]
    assert (tmp_path / "latest").read_text() == "ckpt-000000003.npz"


def test_an_archive_too_large_for_memory_is_a_clear_error(program, tmp_path, monkeypatch):
    np.savez(tmp_path / "w.npz", w=np.zeros(2))

    def too_large(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(program["np"], "load", too_large)
    message = _refused(program["load_weights"], tmp_path / "w.npz", [("w", Variable((2,)))])
    assert message == f"error: {tmp_path / 'w.npz'}: an array is larger than the memory available"
