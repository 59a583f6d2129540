"""Hostile text in a spec or its data never becomes code; random spec trees never crash.

Names must be identifiers (anything else is a spec error), so the text that can reach generated
code is data: file paths, array names, CSV categories and label classes. These go through the
one literal filter; the tests check that every generated file parses, that the hostile text
appears only inside string constants, and that importing the module runs nothing from it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import random
import string
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelgen.build import generate
from modelgen.errors import ModelgenError

HOSTILE = [
    "'",
    '"',
    '"""',
    "'''",
    "\\",
    "a\nb",
    "# x",
    "{{ x }}",
    "{% if %}",
    "__import__('os').system('touch PWNED')",
    "é",
    "\u2028",
    "🙂",
    "'); import os; ('",
    "\\'; print(1); '",
    "None",
    "class",
    "\r",
    "\t",
]
text = st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=12)).filter(
    lambda s: "\x00" not in s and s.strip() == s and "," not in s and s
)


def _constants(tree: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _skeleton(code: str) -> str:
    """The program's syntax tree with every string constant blanked."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


def _assert_only_in_strings(code: str, hostile: list[str], folder: Path, benign: str) -> None:
    """``code`` was generated with the ``hostile`` values, ``benign`` with plain ones in their
    place: the two programs must differ only inside string literals."""
    constants = _constants(ast.parse(code))
    for value in hostile:
        assert any(value in c for c in constants), f"{value!r} is missing from the string literals"
    assert _skeleton(code) == _skeleton(benign), "hostile text changed the program's structure"
    # Importing the module (not running it) executes no spec or data text.
    path = folder / "generated_probe.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("generated_probe", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("generated_probe", None)
    spec.loader.exec_module(module)
    assert not (folder / "PWNED").exists() and not Path("PWNED").exists()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    categories=st.lists(text, min_size=2, max_size=3, unique=True),
    classes=st.lists(text, min_size=2, max_size=2, unique=True),
)
def test_hostile_csv_values_stay_string_literals(tmp_path_factory, categories, classes):
    import csv as csv_module

    folder = tmp_path_factory.mktemp("csv")
    rows = [[str(i), c, k] for i, (c, k) in enumerate(zip(categories * 2, classes * 3))]
    with (folder / "data.csv").open("w", encoding="utf-8", newline="") as handle:
        csv_module.writer(handle).writerows([["a", "cat", "label"], *rows])
    cats, labels = sorted({r[1] for r in rows}), sorted({r[2] for r in rows})
    spec = folder / "spec.yaml"
    spec.write_text(
        "name: hostile\n"
        "data: {source: csv, path: data.csv, label: label, categorical: {cat: one_hot}}\n"
        f"model:\n  inputs: {{row: {{shape: [{1 + len(cats)}]}}}}\n"
        f"  layers:\n    - dense: {{units: {len(labels)}}}\n"
        "train: {loss: {type: sparse_categorical_crossentropy, from_logits: true}}\n",
        encoding="utf-8",
    )
    plain = folder / "plain"
    plain.mkdir()
    with (plain / "data.csv").open("w", encoding="utf-8", newline="") as handle:
        benign_rows = [[r[0], f"c{cats.index(r[1])}", f"k{labels.index(r[2])}"] for r in rows]
        csv_module.writer(handle).writerows([["a", "cat", "label"], *benign_rows])
    (plain / "spec.yaml").write_text(spec.read_text(encoding="utf-8"), encoding="utf-8")
    for target in ("keras", "tf"):
        _, code = generate(spec, target, folder)
        _, benign = generate(plain / "spec.yaml", target, folder)
        _assert_only_in_strings(code, [*cats, *labels], folder, benign)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_paths_and_array_names_stay_string_literals(tmp_path, hostile):
    folder = tmp_path / "d"
    folder.mkdir()
    name = hostile.replace("/", "_").replace("\n", "_").replace("\r", "_") or "x"
    data_file = folder / f"{name}.npz"
    try:
        np.savez(
            data_file, **{f"x{name}": np.zeros((4, 3), "float32"), f"y{name}": np.zeros(4, "int64")}
        )
    except (OSError, ValueError):
        pytest.skip("the file system refuses this name")
    import yaml

    def spec_with(path: str, features: str, labels: str, file: Path) -> Path:
        tree = {
            "name": "hostile",
            "data": {"source": "npz", "path": path, "features": features, "labels": labels},
            "model": {"inputs": {"v": {"shape": [3]}}, "layers": [{"dense": {"units": 2}}]},
            "train": {"loss": {"type": "sparse_categorical_crossentropy", "from_logits": True}},
        }
        file.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
        return file

    spec = spec_with(data_file.name, "x" + name, "y" + name, folder / "spec.yaml")
    np.savez(folder / "plain.npz", xplain=np.zeros((4, 3), "float32"), yplain=np.zeros(4, "int64"))
    plain = spec_with("plain.npz", "xplain", "yplain", folder / "plain.yaml")
    for target in ("keras", "tf"):
        _, code = generate(spec, target, folder)
        _, benign = generate(plain, target, folder)
        _assert_only_in_strings(code, [data_file.name, "x" + name, "y" + name], folder, benign)


def _random_tree(rng: random.Random, depth: int = 0):
    """A random YAML-able value: mostly spec-shaped, sometimes nonsense."""
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice(
            [
                None,
                True,
                0,
                -1,
                3,
                10**13,
                1e-3,
                float("inf"),
                "",
                "relu",
                "x",
                "dense",
                "npz",
                "synthetic",
                "adam",
                "mse",
                [],
                {},
            ]
        )
    if roll < 0.5:
        return [_random_tree(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [
        "name",
        "seed",
        "data",
        "model",
        "train",
        "runtime",
        "inputs",
        "layers",
        "shape",
        "dense",
        "conv2d",
        "units",
        "filters",
        "kernel_size",
        "source",
        "path",
        "loss",
        "type",
        "optimizer",
        "epochs",
        "activation",
        "dropout",
        "rate",
        "add",
        "".join(rng.choices(string.ascii_lowercase, k=4)),
    ]
    return {rng.choice(keys): _random_tree(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_fuzz_random_spec_trees(tmp_path, capsys):
    """Random trees (seeded) around a valid spec: generated code that parses, or a spec error."""
    import yaml

    rng = random.Random(1234)
    base = {
        "name": "fuzz",
        "data": {"source": "synthetic"},
        "model": {"inputs": {"x": {"shape": [4]}}, "layers": [{"dense": {"units": 3}}]},
        "train": {"loss": {"type": "sparse_categorical_crossentropy", "from_logits": True}},
    }
    outcomes = {"code": 0, "spec error": 0}
    cases = 400
    for _ in range(cases):
        tree = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 3)):  # mutate a few places
            section = rng.choice(list(tree))
            if rng.random() < 0.5:
                tree[section] = _random_tree(rng)
            elif isinstance(tree[section], dict):
                tree[section][rng.choice(["units", "layers", "inputs", "type", "x"])] = (
                    _random_tree(rng)
                )
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
        try:
            _, code = generate(path, rng.choice(["keras", "tf"]), tmp_path)
        except ModelgenError:
            outcomes["spec error"] += 1
            continue
        ast.parse(code)
        outcomes["code"] += 1
    with capsys.disabled():
        print(f"\nfuzz: {cases} random specs -> {outcomes}")
    assert sum(outcomes.values()) == cases and outcomes["code"] > 0 and outcomes["spec error"] > 0
