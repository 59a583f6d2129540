"""The summary table's size figures."""

from __future__ import annotations

import yaml

from modelgen.units import format_bytes
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
