"""The summary table's size figures."""

from __future__ import annotations

import yaml

from modelgen.units import format_bytes
from tests.conftest import ROOT
from tests.specs import base_spec


def test_sizes_use_binary_units_with_separators():
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1,023 B"
    assert format_bytes(1024) == "1.00 KiB"
    assert format_bytes(138_357_544 * 4) == "527.79 MiB"
    assert format_bytes(5 * 1024**4) == "5,120.00 GiB"


def test_a_large_model_is_summarised_in_mib(cli, tmp_path):
    """A 138M-parameter model once showed as '540459.2 KB'."""
    spec = base_spec(
        model={
            "inputs": {"x": {"shape": [25088]}},
            "layers": [
                {"dense": {"units": 4096}},
                {"dense": {"units": 4096}},
                {"dense": {"units": 3}},
            ],
        }
    )
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = cli("validate", path)
    assert result.exit_code == 0, result.output
    assert "Total params: 119,558,147 (456.08 MiB as float32)" in result.output


def test_data_memory_is_shown_and_bounded(cli, monkeypatch):
    """20,000 one-hot categories from a small CSV once took 6.9 GB unannounced: validate
    prints what the data takes in memory, and refuses data over the limit."""
    spec = ROOT / "examples" / "configs" / "digits_cnn.yaml"
    result = cli("validate", spec)
    assert "Training data in memory: at least 449.25 KiB (1,797 examples)" in result.output
    monkeypatch.setattr("modelgen.graph.MAX_DATA_BYTES", 100 * 1024)
    result = cli("validate", spec)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "the training data takes 449.25 KiB as model inputs (1,797 examples)" in result.output
