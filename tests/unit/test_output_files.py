"""Where `modelgen build` writes: regular files (atomic, modes kept), folders, devices, FIFOs,
standard output; what `--check` advises. Every refusal is exit 2, one `error:` line, and
writes nothing."""

from __future__ import annotations

import ast
import errno
import os
import shlex
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from modelgen import _files
from modelgen._files import atomic_write
from modelgen.build import OUTPUT_MARK

SPEC = """\
name: tiny
data: {source: npz, path: data.npz, features: x, labels: y, validation_split: 0.25,
       batch_size: 4}
model:
  inputs: {x: {shape: [4]}}
  layers:
    - dense: {units: 3}
train:
  epochs: 1
  loss: {type: sparse_categorical_crossentropy, from_logits: true}
"""


@pytest.fixture
def project(tmp_path) -> Path:
    """A spec with its data beside it, in tmp_path/project; returns the spec's path."""
    folder = tmp_path / "project"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.savez(folder / "data.npz", x=rng.random((16, 4), dtype=np.float32), y=np.arange(16) % 3)
    spec = folder / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


def _modelgen(*args, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """The CLI in a fresh process; a hang fails the test instead of stalling the suite."""
    if "stdout" not in kwargs and "stderr" not in kwargs:
        kwargs["capture_output"] = True
    try:
        return subprocess.run(
            [sys.executable, "-m", "modelgen", *map(str, args)],
            text=True,
            timeout=timeout,
            **kwargs,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`modelgen {' '.join(map(str, args))}` blocked for {timeout} s")


def _default_data(code: str, program: Path) -> Path:
    """The data file the generated program would open by default when it lives at ``program``
    (its ``DEFAULT_DATA = Path(__file__).resolve().parent / "<relative>"`` line)."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DEFAULT_DATA":
            relative = node.value.right.value  # type: ignore[attr-defined]
            return (program.resolve().parent / relative).resolve()
    raise AssertionError("no DEFAULT_DATA in the generated program")


def _no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- devices and FIFOs ----------------------------------------------------------------------------


def test_dev_null_is_written_to_and_never_replaced(cli, project):
    for extra in ((), ("--force",)):
        result = cli("build", project, "-o", "/dev/null", *extra)
        assert result.exit_code == 0, result.output
        assert "wrote /dev/null (keras target)" in result.output
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_fifo_without_reader_fails_at_once_and_stays_a_fifo(project, tmp_path):
    fifo = tmp_path / "train.py"
    os.mkfifo(fifo)
    for extra in ((), ("--force",)):
        start = time.perf_counter()
        result = _modelgen("build", project, "-o", fifo, *extra, timeout=30)
        assert time.perf_counter() - start < 20
        assert result.returncode == 2, result.stderr
        assert f"error: {fifo} is a FIFO (named pipe) with no reader attached" in result.stderr
        assert "Traceback" not in result.stderr
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_with_a_reader_receives_the_program(project, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelgen", "build", str(project), "-t", "tf", "-o", str(fifo)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        received, deadline = b"", time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                chunk = os.read(reader, 1 << 16)
            except BlockingIOError:
                chunk = None
            if chunk:
                received += chunk
            elif process.poll() is not None:
                break
            else:
                time.sleep(0.01)
        else:
            process.kill()
            pytest.fail("the writer blocked")
    finally:
        os.close(reader)
    assert process.wait(timeout=10) == 0, process.stderr.read()
    code = received.decode("utf-8")
    assert code.rstrip().splitlines()[-1].startswith(OUTPUT_MARK)
    ast.parse(code)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_sockets_and_the_spec_itself_are_refused(cli, project, tmp_path):
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        result = cli("build", project, "-o", path, "--force")
        assert result.exit_code == 2 and f"error: {path} is a socket" in result.output
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()
    result = cli("build", project, "-o", project, "--force")
    assert result.exit_code == 2 and "is the spec itself" in result.output
    assert project.read_text(encoding="utf-8") == SPEC


def test_check_against_a_device_is_an_error(cli, project):
    result = cli("build", project, "-o", "/dev/null", "--check")
    assert result.exit_code == 2
    assert "error: --check compares against a file; /dev/null is a character device" in (
        result.output
    )


# -- folders, links, odd paths --------------------------------------------------------------------


def test_a_folder_gets_train_target_py_with_the_same_rules(cli, project, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = cli("build", project, "-t", "tf", "-o", out)
    assert result.exit_code == 0, result.output
    written = out / "train_tf.py"
    assert f"wrote {written} (tf target)" in result.output
    assert _default_data(written.read_text("utf-8"), written) == project.parent / "data.npz"
    assert cli("build", project, "-t", "tf", "-o", out, "--check").exit_code == 0
    # No clobbering inside the folder either.
    edited = out / "train_keras.py"
    edited.write_text("print('mine')\n", encoding="utf-8")
    result = cli("build", project, "-o", out)
    assert result.exit_code == 2 and "use --force" in result.output
    assert edited.read_text(encoding="utf-8") == "print('mine')\n"
    assert cli("build", project, "-o", out, "--force").exit_code == 0
    assert "print('mine')" not in edited.read_text(encoding="utf-8")
    (out / "train_keras.py").unlink()
    (out / "train_keras.py").mkdir()
    result = cli("build", project, "-o", out, "--force")
    assert result.exit_code == 2 and "is a folder" in result.output


def test_a_symlink_is_written_through_and_kept(cli, project, tmp_path):
    real = tmp_path / "generated" / "train.py"
    real.parent.mkdir()
    link = tmp_path / "train.py"
    link.symlink_to(real)
    assert cli("build", project, "-o", link).exit_code == 0
    assert link.is_symlink() and real.is_file()
    # Data paths are relative to where the file really is (the program resolves __file__).
    assert _default_data(real.read_text("utf-8"), real) == project.parent / "data.npz"
    assert cli("build", project, "-o", link, "--check").exit_code == 0


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.symlink_to(p), "too many levels of symbolic links"),
        (lambda p: None, "a part of the path is not a folder"),
        (lambda p: None, "the file name is too long"),
    ],
    ids=["symlink-loop", "under-a-file", "name-too-long"],
)
def test_odd_output_paths_are_clear_errors(cli, project, tmp_path, make, expected):
    if "folder" in expected:
        (tmp_path / "file").write_text("x", encoding="utf-8")
        path = tmp_path / "file" / "train.py"
    elif "long" in expected:
        path = tmp_path / ("t" * 300 + ".py")
    else:
        path = tmp_path / "loop.py"
        make(path)
    for extra in ((), ("--force",), ("--check",)):
        result = cli("build", project, "-o", path, *extra)
        assert result.exit_code == 2, result.output
        assert expected in result.output and "error: " in result.output
        assert "Traceback" not in result.output


def test_an_empty_file_is_replaced_and_a_huge_one_is_not_read(cli, project, tmp_path):
    empty = tmp_path / "train.py"
    empty.touch()  # e.g. created by the shell: nothing to lose
    assert cli("build", project, "-o", empty).exit_code == 0
    assert empty.stat().st_size > 0
    huge = tmp_path / "huge.py"
    with open(huge, "wb") as handle:
        handle.truncate(1 << 30)  # sparse
    start = time.perf_counter()
    result = cli("build", project, "-o", huge)
    assert result.exit_code == 2 and "use --force" in result.output
    result = cli("build", project, "-o", huge, "--check")
    assert result.exit_code == 1 and "edited by hand" in result.output
    assert time.perf_counter() - start < 2.0, "the huge file was read"
    assert huge.stat().st_size == 1 << 30


# -- modes, syncing, failures ---------------------------------------------------------------------


@pytest.fixture
def umask():
    """``os.umask``, for the test to set; the process's umask is restored afterwards."""
    saved = os.umask(0o022)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_new_files_follow_the_umask(cli, project, tmp_path, umask, mask):
    umask(mask)
    out = tmp_path / "train.py"
    assert cli("build", project, "-o", out).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    atomic_write(tmp_path / "plain.bin", b"x")  # the signature others call
    assert stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode) == 0o666 & ~mask


def test_a_rebuild_keeps_the_files_mode(cli, project, tmp_path, umask):
    umask(0o077)
    out = tmp_path / "train.py"
    assert cli("build", project, "-o", out).exit_code == 0
    out.chmod(0o755)
    assert cli("build", project, "-t", "tf", "-o", out).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    out.write_text("print('edited')\n", encoding="utf-8")
    out.chmod(0o750)
    assert cli("build", project, "-o", out, "--force").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    _no_temporaries(tmp_path)


def test_the_file_is_synced_before_the_rename(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("rename") or real_replace(a, b))
    atomic_write(tmp_path / "f.py", b"data")
    assert events[:2] == ["fsync", "rename"]
    assert (tmp_path / "f.py").read_bytes() == b"data"


def _full_disk(monkeypatch):
    """os.write writes part of the first chunk to a file, then the disk is full (pipes, such
    as the one to the code formatter, are not on the disk)."""
    real_write = os.write
    calls = []

    def write(fd, data):
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return real_write(fd, data)
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_files.os, "write", write)


def test_a_full_disk_leaves_no_temporary_and_the_old_file_intact(
    cli, project, tmp_path, monkeypatch
):
    out = tmp_path / "train.py"
    assert cli("build", project, "-o", out).exit_code == 0
    before = out.read_bytes()
    _full_disk(monkeypatch)
    result = cli("build", project, "-t", "tf", "-o", out)
    assert result.exit_code == 2
    assert f"error: cannot write {out}: no space left on the device" in result.output
    assert "Traceback" not in result.output
    assert out.read_bytes() == before
    result = cli("build", project, "-o", tmp_path / "new.py")
    assert result.exit_code == 2 and not (tmp_path / "new.py").exists()
    _no_temporaries(tmp_path)


@pytest.mark.parametrize("failure", [OSError(errno.EIO, "I/O error"), KeyboardInterrupt()])
def test_any_failure_removes_the_temporary(tmp_path, monkeypatch, failure):
    target = tmp_path / "f.py"
    target.write_bytes(b"old")

    def fail(fd):
        raise failure

    monkeypatch.setattr(_files.os, "fsync", fail)
    with pytest.raises(type(failure)):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    _no_temporaries(tmp_path)


# -- standard output ------------------------------------------------------------------------------


def test_stdout_redirected_to_a_file_elsewhere_finds_its_data(project, tmp_path):
    """`modelgen build spec.yaml > elsewhere/train.py`, run from a third folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = tmp_path / "a" / "b" / "cwd"  # not at elsewhere's depth: relative to it is wrong
    cwd.mkdir(parents=True)
    program = elsewhere / "train.py"
    with open(program, "w", encoding="utf-8") as stdout:
        result = _modelgen("build", project, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no note: the file was found
    code = program.read_text(encoding="utf-8")
    assert _default_data(code, program) == project.parent / "data.npz"
    # The same bytes as -o gives for that file.
    assert _modelgen("build", project, "-o", program, cwd=cwd).returncode == 0
    assert program.read_text(encoding="utf-8") == code


def test_stdout_to_a_pipe_is_relative_to_the_current_folder_and_says_so(project, tmp_path):
    result = _modelgen("build", project, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "note: stdout is not a file, so data paths are relative to the current folder" in (
        result.stderr
    )
    assert "use -o FILE" in result.stderr
    assert _default_data(result.stdout, tmp_path / "train.py") == project.parent / "data.npz"


def test_a_closed_stdout_is_an_error_not_a_traceback(project):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = _modelgen("build", project, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert result.returncode == 2
    assert "error: stdout was closed" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_program_written_through_stdout_runs_from_anywhere(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    program = elsewhere / "train.py"
    with open(program, "w", encoding="utf-8") as stdout:
        assert _modelgen("build", project, stdout=stdout, cwd=tmp_path).returncode == 0
    result = subprocess.run(
        [sys.executable, str(program), "--max-steps", "0", "--device", "cpu"],
        capture_output=True,
        text=True,
        cwd=tmp_path / "project",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


# -- --check advice -------------------------------------------------------------------------------


def _advice(result) -> list[str]:
    """The command between backquotes in --check's message, as arguments."""
    return shlex.split(result.output.split("`")[1])


def test_check_advice_for_stale_output_is_the_command_that_fixes_it(cli, project, tmp_path):
    out = tmp_path / "my programs" / "train.py"  # a space: the command must quote it
    assert cli("build", project, "-t", "keras", "-o", out).exit_code == 0
    result = cli("build", project, "-t", "tf", "-o", out, "--check")
    assert result.exit_code == 1
    assert f"{out} is out of date: run `" in result.output
    command = _advice(result)
    assert command[:2] == ["modelgen", "build"] and "--force" not in command
    assert cli(*command[1:]).exit_code == 0
    assert cli("build", project, "-t", "tf", "-o", out, "--check").exit_code == 0


def test_check_advice_for_an_edited_file_says_so_and_needs_force(cli, project, tmp_path):
    out = tmp_path / "train.py"
    assert cli("build", project, "-o", out).exit_code == 0
    out.write_text(out.read_text("utf-8").replace("Train the", "Train my"), encoding="utf-8")
    result = cli("build", project, "-o", out, "--check")
    assert result.exit_code == 1
    assert "was edited by hand" in result.output and "discards the file's edits" in result.output
    command = _advice(result)
    assert command[-1] == "--force"
    assert cli(*command[1:-1]).exit_code == 2  # what the old advice said: refused
    assert cli(*command[1:]).exit_code == 0
    assert cli("build", project, "-o", out, "--check").exit_code == 0


def test_check_advice_for_a_missing_file(cli, project, tmp_path):
    out = tmp_path / "train.py"
    result = cli("build", project, "-o", out, "--check")
    assert result.exit_code == 1 and f"{out} does not exist: run `" in result.output
    assert not out.exists()
    assert cli(*_advice(result)[1:]).exit_code == 0 and out.is_file()


def test_atomic_write_replaces_links_unless_told_and_never_replaces_special_files(tmp_path):
    target = tmp_path / "target.txt"
    target.write_bytes(b"target")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write(link, b"new")  # default: the link itself is replaced (scaffold relies on it)
    assert not link.is_symlink() and link.read_bytes() == b"new"
    assert target.read_bytes() == b"target"
    link.unlink()
    link.symlink_to(target)
    atomic_write(link, b"through", follow_symlinks=True)
    assert link.is_symlink() and target.read_bytes() == b"through"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO"):
        atomic_write(fifo, b"x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(OSError, match="directory"):
        atomic_write(tmp_path, b"x")
    _no_temporaries(tmp_path)


def test_a_trailing_slash_means_a_folder_and_an_empty_path_is_refused(cli, project, tmp_path):
    result = cli("build", project, "-t", "tf", "-o", f"{tmp_path / 'new' / 'dir'}/")
    assert result.exit_code == 0, result.output
    written = tmp_path / "new" / "dir" / "train_tf.py"
    assert f"wrote {written} (tf target)" in result.output and written.is_file()
    result = cli("build", project, "-o", "")
    assert result.exit_code == 2 and "error: -o was given an empty path" in result.output
