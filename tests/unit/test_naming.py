"""Spec names never collide with the generated program's own names (no TensorFlow needed).

The oracle is Python's own symbol tables: a program generated with hostile names (the names the
program itself defines, imports or takes from builtins, and keywords) must bind the same names
at module level and read the same globals in every function as the program generated with
plain names, and define each top-level name once.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import symtable
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelgen.codegen import TARGETS, render_with_names
from modelgen.codegen.naming import camel_case
from modelgen.graph import compile_file
from tests.specs import base_spec

SPEC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def naming_spec(model: str, input_name: str, layers: list[str]) -> dict:
    """A small model with a dropout and a batch norm (both have state), named as asked."""
    kinds = [
        {"dense": {"units": 8, "activation": "relu"}},
        {"batch_norm": {}},
        {"dropout": {"rate": 0.25}},
    ]
    items = [dict(kinds[i % 3], name=name) for i, name in enumerate(layers)]
    head = "head" if "head" not in [input_name, *layers] else "the_head_layer"
    items.append({"name": head, "dense": {"units": 3}})
    return base_spec(name=model, model={"inputs": {input_name: {"shape": [6]}}, "layers": items})


def render_spec(tmp_path, spec: dict, target: str) -> tuple[str, dict[str, str]]:
    path = tmp_path / f"{target}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return render_with_names(compile_file(path), target, tmp_path)


def program_names(code: str) -> set[str]:
    """Every variable-like name of a program: its top level, locals, arguments, builtins."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.alias):
            found.add((node.asname or node.name).split(".")[0])
    return found


def _tables(code: str) -> dict[str, symtable.SymbolTable]:
    out: dict[str, symtable.SymbolTable] = {}

    def walk(table: symtable.SymbolTable, prefix: str) -> None:
        for child in table.get_children():
            name = f"{prefix}{child.get_name()}"
            out[name] = child
            walk(child, name + ".")

    top = symtable.symtable(code, "<generated>", "exec")
    out["<module>"] = top
    walk(top, "")
    return out


def semantics(code: str, class_name: str) -> dict[str, frozenset[str]]:
    """Per scope, the global names it reads (the class renamed to <class>), and the module's
    own bindings: what must not change when spec names change."""
    rename = {class_name: "<class>"}
    result = {}
    for scope, table in _tables(code).items():
        scope = ".".join(rename.get(part, part) for part in scope.split("."))
        if table.get_type() == "module":
            names = {
                s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()
            }
        else:
            names = {s.get_name() for s in table.get_symbols() if s.is_global()}
        result[scope] = frozenset(rename.get(n, n) for n in names)
    return result


def assert_same_program(plain: tuple[str, dict], hostile: tuple[str, dict]) -> None:
    (plain_code, plain_names), (code, names) = plain, hostile
    compile(code, "<generated>", "exec")
    definitions = [
        n.name
        for n in ast.parse(code).body
        if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
    ]
    assert len(definitions) == len(set(definitions)), "a top-level name is defined twice"
    assert semantics(code, names["<class>"]) == semantics(plain_code, plain_names["<class>"])
    for spec_name, python_name in names.items():
        assert python_name.isidentifier() and not keyword.iskeyword(python_name), spec_name


def _hostile_names() -> list[str]:
    """The program's own names in both targets (as generated for a plain spec), keywords, and
    a few builtins, that a spec may give."""
    names: set[str] = set(keyword.kwlist) | {"input", "print", "ValueError", "KeyboardInterrupt"}
    with tempfile.TemporaryDirectory() as folder:
        for target in TARGETS:
            spec = naming_spec("tiny", "x", ["a", "b", "c"])
            names |= program_names(render_spec(Path(folder), spec, target)[0])
    return sorted(n for n in names if SPEC_NAME.fullmatch(n))


HOSTILE = _hostile_names()


def test_hostile_names_cover_the_programs_own_names():
    assert {"tf", "np", "keras", "layers", "Path", "main", "build_model", "seed"} <= set(HOSTILE)
    assert {"self", "features", "training", "logits", "Optimizer", "KeyboardInterrupt"} <= set(
        HOSTILE
    )
    assert len(HOSTILE) > 100


def snake_for_class(name: str) -> str | None:
    """The spec name whose model class is ``name`` (``keyboard_interrupt`` for
    ``KeyboardInterrupt``), if one exists."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return snake if camel_case(snake) == name and SPEC_NAME.fullmatch(snake) else None


def many_inputs_spec(names: list[str]) -> dict:
    """One input per name, all concatenated into a small classifier."""
    spec = naming_spec("tiny", "x", [])
    spec["model"] = {
        "inputs": {name: {"shape": [2]} for name in names},
        "layers": [
            {"name": "joined", "inputs": names, "concatenate": {}},
            {"name": "head", "dense": {"units": 3}},
        ],
    }
    return spec


@pytest.mark.parametrize("target", TARGETS)
def test_every_program_name_as_layer_and_input_name(tmp_path, target):
    layers = [n for n in HOSTILE if n not in ("x", "head")]
    plain = render_spec(tmp_path, naming_spec("tiny", "x", [f"l{i}" for i in layers]), target)
    assert_same_program(plain, render_spec(tmp_path, naming_spec("tiny", "x", layers), target))
    inputs = [n for n in HOSTILE if n not in ("joined", "head")]
    plain = render_spec(tmp_path, many_inputs_spec([f"i{i}" for i in inputs]), target)
    assert_same_program(plain, render_spec(tmp_path, many_inputs_spec(inputs), target))


@pytest.mark.parametrize("target", TARGETS)
def test_every_program_name_as_model_class(tmp_path, target):
    classes = {n: snake_for_class(n) for n in HOSTILE if snake_for_class(n)}
    assert {"Path", "Optimizer", "KeyboardInterrupt", "ValueError"} <= set(classes)
    plain = render_spec(tmp_path, naming_spec("tiny", "x", ["a", "b"]), target)
    for name, spec_name in classes.items():
        hostile = render_spec(tmp_path, naming_spec(spec_name, "x", ["a", "b"]), target)
        assert_same_program(plain, hostile)
        if target == "tf":  # renamed exactly when the program has that name
            renamed = hostile[1]["<class>"] == name + "_"
            own = program_names(plain[0]) - {plain[1]["<class>"]}
            assert renamed == (name in own or keyword.iskeyword(name)), name


@pytest.mark.parametrize("target", TARGETS)
def test_keyword_names_build(tmp_path, target):
    """`name: none` once crashed `build --target tf` ('None' is not a safe identifier)."""
    for name in ("none", "true", "false", "None", "True", "class", "Self"):
        code, names = render_spec(tmp_path, naming_spec(name, "lambda", ["def", "None"]), target)
        compile(code, "<generated>", "exec")
        assert names["lambda"] == "lambda_" and names["def"] == "def_"
        if target == "tf" and name.lower() == "none":
            assert "class None_(tf.Module):" in code


def test_plain_names_are_kept(tmp_path):
    code, names = render_spec(tmp_path, naming_spec("digits", "image", ["conv", "drop"]), "tf")
    assert names == {
        "<class>": "Digits",
        "image": "image",
        "conv": "conv",
        "drop": "drop",
        "head": "head",
    }
    assert "class Digits(tf.Module):" in code


_name = st.from_regex(SPEC_NAME, fullmatch=True) | st.sampled_from(HOSTILE)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(model=_name, names=st.lists(_name, min_size=2, max_size=5, unique=True))
def test_whatever_validate_accepts_builds_for_both_targets(tmp_path, cli, model, names):
    input_name, *layers = names
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(naming_spec(model, input_name, layers)), encoding="utf-8")
    validated = cli("validate", path)
    if validated.exit_code != 0:  # e.g. a layer named 'head', the name the last one takes
        assert "error:" in validated.output and "Traceback" not in validated.output
        return
    for target in TARGETS:
        built = cli("build", path, "--target", target)
        assert built.exit_code == 0, built.output
        compile(built.stdout, "<generated>", "exec")


def test_builtins_used_are_taken(tmp_path):
    """A module-level class named after a builtin the program uses would change it (an
    `except KeyboardInterrupt:` catching the model class)."""
    code, names = render_spec(tmp_path, naming_spec("keyboard_interrupt", "x", ["a"]), "tf")
    assert names["<class>"] == "KeyboardInterrupt_"
    assert "KeyboardInterrupt" in dir(builtins) and "except KeyboardInterrupt" in code
