"""`modelgen new`: projects that validate at once, and files never clobbered by surprise."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from modelgen.errors import ModelgenError
from modelgen.graph import compile_file
from modelgen.scaffold import PROJECT_TEMPLATES, create_project, project_name_for


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


# --- destinations: any path the user gives -------------------------------------------------


def _files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("folder", ["../x", "ABS", "~/projects/x", "a/../b", "deep/er/proj"])
def test_any_destination_path_is_accepted(tmp_path, monkeypatch, cli, folder):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = str(tmp_path / "abs") if folder == "ABS" else folder
    result = cli("new", folder, "--template", "regression")
    assert result.exit_code == 0, result.output
    root = Path(os.path.relpath(os.path.realpath(os.path.expanduser(folder))))
    assert (root / "spec.yaml").is_file() and (root / "data" / "table.csv").is_file()
    assert compile_file(root / "spec.yaml").spec.name == project_name_for(folder)
    shown = os.path.expanduser(folder) if ".." not in folder else root
    assert f"next: cd {shown} && modelgen run" in result.output
    leftovers = [p for p in tmp_path.rglob(".modelgen-*")]
    assert leftovers == [], "a staging folder was left behind"


def test_dot_names_the_project_after_the_current_folder(tmp_path, monkeypatch, cli):
    (tmp_path / "my-proj").mkdir()
    monkeypatch.chdir(tmp_path / "my-proj")
    assert cli("new", ".", "--template", "regression").exit_code == 0
    assert compile_file(Path("spec.yaml")).spec.name == "my_proj"


def test_output_counts_sample_files_by_their_place_in_the_project(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    result = cli("new", "data/proj", "--template", "regression")  # a folder named 'data' above
    assert result.exit_code == 0, result.output
    assert "  data/proj/spec.yaml\n" in result.output
    assert "and 1 sample data file(s) under data/proj/data/" in result.output
    assert (
        "next: cd 'with space' && " in cli("new", "with space", "--template", "regression").output
    )


# --- symbolic links: never written through unless the user named them ----------------------


def test_a_destination_that_is_a_link_is_refused(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    Path("real").mkdir()
    Path("link").symlink_to("real")
    for folder in ("link", "link/"):
        result = cli("new", folder, "--template", "regression", "--force")
        assert result.exit_code == 2
        assert "error: link is a symbolic link (to real)" in result.output
        assert str(tmp_path / "real") in result.output  # the real path to pass instead
    Path("dangling").symlink_to("nowhere")
    assert "symbolic link" in cli("new", "dangling", "--template", "regression").output
    assert list(Path("real").iterdir()) == [] and not Path("nowhere").exists()


def test_links_the_user_named_above_the_destination_are_followed(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    Path("realdir").mkdir()
    Path("linkdir").symlink_to("realdir")
    assert cli("new", "linkdir/proj", "--template", "regression").exit_code == 0
    assert Path("realdir/proj/spec.yaml").is_file()
    Path("dangling").symlink_to("nowhere")
    result = cli("new", "dangling/proj", "--template", "regression")
    assert result.exit_code == 2 and "dangling is a symbolic link to nowhere" in result.output
    assert not Path("nowhere").exists()


@pytest.mark.parametrize(
    ("template", "link", "target_is_dir"),
    [
        ("regression", "spec.yaml", False),
        ("regression", "data", True),
        ("image-classifier", "data/images/class_0/000.png", False),
        ("image-classifier", "data/images", True),
    ],
)
def test_links_where_the_template_writes_are_refused_before_writing(
    tmp_path, monkeypatch, cli, template, link, target_is_dir
):
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir() if target_is_dir else outside.write_text("precious")
    project = tmp_path / "p"
    (project / link).parent.mkdir(parents=True)
    (project / "README.md").write_text("mine")
    (project / link).symlink_to(outside)
    before = _files_under(project)
    result = cli("new", "p", "--template", template, "--force")
    assert result.exit_code == 2, result.output
    assert f"symbolic links, which modelgen new never follows: {link} -> {outside}" in (
        result.output.replace("\n", "")
    )
    assert _files_under(project) == before and (project / "README.md").read_text() == "mine"
    assert list(outside.iterdir()) == [] if target_is_dir else outside.read_text() == "precious"


def test_template_paths_of_the_wrong_kind_are_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("p/README.md").mkdir(parents=True)
    Path("p/data").write_text("a file where a folder goes")
    os.mkfifo("p/spec.yaml")  # never opened: reading it would block
    with pytest.raises(ModelgenError) as caught:
        create_project("p", "regression", force=True)
    message = str(caught.value)
    assert "README.md is a folder" in message and "data is not a folder" in message
    assert "spec.yaml is not a regular file" in message
    assert _files_under(Path("p")) == {"README.md", "data", "spec.yaml"}


# --- sizes: bounded sample data ----------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "shape", "message"),
    [
        ("image-classifier", "20000,20000,3", "sides must be at most 1024"),
        ("residual-cnn", "1000,1000,3", "limit is 32 MB: use sides of at most 394"),
        ("image-classifier", "1024,1024,1", "limit is 32 MB"),
        ("tabular-classifier", "100000000", "at most 1024 features wide"),
        ("regression", "2", "at least [3]"),
        ("text-classifier", "100000", "at most 2048 tokens long"),
        ("image-classifier", "32,32", "needs 3 positive number"),
        ("image-classifier", "0,0,3", "needs 3 positive number"),
        ("image-classifier", "-3,8,3", "needs 3 positive number"),
        ("image-classifier", "abc", "not a list of whole numbers"),
        ("image-classifier", "", "not a list of whole numbers"),
        ("image-classifier", "3.5,8,3", "not a list of whole numbers"),
        ("image-classifier", "32,,3", "not a list of whole numbers"),
        ("image-classifier", "1_0,8,3", "not a list of whole numbers"),
    ],
)
def test_shapes_are_bounded_and_checked_first(tmp_path, monkeypatch, cli, template, shape, message):
    monkeypatch.chdir(tmp_path)
    result = cli("new", "p", "--template", template, "--input-shape", shape)
    assert result.exit_code == 2 and result.output.startswith("error: "), result.output
    assert message in result.output.replace("\n", " ")
    assert list(tmp_path.iterdir()) == []


def test_the_largest_allowed_sample_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    create_project("p", "text-classifier", input_shape=(2048,), num_classes=2)
    create_project("t", "tabular-classifier", input_shape=(1024,))
    assert compile_file(Path("t/spec.yaml")).inputs[0].shape == (1024,)


def test_num_classes_zero_is_refused_not_replaced_by_the_default(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    result = cli("new", "p", "--template", "tabular-classifier", "--num-classes", "0")
    assert result.exit_code == 2 and "between 2 and 50" in result.output
    assert not Path("p").exists()


# --- all or nothing ----------------------------------------------------------------------


def test_a_failure_part_way_leaves_no_new_folder(tmp_path, monkeypatch):
    import modelgen.scaffold as scaffold

    monkeypatch.chdir(tmp_path)
    made = []

    def png_then_disk_full(pixels):
        if len(made) == 30:
            raise OSError(errno.ENOSPC, "No space left on device")
        made.append(1)
        return real_png(pixels)

    real_png = scaffold._png
    monkeypatch.setattr(scaffold, "_png", png_then_disk_full)
    with pytest.raises(ModelgenError, match="No space left on device; nothing was written"):
        create_project("deep/p", "image-classifier")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_program_generation_leaves_no_new_folder(tmp_path, monkeypatch):
    import modelgen.build as build

    monkeypatch.chdir(tmp_path)

    def broken(*args, **kwargs):
        raise ModelgenError("generation failed")

    monkeypatch.setattr(build, "generate", broken)
    with pytest.raises(ModelgenError, match="generation failed"):
        create_project("p", "regression", target="tf")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_run_leaves_no_new_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        create_project("a/b/p", "regression")
    assert list(tmp_path.iterdir()) == []  # nor the staging folder, nor the parents made


def test_with_force_a_failure_part_way_puts_every_file_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("p").mkdir()
    Path("p/notes.txt").write_text("mine")
    Path("p/README.md").write_text("my readme")
    Path("p/spec.yaml").write_text("my spec")
    before = _files_under(Path("p"))
    real_replace, calls = os.replace, []

    def replace_then_fail(src, dst, **kwargs):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace_then_fail)
    with pytest.raises(ModelgenError, match="Input/output error"):
        create_project("p", "regression", force=True)
    assert _files_under(Path("p")) == before
    assert Path("p/README.md").read_text() == "my readme"
    assert Path("p/spec.yaml").read_text() == "my spec"


def test_modes_follow_the_umask_and_replaced_files_keep_theirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o027)
    try:
        create_project("p", "regression")
        Path("p/test_spec.py").chmod(0o700)
        create_project("p", "regression", force=True)
    finally:
        os.umask(old)
    mode = lambda path: stat.S_IMODE(Path(path).stat().st_mode)  # noqa: E731
    assert mode("p") == 0o750 and mode("p/data") == 0o750
    assert mode("p/spec.yaml") == 0o640 and mode("p/data/table.csv") == 0o640
    assert mode("p/test_spec.py") == 0o700


# --- other hostile input: always `error: ...`, exit 2 ---------------------------------------


@pytest.mark.parametrize(
    ("setup", "folder", "message"),
    [
        ("file", "f", "f exists and is not a folder"),
        ("file", "f/proj", "is not a folder"),
        ("fifo", "fifo", "fifo exists and is not a folder"),
        ("fifo", "fifo/proj", "is not a folder"),
        (None, "new\nline", "contains the control character '\\n'"),
        (None, "tab\there", "control character"),
        (None, "a" * 300, "File name too long; nothing was written"),
        (None, "/".join(["b" * 200] * 30), "File name too long"),
        (None, "", "the project folder is empty"),
    ],
)
def test_hostile_destinations_are_clear_errors(tmp_path, monkeypatch, cli, setup, folder, message):
    monkeypatch.chdir(tmp_path)
    if setup == "file":
        Path("f").write_text("x")
    elif setup == "fifo":
        os.mkfifo("fifo")
    before = _files_under(tmp_path)
    result = cli("new", folder, "--template", "regression", *(["--name", "ok"] if folder else []))
    assert result.exit_code == 2 and result.output.startswith("error: "), result.output
    assert message in result.output
    assert _files_under(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_parent_is_a_clear_error(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    Path("locked").mkdir(mode=0o500)
    try:
        result = cli("new", "locked/proj", "--template", "regression")
    finally:
        Path("locked").chmod(0o700)
    assert result.exit_code == 2 and "no permission to write in" in result.output


def test_new_never_imports_tensorflow(tmp_path):
    probe = (
        "import sys; from modelgen.cli import main; sys.argv = ['modelgen'] + sys.argv[1:]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "new", "p", "--template", "regression", "--target", "tf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p/train_tf.py").is_file()
