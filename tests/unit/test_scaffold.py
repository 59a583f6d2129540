"""`modelgen new`: projects that validate at once, and files never clobbered by surprise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelgen.errors import ModelgenError
from modelgen.graph import compile_file
from modelgen.scaffold import PROJECT_TEMPLATES, create_project


@pytest.mark.parametrize("template", list(PROJECT_TEMPLATES))
def test_every_template_makes_a_valid_project(tmp_path, monkeypatch, template: str):
    monkeypatch.chdir(tmp_path)
    written = create_project("proj", template, num_classes=4)
    names = {p.name for p in written}
    assert {"spec.yaml", "README.md", "test_spec.py"} <= names
    graph = compile_file(Path("proj") / "spec.yaml")
    assert graph.spec.name == "proj"
    if PROJECT_TEMPLATES[template].classes:
        assert graph.output.shape[-1] == 4
    assert any("data" in p.parts for p in written), "no sample data"
    compile(Path("proj/test_spec.py").read_text(), "test_spec.py", "exec")


def test_options_shape_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    create_project(
        "imgs", "image-classifier", name="shapes_model", num_classes=2, input_shape=(12, 10, 1)
    )
    graph = compile_file(Path("imgs/spec.yaml"))
    assert graph.spec.name == "shapes_model" and graph.inputs[0].shape == (12, 10, 1)
    assert sorted(p.name for p in Path("imgs/data/images").iterdir()) == ["class_0", "class_1"]
    png = next(Path("imgs/data/images/class_0").iterdir()).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    assert Image.open(next(Path("imgs/data/images/class_1").iterdir())).size == (10, 12)


def test_target_option_writes_the_training_program(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = create_project("t", "text-classifier", target="tf")
    program = Path("t/train_tf.py")
    assert program in written and "tf.GradientTape" in program.read_text()


def test_existing_folder_is_not_written_without_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("p").mkdir()
    Path("p/notes.txt").write_text("mine")
    with pytest.raises(ModelgenError, match="not empty; use --force"):
        create_project("p", "regression")
    assert sorted(x.name for x in Path("p").iterdir()) == ["notes.txt"]
    Path("p/spec.yaml").write_text("edited")
    written = create_project("p", "regression", force=True)
    assert Path("p/notes.txt").read_text() == "mine"  # not a template file: left alone
    assert Path("p/spec.yaml").read_text() != "edited" and Path("p/spec.yaml") in written


@pytest.mark.parametrize("folder", ["../x", "/tmp/abs", "a/../../b", ""])
def test_paths_that_leave_the_current_folder_are_refused(tmp_path, monkeypatch, folder):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelgenError, match="relative path inside the current folder"):
        create_project(folder, "regression")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "class"}, "not a valid Python name"),
        ({"name": "9lives"}, "not a valid"),
        ({"input_shape": (8, 8)}, "needs 3 positive number"),
        ({"num_classes": 1}, "between 2"),
        ({"input_shape": (8, 8, 2)}, "channels 1 or 3"),
    ],
)
def test_bad_options_are_refused(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelgenError, match=message):
        create_project("p", "image-classifier", **kwargs)
    assert not Path("p").exists()
    with pytest.raises(ModelgenError, match="unknown template"):
        create_project("p", "../image-classifier")


def test_an_interrupted_write_leaves_no_half_written_file(tmp_path, monkeypatch):
    import modelgen._files as files

    monkeypatch.chdir(tmp_path)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        create_project("p", "regression")
    assert [p for p in Path("p").rglob("*") if p.is_file()] == []


def test_cli_never_waits_for_input_without_a_terminal(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "modelgen", "new", "proj"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "image-classifier" not in result.stderr and (tmp_path / "proj/spec.yaml").is_file()
    assert "next: cd proj && modelgen run spec.yaml" in result.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "modelgen", "templates"], capture_output=True, text=True, timeout=60
    )
    assert all(name in listing.stdout for name in PROJECT_TEMPLATES)
