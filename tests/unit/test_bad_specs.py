"""The bad-spec corpus: every spec in tests/bad_specs/ fails with exactly the error line listed
in expected.tsv, exit code 2, no traceback, and no output file written."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "bad_specs"
EXPECTED = dict(
    line.split("\t", 1) for line in (CORPUS / "expected.tsv").read_text("utf-8").splitlines()
)


def test_the_corpus_is_complete():
    assert len(EXPECTED) >= 50
    assert set(EXPECTED) == {p.stem for p in CORPUS.glob("*.yaml")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_spec_fails_with_its_exact_error(cli, monkeypatch, tmp_path, name: str):
    monkeypatch.chdir(ROOT)
    spec = f"tests/bad_specs/{name}.yaml"
    start = time.perf_counter()
    result = cli("validate", spec)
    assert time.perf_counter() - start < 5, "too slow for a bad spec"
    assert result.exit_code == 2
    assert EXPECTED[name] in result.output.splitlines(), result.output
    assert "Traceback" not in result.output
    out = tmp_path / "train.py"
    built = cli("build", spec, "-t", "tf", "-o", out)
    assert built.exit_code == 2 and not out.exists()
