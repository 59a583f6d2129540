"""Code generation: literals, identifiers, every example x target parses, lints and is stable."""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelgen.build import generate
from modelgen.codegen import TARGETS, style, template_path
from modelgen.codegen.literals import identifier, py_literal
from modelgen.layers import REGISTRY
from tests.conftest import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden" / "expected"
UPDATE = os.environ.get("MODELGEN_UPDATE_GOLDEN") == "1"

plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@given(plain_values)
def test_py_literal_round_trips_any_plain_value(value):
    source = py_literal(value)
    assert ast.literal_eval(source) == value
    tree = ast.parse(source, mode="eval")
    assert all(not isinstance(n, ast.Call | ast.Name | ast.Attribute) for n in ast.walk(tree))


@pytest.mark.parametrize(
    "hostile",
    [
        "'",
        '"',
        '"""',
        "'''",
        "\\",
        "a\nb",
        "# x",
        "{{ x }}",
        "__import__('os').system('x')",
        "é",
        "\x00",
        "\u2028",
        "🙂",
        "\\'; import os; '",
    ],
)
def test_hostile_strings_stay_string_literals(hostile):
    source = py_literal(hostile)
    assert ast.literal_eval(source) == hostile
    assert isinstance(ast.parse(source, mode="eval").body, ast.Constant)


@pytest.mark.parametrize("bad", ["a b", "1a", "class", "a-b", "", "é", "a\n", None, 3])
def test_identifier_rejects_anything_that_is_not_a_plain_name(bad):
    with pytest.raises(ValueError):
        identifier(bad)
    assert identifier("conv_1") == "conv_1"


def test_every_kind_has_an_example_and_both_emitters():
    for kind, cls in REGISTRY.items():
        assert cls.example and cls.summary and cls.example_input, kind
        for target in TARGETS:
            assert template_path(target, kind).is_file(), f"{kind} has no {target} emitter"
    docs = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    missing = [kind for kind in REGISTRY if f"`{kind}`" not in docs]
    assert not missing, f"docs/spec.md does not document {missing}"


#: Kinds no bundled spec needs: elementwise merges sharing one emitter with `add`, `multiply`
#: and `average` (templates/*/layers/elementwise.jinja); the equivalence matrix runs each.
NOT_IN_EXAMPLES = {"subtract", "maximum", "minimum"}


def test_examples_and_the_zoo_cover_every_layer_kind():
    used = set()
    for example in [*EXAMPLES, *sorted((ROOT / "examples" / "zoo").glob("*.yaml"))]:
        graph, _ = generate(example, "keras")
        used |= {node.kind for node in graph.nodes}
    assert used | NOT_IN_EXAMPLES == set(REGISTRY), f"no example uses {set(REGISTRY) - used}"
    assert not used & NOT_IN_EXAMPLES, "an example uses a kind listed as unused"


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_generated_code_is_stable_valid_and_matches_golden(example: Path, target: str):
    out_dir = ROOT / "examples"  # golden files are rendered as if written beside the examples
    graph, code = generate(example, target, out_dir)
    assert generate(example, target, out_dir)[1] == code, "output is not byte-identical"
    ast.parse(code)
    assert f"spec-sha256: {graph.spec_sha256}" in code and "modelgen-version:" in code
    golden = GOLDEN / f"{example.stem}.{target}.py"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(code, encoding="utf-8")
    assert golden.is_file(), "no golden file: run with MODELGEN_UPDATE_GOLDEN=1"
    assert code == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs: review, then MODELGEN_UPDATE_GOLDEN=1 pytest tests/unit"
    )


def test_generated_code_is_ruff_formatted_and_clean_under_the_rules_its_header_names(
    tmp_path: Path,
):
    """Every example in both targets passes `ruff format --check` and `ruff check` with the rule
    set and line length that the file's own header states."""
    files = []
    for example in EXAMPLES:
        for target in TARGETS:
            path = tmp_path / f"{example.stem}_{target}.py"
            code = generate(example, target, tmp_path)[1]
            header = f"`ruff check --select {style.LINT_RULES}` (line length {style.LINE_LENGTH})"
            assert header in " ".join(code[:1500].split()), f"{path.name}: header names no rules"
            path.write_text(code, encoding="utf-8")
            files.append(str(path))
    settings = ["--isolated", "--no-cache", "--line-length", str(style.LINE_LENGTH)]
    checks = [
        ["format", "--check", *settings, "--target-version", "py311"],
        ["check", *settings, "--select", style.LINT_RULES, "--output-format", "concise"],
    ]
    checks[0] += ["--config", "format.skip-magic-trailing-comma = true"]
    for check in checks:
        result = subprocess.run(
            [style.ruff_binary(), *check, *files], capture_output=True, text=True
        )
        assert result.returncode == 0, " ".join(check[:2]) + ":\n" + result.stdout + result.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_the_support_section_comes_last_and_is_the_same_in_both_targets(example: Path):
    """The training code comes first; the shared support section follows its banner, the
    same bytes in the keras and the tf program."""
    sections = []
    for target in TARGETS:
        code = generate(example, target, ROOT / "examples")[1]
        before, banner, support = code.partition("\n# Support: ")
        assert banner and "\ndef main(" in before and "\ndef main(" not in support
        assert "def parse_args(" in support and "def parse_args(" not in before
        sections.append(support.partition('\nif __name__ == "__main__":')[0])
    assert sections[0] == sections[1]


def test_the_keras_program_opens_with_the_model_and_reaches_fit_soon():
    """After the imports and constants, the digits CNN's keras program starts with
    build_model, then the optimizer and compile, and calls model.fit within 250 lines."""
    code = generate(ROOT / "examples" / "configs" / "digits_cnn.yaml", "keras", ROOT)[1]
    lines = code.splitlines()
    defs = [line.split("(")[0] for line in lines if line.startswith(("def ", "class "))]
    assert defs[:3] == ["def build_model", "def make_optimizer", "def compile_model"]
    first = next(i for i, line in enumerate(lines) if line.startswith("def "))
    last_import = max(
        i for i, line in enumerate(lines[:first]) if line.startswith(("import", "from"))
    )
    between = [line for line in lines[last_import + 1 : first] if line.strip()]
    assert all(re.match(r"[A-Z_]+ = |# ", line) for line in between), between
    assert next(i for i, line in enumerate(lines) if "model.fit(" in line) < 250
