"""The YAML loader: locations, strictness and resistance to hostile documents."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from modelgen._yaml import MAX_BYTES, load_yaml, load_yaml_file
from modelgen.errors import Location, SpecError


def _error(text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_yaml(text, "s.yaml")
    return info.value.format()


def test_every_value_and_key_keeps_its_line_and_column():
    doc = load_yaml("a: 1\nmodel:\n  layers:\n    - dense: {units: 3}\n", "s.yaml")
    assert doc.where(("a",)) == Location("s.yaml", 1, 4)
    assert doc.where(("model", "layers", 0, "dense", "units")) == Location("s.yaml", 4, 22)
    assert doc.where(("model", "layers"), key=True) == Location("s.yaml", 3, 3)
    # An unknown path falls back to its nearest located parent.
    assert doc.where(("model", "layers", 0, "nope")) == Location("s.yaml", 4, 7)


def test_yaml_1_2_scalars_no_1_1_traps():
    doc = load_yaml("a: 1e-3\nb: on\nc: no\nd: true\ne: 0x10\nf: 1_000\ng: .5\n")
    assert doc.data == {"a": 1e-3, "b": "on", "c": "no", "d": True, "e": 16, "f": "1_000", "g": 0.5}


def test_duplicate_keys_are_reported_at_the_second_one():
    message = _error("name: a\nseed: 1\nname: b\n")
    assert "s.yaml:3:1: error: duplicate key 'name' (first given at line 1)" in message


def test_several_documents_are_refused():
    assert "several YAML documents" in _error("a: 1\n---\nb: 2\n")


def test_tabs_and_syntax_errors_point_at_the_problem():
    message = _error("a:\n\tb: 1\n")
    assert "s.yaml:2:1: error: invalid YAML" in message and "tabs" in message
    message = _error("a: [1, 2\n")
    assert "s.yaml:2:1: error: invalid YAML" in message and "']'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the spec is empty"),
        ("- 1\n- 2\n", "must be a mapping of sections, found a list"),
        ("just text", "found a string"),
        ("1: a\n", "mapping keys must be plain names"),
    ],
)
def test_documents_that_are_not_specs(text: str, expected: str):
    assert expected in _error(text)


def test_alias_bomb_is_refused_quickly():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]")
    start = time.perf_counter()
    message = _error("\n".join(lines) + "\n")
    assert "alias bomb" in message
    assert time.perf_counter() - start < 2.0


def test_deep_nesting_is_refused():
    assert "nested more than" in _error("a: " + "[" * 200 + "]" * 200 + "\n")


def test_recursive_alias_is_refused():
    assert "error" in _error("a: &x [*x]\n")


def test_unsafe_tags_are_refused():
    assert "unsupported YAML tag" in _error("a: !!python/object/apply:os.system ['true']\n")
    assert "invalid YAML" in _error("a: !!python/name:os.system ''\n")


def test_binary_and_non_utf8_files(tmp_path):
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(SpecError, match="binary"):
        load_yaml_file(binary)
    latin = tmp_path / "l.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(SpecError) as info:
        load_yaml_file(latin)
    assert f"{latin}:1:10: error: the file is not valid UTF-8" in info.value.format()
    with pytest.raises(SpecError, match="no such file"):
        load_yaml_file(tmp_path / "missing.yaml")


# -- reading the spec file: bounded, never blocking, clear about what the path is ----------------


def _validate(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """`modelgen validate ...` in a fresh process; a hang fails the test instead of stalling it."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "modelgen", "validate", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`modelgen validate {' '.join(args)}` blocked for {timeout} s")


def test_a_fifo_as_the_spec_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    start = time.perf_counter()
    result = _validate(str(fifo))
    assert result.returncode == 2, result.stderr
    assert f"error: {fifo} is a FIFO (named pipe), not a regular file" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.perf_counter() - start < 20


def test_dev_zero_is_refused_before_any_read():
    start = time.perf_counter()
    result = _validate("/dev/zero", timeout=20)
    assert result.returncode == 2
    assert "error: /dev/zero is a character device, not a regular file" in result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert time.perf_counter() - start < 10


def test_a_sparse_1gb_spec_is_refused_from_its_size_without_reading_it(cli, tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(1 << 30)  # sparse: no disk used
    out = tmp_path / "train.py"
    start = time.perf_counter()
    result = cli("build", big, "-o", out)
    assert time.perf_counter() - start < 1.0, "the file was read before its size was checked"
    assert result.exit_code == 2
    assert f"{big}:1:1: error: file is larger than {MAX_BYTES} bytes (1073741824 bytes)" in (
        result.output
    )
    assert not out.exists()


def test_the_size_limit_is_exact(tmp_path):
    at_limit = tmp_path / "at.yaml"
    at_limit.write_bytes(b"#" * MAX_BYTES)  # a comment only: read in full, then empty
    with pytest.raises(SpecError, match="the spec is empty"):
        load_yaml_file(at_limit)
    over = tmp_path / "over.yaml"
    over.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(SpecError, match=f"larger than {MAX_BYTES} bytes"):
        load_yaml_file(over)


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path, monkeypatch):
    """The stat said small (as /proc files and growing files do); the read still stops."""
    spec = tmp_path / "s.yaml"
    spec.write_bytes(b"#" * (MAX_BYTES + 10))
    real_stat = os.stat

    def small_stat(path, *args, **kwargs):
        info = real_stat(path, *args, **kwargs)
        if str(path) == str(spec):
            return os.stat_result((info.st_mode, *info[1:6], 0, *info[7:]))
        return info

    monkeypatch.setattr(os, "stat", small_stat)
    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(SpecError, match=f"larger than {MAX_BYTES} bytes"):
        load_yaml_file(spec)
    assert sum(reads) <= MAX_BYTES + 1


def _socket(path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    return server


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.mkdir(), "{p} is a directory, not a spec file"),
        (lambda p: _socket(p), "{p} is a socket, not a regular file"),
        (lambda p: p.symlink_to(p), "cannot read {p}: too many levels of symbolic links"),
        (lambda p: p.symlink_to("gone.yaml"), "{p} is a symbolic link to gone.yaml, which does"),
        (lambda p: p.symlink_to("/dev/zero"), "{p} is a character device, not a regular file"),
        (lambda p: None, "no such file: {p}"),
    ],
    ids=["directory", "socket", "symlink-loop", "dangling-symlink", "link-to-device", "missing"],
)
def test_paths_that_are_not_spec_files(cli, tmp_path, make, expected):
    path = tmp_path / "spec.yaml"
    keep = make(path)
    out = tmp_path / "train.py"
    for args in (("validate", path), ("build", path, "-o", out)):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert f"error: {expected.format(p=path)}" in result.output
        assert "Traceback" not in result.output and "Usage:" not in result.output
    assert not out.exists()
    del keep


def test_long_names_and_files_in_the_path(cli, tmp_path):
    long = tmp_path / ("a" * 300 + ".yaml")
    result = cli("validate", long)
    assert result.exit_code == 2 and "the file name is too long" in result.output
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: x\n", encoding="utf-8")
    result = cli("validate", plain / "spec.yaml")
    assert result.exit_code == 2 and "a part of the path is not a folder" in result.output
    with pytest.raises(SpecError, match="invalid file name"):
        load_yaml_file("a\x00b.yaml")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_spec(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\n", encoding="utf-8")
    spec.chmod(0)
    result = cli("validate", spec)
    assert result.exit_code == 2
    assert f"error: cannot read {spec}: permission denied" in result.output


def test_a_permission_error_on_open_is_a_clear_error(cli, tmp_path, monkeypatch):
    """As root the real case cannot be made, so the open is made to fail as EACCES would."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\n", encoding="utf-8")
    real_open = os.open

    def denied(path, *args, **kwargs):
        if str(path) == str(spec):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    result = cli("validate", spec)
    assert result.exit_code == 2
    assert f"error: cannot read {spec}: permission denied" in result.output
    assert "Traceback" not in result.output
