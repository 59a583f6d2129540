"""docs/spec.md lists every field of the JSON schema; the README's spec example is its file.

The checks read the exported JSON schema, not the generator, so a field or variant the
generator failed to walk is reported here.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from modelgen import docs
from modelgen.layers import REGISTRY
from modelgen.schema import json_schema

ROOT = Path(__file__).resolve().parents[2]
SPEC_MD = ROOT / "docs" / "spec.md"
README = ROOT / "README.md"

_ROW = re.compile(r"^\| `([^`]+)` \| (.*?) \| (.*?) \| (.*?) \|$")


def _blocks(text: str) -> dict[str, dict[str, tuple[str, str, str]]]:
    """The reference's tables by heading: ``{heading: {field: (type, default, description)}}``."""
    reference = text.split(docs.BEGIN, 1)[1].split(docs.END, 1)[0]
    out: dict[str, dict[str, tuple[str, str, str]]] = {}
    heading = ""
    for line in reference.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            out.setdefault(heading, {})
        elif (row := _ROW.match(line)) is not None:
            out[heading][row.group(1)] = row.group(2, 3, 4)
    return out


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return schema["$defs"][ref.rsplit("/", 1)[1]] if ref else node


def _enum_values(node: dict[str, Any]) -> list[Any]:
    """The choices a property's schema lists anywhere inside it (enum and const)."""
    found: list[Any] = []
    if "const" in node:
        found.append(node["const"])
    found += node.get("enum", [])
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            found += _enum_values(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found += _enum_values(node[key])
    return found


def _layer_kind(definition: dict[str, Any]) -> str | None:
    kinds = [p for p in definition.get("properties", {}) if p in REGISTRY]
    return kinds[0] if definition["title"].endswith("Layer") and len(kinds) == 1 else None


def undocumented(text: str, schema: dict[str, Any]) -> list[str]:
    """Every schema property (of the root and of each model in ``$defs``) that ``text``, a
    docs/spec.md, does not list in that model's table, or whose choices the row leaves out."""
    blocks = _blocks(text)
    by_model = {}
    for heading, rows in blocks.items():
        titled = re.search(r"\((\w+)\)$", heading)
        if titled:
            by_model[titled.group(1)] = rows
    kind_tables = {
        m.group(1): rows for h, rows in blocks.items() if (m := re.fullmatch(r"`(\w+)`", h))
    }
    item_table = next((rows for h, rows in blocks.items() if h.endswith("layer kinds")), None)
    params_titles = {
        _resolve(schema, d["properties"][kind])["title"]: kind
        for d in schema["$defs"].values()
        if (kind := _layer_kind(d))
    }
    missing: list[str] = []

    def expect(title: str, rows: dict | None, props: dict[str, Any]) -> None:
        for prop, node in props.items():
            if rows is None or prop not in rows:
                missing.append(f"{title}.{prop}")
                continue
            for value in _enum_values(node):
                shown = "null" if value is None else str(value).lower()
                if value is not None and f"`{shown}`" not in rows[prop][0].lower():
                    missing.append(f"{title}.{prop}: choice {value!r}")

    for definition in [schema, *schema["$defs"].values()]:
        title, props = definition["title"], definition.get("properties", {})
        kind = _layer_kind(definition)
        if kind is not None:
            common = {p: n for p, n in props.items() if p != kind}
            expect(f"{title} (layer item)", item_table, common)
            if kind not in kind_tables:
                missing.append(f"{title}: layer kind heading `{kind}`")
        elif title in params_titles:
            expect(title, kind_tables.get(params_titles[title]), props)
        elif title == "modelgen spec":
            expect(title, by_model.get("Spec"), props)
        else:
            expect(title, by_model.get(title), props)
    return missing


def undescribed_layer_params(schema: dict[str, Any]) -> list[str]:
    """``kind.param`` for every parameter of every layer kind that has no description in the
    JSON schema (or ``kind`` alone when the schema has no layer item for that kind)."""
    params = {
        kind: _resolve(schema, d["properties"][kind])
        for d in schema["$defs"].values()
        if (kind := _layer_kind(d))
    }
    missing = [kind for kind in REGISTRY if kind not in params]
    for kind, definition in sorted(params.items()):
        for prop, node in definition.get("properties", {}).items():
            if not str(node.get("description", "")).strip():
                missing.append(f"{kind}.{prop}")
    return missing


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(json_schema())


def test_spec_md_lists_every_schema_property(schema):
    missing = undocumented(SPEC_MD.read_text(encoding="utf-8"), schema)
    assert not missing, f"docs/spec.md does not document {missing}: run `python -m modelgen.docs`"


def test_every_model_and_layer_kind_is_walked(schema):
    text = SPEC_MD.read_text(encoding="utf-8")
    headings = _blocks(text)
    titles = {d["title"] for d in schema["$defs"].values()}
    for name in ("NpzData", "CsvData", "ImageDirData", "SyntheticData", "SGD", "AdamW"):
        assert name in titles and any(h.endswith(f"({name})") for h in headings), name
    for kind in REGISTRY:
        assert f"`{kind}`" in headings, kind


@pytest.mark.parametrize(
    "damage",
    [
        ("| `num_samples` |", "| `num_sample` |"),  # a field's row gone
        ("#### `dense`\n", "#### `dense2`\n"),  # a layer kind's table gone
        ("one of `rgb`, `grayscale`", "one of `rgb`"),  # an enum choice left out
        ("| `inputs` | name or list", "| `input` | name or list"),  # a layer item field gone
    ],
)
def test_the_check_reports_a_missing_field(schema, damage):
    text = SPEC_MD.read_text(encoding="utf-8")
    assert damage[0] in text
    assert undocumented(text.replace(damage[0], damage[1], 1), schema)


def test_spec_md_and_readme_are_up_to_date():
    assert docs.stale() == [], "docs/spec.md or README.md is stale: run `python -m modelgen.docs`"
    assert docs.main(["--check"]) == 0


def test_tables_render_readable_cells():
    text = SPEC_MD.read_text(encoding="utf-8")
    reference = text.split(docs.BEGIN, 1)[1]
    assert "mapping or mapping" not in reference
    assert "| `` |" not in reference and "| `` " not in reference
    rows = [r for blocks in _blocks(text).values() for r in blocks.values()]
    assert all(t and d for t, d, _ in rows), "every row has a type and a default"
    # a multi-line docstring becomes one line
    assert "images per class (classes: the sorted folder names); images are resized" in text


def test_readme_spec_example_is_the_file_it_names():
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## The spec\n", 1)[1]
    intro, block = section.split("```yaml\n", 1)
    named = re.findall(r"examples/configs/[\w.-]+\.yaml", intro.strip().rsplit("\n\n", 1)[-1])
    assert named, "the line above the README's spec example names its file"
    example = (ROOT / named[0]).read_text(encoding="utf-8")
    assert named[0] == "examples/configs/digits_cnn.yaml"
    assert block.split("\n```", 1)[0].rstrip("\n") == example.rstrip("\n")


def test_docs_check_exits_1_when_stale(monkeypatch, tmp_path):
    stale_doc = tmp_path / "spec.md"
    stale_doc.write_text(
        SPEC_MD.read_text(encoding="utf-8").replace("| `num_samples` |", "| `x` |"),
        encoding="utf-8",
    )
    monkeypatch.setattr(docs, "DOC_PATH", stale_doc)
    assert docs.stale() == [stale_doc]
    assert docs.main(["--check"]) == 1


def test_every_layer_parameter_has_a_description(schema):
    missing = undescribed_layer_params(schema)
    assert not missing, f"layer parameters without a description: {missing}"
    # the walk does reach the parameters: a description removed is reported
    damaged = copy.deepcopy(schema)
    dense = next(
        _resolve(damaged, d["properties"]["dense"])
        for d in damaged["$defs"].values()
        if _layer_kind(d) == "dense"
    )
    assert set(dense["properties"]) >= {"units", "activation", "l2"}
    del dense["properties"]["units"]["description"]
    assert undescribed_layer_params(damaged) == ["dense.units"]
