"""The CLI as a user meets it: messages, exit codes, files written or refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelgen.build import OUTPUT_MARK
from modelgen.schema import SCHEMA_PATH, json_schema
from tests.conftest import EXAMPLES, ROOT

DIGITS = ROOT / "examples" / "configs" / "digits_cnn.yaml"


def test_version_and_help(cli):
    assert "modelgen 0.1.0" in cli("--version").output
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("validate", "build", "schema", "layers"):
        assert command in result.output


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_validate_prints_the_summary_table(cli, example: Path):
    result = cli("validate", example)
    assert result.exit_code == 0, result.output
    assert "Total params:" in result.output and f"{example}: ok" in result.output


def test_validate_digits_counts(cli):
    out = cli("validate", DIGITS).output
    assert "conv2d_1           conv2d             (None, 4, 4, 64)  18,496  max_pool2d" in out
    assert "Total params: 19,594" in out and "Non-trainable params: 64" in out


def test_validate_json_gives_every_layer_with_shapes_and_counts(cli):
    result = cli("validate", DIGITS, "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    layers = {layer["name"]: layer for layer in summary["layers"]}
    assert layers["conv2d_1"]["output_shape"] == [None, 4, 4, 64]
    assert layers["conv2d_1"]["params"] == 18_496 and layers["conv2d_1"]["inputs"] == ["max_pool2d"]
    assert layers["batch_norm"]["trainable_params"] == 64
    assert layers["batch_norm"]["non_trainable_params"] == 64
    assert summary["total_params"] == 19_594 == sum(v["params"] for v in layers.values())
    assert summary["non_trainable_params"] == 64
    assert summary["inputs"] == [{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"}]


def test_validate_json_reports_errors_as_data_with_exit_2(cli, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "name: bad\ndata: {source: synthetic}\nmodel:\n  inputs: {x: {shape: [4]}}\n"
        "  layers:\n    - dense: {units: -1}\ntrain: {loss: {type: mse}}\n",
        encoding="utf-8",
    )
    result = cli("validate", spec, "--format", "json")
    assert result.exit_code == 2
    (problem,) = json.loads(result.output)["errors"]
    assert (problem["file"], problem["line"], problem["column"]) == (str(spec), 6, 22)
    assert "greater than 0" in problem["message"]
    missing = json.loads(cli("validate", tmp_path / "none.yaml", "--format", "json").output)
    assert missing["ok"] is False and "no such file" in missing["errors"][0]["message"]
    assert cli("validate", spec, "--format", "xml").exit_code == 2


def test_bad_spec_reports_every_error_with_location_and_exit_2(cli, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "name: bad\ndata: {source: synthetic}\nmodel:\n  inputs: {x: {shape: [4]}}\n"
        "  layers:\n    - denze: {units: 3}\n    - dense: {units: -1}\n"
        "train: {loss: {type: mse}, epochs: 0}\n",
        encoding="utf-8",
    )
    result = cli("validate", spec)
    assert result.exit_code == 2
    assert f"{spec}:6:7: error: model.layers[0]: unknown layer kind 'denze'" in result.output
    assert "did you mean 'dense'?" in result.output
    assert f"{spec}:7:22: error: model.layers[1].dense.units" in result.output
    assert "train.epochs: input should be greater than 0, got 0" in result.output
    assert "3 errors found" in result.output
    assert "Traceback" not in result.output


def test_build_writes_checks_and_refuses_to_clobber(cli, tmp_path):
    out = tmp_path / "train.py"
    assert cli("build", DIGITS, "-t", "tf", "-o", out).exit_code == 0
    code = out.read_text(encoding="utf-8")
    assert code.rstrip().splitlines()[-1].startswith(OUTPUT_MARK)
    assert cli("build", DIGITS, "-t", "tf", "-o", out, "--check").exit_code == 0
    assert cli("build", DIGITS, "-t", "keras", "-o", out, "--check").exit_code == 1
    # Regenerating over untouched output is fine; over an edited file it needs --force.
    assert cli("build", DIGITS, "-t", "keras", "-o", out).exit_code == 0
    out.write_text(out.read_text(encoding="utf-8").replace("Train the", "Train my"), "utf-8")
    result = cli("build", DIGITS, "-t", "tf", "-o", out)
    assert result.exit_code == 2 and "use --force" in result.output
    assert "Train my" in out.read_text(encoding="utf-8")
    assert cli("build", DIGITS, "-t", "tf", "-o", out, "--force").exit_code == 0
    assert "Train my" not in out.read_text(encoding="utf-8")
    mine = tmp_path / "mine.py"
    mine.write_text("print('my own script')\n", encoding="utf-8")
    assert cli("build", DIGITS, "-o", mine).exit_code == 2
    assert mine.read_text(encoding="utf-8") == "print('my own script')\n"


def test_build_rejects_unknown_target_and_bad_spec_writes_nothing(cli, tmp_path):
    out = tmp_path / "x.py"
    result = cli("build", DIGITS, "-t", "pytorch", "-o", out)
    assert result.exit_code == 2 and "unknown target 'pytorch'" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n", encoding="utf-8")
    assert cli("build", bad, "-o", out).exit_code == 2
    assert not out.exists()


def test_build_to_stdout(cli):
    result = cli("build", DIGITS, "-t", "keras")
    assert result.exit_code == 0 and "keras.Model(" in result.output


def test_schema_matches_the_committed_file(cli):
    result = cli("schema")
    assert json.loads(result.output)["title"] == "modelgen spec"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == json_schema(), (
        f"modelgen/schema/spec.schema.json is stale: run `modelgen schema > {SCHEMA_PATH}`"
    )
    assert cli("schema", "--check").exit_code == 0


def test_docs_reference_is_up_to_date():
    from modelgen.docs import update

    assert update(check=True), "docs/spec.md is stale: run `python -m modelgen.docs`"


def test_layers_lists_every_kind(cli):
    from modelgen.layers import REGISTRY

    out = cli("layers").output
    assert all(f"- {kind}:" in out for kind in REGISTRY)


def test_compiler_commands_never_import_tensorflow(tmp_path):
    probe = (
        "import sys; from modelgen.cli import main; sys.argv = ['modelgen'] + sys.argv[1:]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    for args in (
        ["validate", str(DIGITS)],
        ["build", str(DIGITS), "-t", "tf", "-o", str(tmp_path / "t.py")],
        ["schema"],
        ["--help"],
    ):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr


def test_console_script_exit_codes(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "modelgen", "validate", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert f"{bad}:1:1: error: the spec: missing required field 'data'" in result.stderr
    assert "Traceback" not in result.stderr
