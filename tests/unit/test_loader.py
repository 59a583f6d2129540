"""The YAML loader: locations, strictness and resistance to hostile documents."""

from __future__ import annotations

import time

import pytest

from modelgen._yaml import load_yaml, load_yaml_file
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
