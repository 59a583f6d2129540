"""The one naming rule for Python identifiers derived from spec text.

Templates never print a spec name (model, input or layer) as code directly: the ``pyname``
filter prints a placeholder token instead. Once the program is rendered, every identifier it
uses that is *not* derived from the spec (its imports, functions, classes, arguments, locals,
attributes and the builtins it calls) is read from its syntax tree, and each spec name gets
the Python identifier it asked for unless that would collide with one of those, with a Python
keyword, or with another spec-derived identifier; then it gets the first free form with ``_``
appended. The rule needs no list of reserved words, so it holds whatever templates add.

Placeholders are ``ǂ<n>ǂ``: ``ǂ`` is a letter Python accepts in identifiers, and spec names
are ASCII and string literals are ASCII-escaped (see ``literals.py``), so a placeholder
cannot occur in generated code except where the filter put it.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from dataclasses import dataclass, field

__all__ = ["Namer", "camel_case", "TF_MODULE_ATTRIBUTES"]

_MARK = "\u01c2"  # ǂ LATIN LETTER ALVEOLAR CLICK (a letter, so valid in identifiers)
_PLACEHOLDER = re.compile(f"{_MARK}([0-9]+){_MARK}")

#: Attributes a ``tf.Module`` subclass inherits (the tf target's model is one); an attribute
#: derived from a layer name must not shadow them. tests/e2e check this against tf.Module.
TF_MODULE_ATTRIBUTES = frozenset(
    {
        "name",
        "name_scope",
        "non_trainable_variables",
        "submodules",
        "trainable_variables",
        "variables",
        "with_name_scope",
    }
)


def camel_case(spec_name: str) -> str:
    """The model class a spec name asks for: ``digits_cnn`` -> ``DigitsCnn``."""
    return "".join(part.capitalize() for part in spec_name.split("_")) or "Model"


@dataclass
class Namer:
    """Hands out placeholders while a program renders, then resolves them to identifiers."""

    wanted: list[str] = field(default_factory=list)
    _index: dict[tuple[str, str], int] = field(default_factory=dict)

    def placeholder(self, wanted: str, role: str = "name") -> str:
        """The token that stands for the identifier ``wanted`` (a layer, input or class
        name) until :meth:`resolve`; the same (role, wanted) always gets the same token."""
        if not isinstance(wanted, str) or not wanted.isascii() or not wanted.isidentifier():
            raise ValueError(f"{wanted!r} is not a plain ASCII identifier")
        key = (role, wanted)
        if key not in self._index:
            self._index[key] = len(self.wanted)
            self.wanted.append(wanted)
        return f"{_MARK}{self._index[key]}{_MARK}"

    def resolve(self, code: str, tree: ast.Module, inherited: frozenset[str] = frozenset()):
        """(code with every placeholder replaced, {placeholder index: identifier}).
        ``tree`` is ``code`` parsed; ``inherited`` are attributes the program's classes have
        without defining them (a tf.Module's)."""
        scopes = _scopes(tree)
        everywhere = set(keyword.kwlist) | set(keyword.softkwlist) | _module_names(tree)
        everywhere |= {n for scope in scopes for n in scope.owned if n in _BUILTINS}
        attributes = _Found()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                attributes.add(node.attr)
        # token -> the program's names its forms must avoid, and its forms (namespace, text)
        avoid: dict[int, set[str]] = {}
        uses: dict[int, set[tuple[str, str]]] = {}
        for space, found in [("attribute", attributes)] + [("name", s) for s in scopes]:
            for compound in found.derived:
                tokens = {int(n) for n in _PLACEHOLDER.findall(compound)}
                if len(tokens) != 1:
                    raise RuntimeError(f"a template joined several spec names: {compound!r}")
                token = tokens.pop()
                uses.setdefault(token, set()).add((space, compound))
                if space == "name":
                    avoid.setdefault(token, set(everywhere)).update(found.owned)
        taken_attributes = attributes.owned | inherited
        chosen: dict[int, str] = {}
        used: dict[str, set[str]] = {"name": set(), "attribute": set()}
        for index, wanted in enumerate(self.wanted):
            candidate = wanted
            while True:
                forms = [
                    (space, _PLACEHOLDER.sub(candidate, compound))
                    for space, compound in sorted(uses.get(index, ()))
                ]
                clash = candidate in used["name"] or any(
                    form in used[space]
                    or form in (taken_attributes if space == "attribute" else avoid[index])
                    for space, form in forms
                )
                if not clash and candidate not in everywhere:
                    break
                candidate += "_"
            chosen[index] = candidate
            for space, form in forms:
                used[space].add(form)
            used["name"].add(candidate)
        return _PLACEHOLDER.sub(lambda m: chosen[int(m.group(1))], code), chosen


_BUILTINS = frozenset(dir(builtins))


@dataclass
class _Found:
    """Identifiers of one namespace: those the program owns, those holding a placeholder."""

    owned: set[str] = field(default_factory=set)
    derived: set[str] = field(default_factory=set)

    def add(self, *identifiers: str) -> None:
        for identifier in identifiers:
            (self.derived if _MARK in identifier else self.owned).add(identifier)


def _bound_names(node: ast.AST) -> list[str]:
    """Variable-like names a node uses or binds (not attributes, not keyword arguments: a
    layer called ``shape`` does not collide with ``keras.Input(shape=...)``)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.alias):
        return [*(node.asname or node.name).split("."), *node.name.split(".")]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return list(node.names)
    if isinstance(node, ast.ExceptHandler) and node.name:
        return [node.name]
    return []


def _scopes(tree: ast.Module) -> list[_Found]:
    """The names of each top-level function and method (nested functions included), and of
    the module's own statements outside them."""
    units: list[ast.AST] = []
    module_level: list[ast.AST] = []
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef):
            module_level.append(ast.Name(statement.name))
            for item in statement.body:
                (units if isinstance(item, ast.FunctionDef) else module_level).append(item)
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            module_level.append(ast.Name(statement.name))
            units.append(statement)
        else:
            module_level.append(statement)
    scopes = []
    for unit in [*units, ast.Module(body=module_level, type_ignores=[])]:
        found = _Found()
        for node in ast.walk(unit):
            found.add(*_bound_names(node))
        scopes.append(found)
    return scopes


def _module_names(tree: ast.Module) -> set[str]:
    """Names the module binds at its top level: imports, functions, classes, constants."""
    bound: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(statement.name)
        elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                bound.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return {name for name in bound if _MARK not in name}
