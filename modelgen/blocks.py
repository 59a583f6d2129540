"""Expand a spec's reusable blocks (``blocks:`` and ``- block: NAME`` items) into plain layers.

This runs on the located document, after the overrides and before the spec is validated and
lowered. The expanded document's ``model.layers`` holds only ordinary layer items, named
``<use>_<layer>`` (``<use><i>_<layer>`` for the instances of ``repeat: n``, nested uses
concatenated: ``stage2_block1_se_pool``), each with explicit ``inputs``. Every path into it
still leads to the line it was written at: a block layer's line, with the line that used the
block as the location's context, so any later error (a schema error, a shape error) names both.
A spec without blocks is returned unchanged.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from modelgen._yaml import LocatedDocument, Path_
from modelgen.errors import Diagnostic, Location, SpecError, did_you_mean
from modelgen.schema import validate_document
from modelgen.schema.spec import MAX_REPEAT, Block, BlockUse, Spec, layer_kind_of

__all__ = ["expand", "ExpandedDocument", "UseSummary", "MAX_LAYERS", "MAX_VALUES", "MAX_NESTING"]

#: A parameter reference: a string that is exactly ``$name``.
PARAM = re.compile(r"^\$([A-Za-z][A-Za-z0-9_]{0,63})$")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: A name inside a block: always prefixed with its use's, so it may start with a digit.
LOCAL_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
#: The fields of an item that hold names of its list, checked there rather than by the schema.
LOCAL_KEYS = ("name", "inputs")
#: As many layers as ``model.layers`` may hold.
MAX_LAYERS = 10_000
#: Values (scalars, lists, mappings) the expanded layer items may hold in all: a block whose
#: parameter is a long list, repeated many times, must not make validation take minutes.
MAX_VALUES = 200_000
#: Blocks inside blocks, outermost included.
MAX_NESTING = 16
MODEL_LAYERS = ("model", "layers")


@dataclass(frozen=True)
class UseSummary:
    """One instance of a block used in ``model.layers`` (for `modelgen validate`)."""

    name: str  # the instance's name: stage2_block1
    block: str
    line: int  # the line of the use
    layers: tuple[str, ...]  # the names of its layers, nested blocks' included


class ExpandedDocument(LocatedDocument):
    """A document whose ``model.layers`` were expanded from another's: item ``j`` was written
    at ``moved[j] = (path in the source, context)``; every other path is the source's.
    ``uses`` lists the instances of blocks in the model's list, in order."""

    def __init__(
        self,
        data: Any,
        source: LocatedDocument,
        moved: dict[int, tuple[Path_, str]],
        uses: list[UseSummary],
    ) -> None:
        super().__init__(data=data, file=source.file, values=source.values, keys=source.keys)
        self.source = source
        self.moved = moved
        self.uses = uses

    def _moved(self, path: Path_) -> tuple[Path_, str] | None:
        if len(path) >= 3 and path[:2] == MODEL_LAYERS and isinstance(path[2], int):
            found = self.moved.get(path[2])
            if found is not None:
                return found[0] + tuple(path[3:]), found[1]
        return None

    def origin(self, path: Path_) -> Path_:
        found = self._moved(tuple(path))
        return found[0] if found else tuple(path)

    def where(self, path: Path_, *, key: bool = False) -> Location | None:
        found = self._moved(tuple(path))
        if found is None:
            return self.source.where(path, key=key)
        location = self.source.where(found[0], key=key)
        return replace(location, context=found[1]) if location and found[1] else location


def expand(doc: LocatedDocument) -> LocatedDocument:
    """``doc`` with its block uses expanded (``doc`` itself when it uses no blocks); raises
    SpecError for a spec that is invalid outside the blocks' layers or misuses a block."""
    data = doc.data
    model = data.get("model") if isinstance(data, dict) else None
    layers = model.get("layers") if isinstance(model, dict) else None
    uses = isinstance(layers, list) and any(isinstance(i, dict) and "block" in i for i in layers)
    if not uses and not (isinstance(data, dict) and "blocks" in data):
        return doc
    spec = validate_document(doc)  # the sections, the blocks' fields and the uses' fields
    return _Expander(doc, spec).run()


def _substitute(value: Any, params: dict[str, Any], count: list[int]) -> Any:
    """``value`` with every string ``$name`` of ``params`` replaced by a copy of its value;
    adds the number of values of the result to ``count[0]``."""
    if isinstance(value, str):
        match = PARAM.match(value)
        if match and match.group(1) in params:
            found = params[match.group(1)]
            if isinstance(found, dict | list):
                count[0] += _size(found)
                return copy.deepcopy(found)
            value = found
        count[0] += 1
        return value
    count[0] += 1
    if isinstance(value, dict):
        return {k: _substitute(v, params, count) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, params, count) for v in value]
    return value


def _size(value: Any) -> int:
    """How many values ``value`` holds, itself included."""
    if isinstance(value, dict):
        return 1 + sum(_size(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_size(v) for v in value)
    return 1


def _references(value: Any, path: Path_ = ()):
    """Every ``$name`` string in ``value``, with its path: ``(name, path)``."""
    if isinstance(value, str):
        match = PARAM.match(value)
        if match:
            yield match.group(1), path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _references(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _references(v, path + (i,))


def _default_name(kind: str, counts: dict[str, int], taken: set[str] | dict[str, Any]) -> str:
    """Keras-style automatic names, as modelgen.graph gives them: kind, kind_1, kind_2..."""
    while True:
        n = counts.get(kind, 0)
        counts[kind] = n + 1
        name = kind if n == 0 else f"{kind}_{n}"
        if name not in taken:
            return name


def _label(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Expander:
    """One expansion: the source document, its validated blocks and what it has produced."""

    def __init__(self, doc: LocatedDocument, spec: Spec) -> None:
        self.doc = doc
        self.blocks: dict[str, Block] = dict(spec.blocks)
        self.raw: dict[str, Any] = doc.data.get("blocks") or {}
        self.problems: dict[tuple[str, Location | None], Diagnostic] = {}
        self.out: list[dict[str, Any]] = []
        self.moved: dict[int, tuple[Path_, str]] = {}
        #: Every name in the model's namespace: model inputs, layers, uses -> what it is.
        self.owner: dict[str, str] = {}
        self.stack: list[str] = []  # the blocks being expanded, outermost first
        self.values = [0]  # values in the expanded items so far (see MAX_VALUES)
        self.uses: list[UseSummary] = []

    # ------------------------------------------------------------ reporting
    def where(self, path: Path_, context: str = "", key: bool = False) -> Location | None:
        location = self.doc.where(path, key=key)
        return replace(location, context=context) if location and context else location

    def error(
        self, message: str, path: Path_, hint: str | None = None, *, context: str = "", key=False
    ) -> None:
        location = self.where(path, context, key)
        # A block's definition is wrong the same way in each of its uses: say it once.
        plain = replace(location, context="") if location else None
        self.problems.setdefault((message, plain), Diagnostic(message, location, hint))

    def line(self, path: Path_) -> str:
        return f"line {self.doc.where(path).line}"

    # ------------------------------------------------------------ the run
    def run(self) -> ExpandedDocument:
        self._check_definitions()
        if self.problems:
            raise SpecError(self.problems.values())
        data = self.doc.data
        model = data["model"]
        for name in model["inputs"]:
            self.owner[name] = "a model input"
        items = [(item, MODEL_LAYERS + (i,)) for i, item in enumerate(model["layers"])]
        env: dict[str, str | None] = {name: name for name in model["inputs"]}
        only = list(model["inputs"]) if len(model["inputs"]) == 1 else None
        self._expand_list(items, prefix="", context="", env=env, first=only, block=None)
        if self.problems:
            raise SpecError(self.problems.values())
        new_model = dict(model, layers=self.out)
        output = model.get("output")
        if isinstance(output, str) and env.get(output):
            new_model["output"] = env[output]
        return ExpandedDocument(dict(data, model=new_model), self.doc, self.moved, self.uses)

    def _check_definitions(self) -> None:
        """What is wrong with a block whatever its use: a `$name` it does not declare, a use of
        an unknown block, a block that uses itself."""
        edges: dict[str, list[tuple[str, Path_]]] = {name: [] for name in self.blocks}
        for name, block in self.blocks.items():
            for k, item in enumerate(self.raw[name]["layers"]):
                path = ("blocks", name, "layers", k)
                for ref, sub in _references(item):
                    if ref not in block.params:
                        hint = did_you_mean(ref, block.params)
                        declared = (
                            f"its parameters: {', '.join(block.params)}"
                            if block.params
                            else "declare it under the block's `params:`"
                        )
                        self.error(
                            f"'${ref}' is not a parameter of block '{name}'",
                            path + sub,
                            (hint + " " if hint else "") + declared,
                        )
                used = item.get("block")
                if isinstance(used, str) and not PARAM.match(used):
                    if used in self.blocks:
                        edges[name].append((used, path + ("block",)))
                    else:
                        self._unknown_block(used, path + ("block",))
        reported: set[frozenset[str]] = set()

        def visit(name: str, trail: list[str]) -> None:
            for used, path in edges[name]:
                if len(trail) >= MAX_NESTING and used not in trail:
                    self.error(
                        f"blocks nest more than {MAX_NESTING} deep here "
                        f"({' -> '.join(trail[:3])} -> ... -> {used})",
                        path,
                        "use fewer levels of blocks inside blocks",
                    )
                elif used in trail:
                    cycle = trail[trail.index(used) :] + [used]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        through = " -> ".join(cycle)
                        self.error(
                            f"block '{used}' uses itself"
                            + (f" (through {through})" if len(cycle) > 2 else ""),
                            path,
                            "a block cannot contain itself, directly or through other blocks",
                        )
                elif used not in done:
                    visit(used, trail + [used])
            done.add(name)

        done: set[str] = set()
        for name in self.blocks:
            if name not in done:
                visit(name, [name])

    def _unknown_block(self, name: str, path: Path_, context: str = "") -> None:
        hint = did_you_mean(name, self.blocks)
        known = (
            "defined blocks: " + ", ".join(self.blocks)
            if self.blocks
            else "define it under `blocks:` at the top level"
        )
        self.error(
            f"unknown block '{name}'", path, (hint + " " if hint else "") + known, context=context
        )

    # ------------------------------------------------------------ one list of items
    def _expand_list(
        self,
        items: list[tuple[Any, Path_]],
        *,
        prefix: str,
        context: str,
        env: dict[str, str | None],
        first: list[str] | None,
        block: str | None,
    ) -> str | None:
        """Expand the items of the model (``block`` None) or of one instance of ``block``;
        ``env`` maps the names this list can take to the global names of their outputs (None
        until known). Returns the global name of the last item's output."""
        what = f" of block '{block}'" if block else ""
        named: list[str | None] = []
        uses: dict[int, list[str]] = {}  # item index -> its instance names
        local: set[str] = set(env)
        pattern = LOCAL_NAME if block else NAME
        for i, (item, path) in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if name is not None and (not isinstance(name, str) or not pattern.match(name)):
                self.error(
                    f"{_label(path + ('name',))}: {name!r} is not a valid name",
                    path + ("name",),
                    "a name in a block holds only letters, digits and '_' (64 at most)"
                    if block
                    else "a name starts with a letter and holds only letters, digits and '_'",
                    context=context,
                )
                name = None
            elif name is not None and name in local:
                first_at = "a block input" if block else "a model input"
                for j, (_, other_path) in enumerate(items[:i]):
                    if named[j] == name:
                        first_at = f"the item at {self.line(other_path)}"
                self.error(
                    f"name '{name}' is already used by {first_at}{what}",
                    path + ("name",),
                    "give every layer, block use and input its own name",
                    context=context,
                )
                name = None
            if name is not None:
                local.add(name)
            named.append(name)
        counts: dict[str, int] = {}
        for i, (item, _) in enumerate(items):
            if not isinstance(item, dict) or named[i] is not None:
                continue
            kind = item.get("block") if "block" in item else layer_kind_of(item)
            if isinstance(kind, str):
                named[i] = _default_name(kind, counts, local)
                local.add(named[i])
        for i, (item, _) in enumerate(items):
            if isinstance(item, dict) and "block" in item and named[i] is not None:
                uses[i] = self._instance_names(item.get("repeat"), named[i], local)
                local.update(uses[i])
        for i, name in enumerate(named):
            if name is not None:
                env[name] = None if i in uses else prefix + name
                for instance in uses.get(i, ()):
                    env[instance] = None

        pending: list[tuple[dict[str, Any], Any, Path_]] = []
        previous = first
        for i, (item, path) in enumerate(items):
            name = named[i]
            if not isinstance(item, dict):
                self._emit(item, path, context)  # the schema reports it
                previous = None
                continue
            if "block" in item:
                if block is None and name is not None:
                    for claimed in (name, *uses.get(i, ())):
                        self._own(claimed, path, context, f"the block use at {self.line(path)}")
                out = self._use(
                    item, path, name, uses.get(i, []), previous, context, env, prefix, i == 0
                )
                if name is not None:
                    env[name] = out or ""  # "": the use failed, already reported
                previous = [out] if out else None
                continue
            full = prefix + name if name is not None else None
            copied = dict(item)
            if full is not None:
                copied["name"] = full
                owner = f"layer '{name}' {context}" if block else f"the layer at {self.line(path)}"
                self._own(full, path, context, owner)
            if "inputs" in item:
                pending.append((copied, item["inputs"], path))
            elif previous is not None and (block or i > 0):
                copied["inputs"] = previous[0] if len(previous) == 1 else list(previous)
                if block and i == 0 and len(previous) > 1:
                    self.error(
                        f"layer '{name}'{what} must say which of the block inputs "
                        f"{list(env)[: len(previous)]} it takes",
                        path,
                        "add `inputs: [name, ...]` to it",
                        context=context,
                    )
            self._emit(copied, path, context)
            previous = [full] if full else None
        for copied, given, path in pending:
            copied["inputs"] = self._resolve(given, path, env, context, block)
        return previous[0] if previous else None

    def _instance_names(self, repeat: Any, name: str, taken: set[str]) -> list[str]:
        """The instances of a use: itself, or for ``repeat: n`` n names ``<name><i>``, numbered
        on after the highest ``<name><i>`` another item of the list is already called."""
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat <= 1:
            return []
        repeat = min(repeat, MAX_REPEAT)
        pattern = re.compile(re.escape(name) + r"([0-9]+)$")
        start = max((int(m.group(1)) for m in map(pattern.match, taken) if m), default=0) + 1
        return [f"{name}{start + k}" for k in range(repeat)]

    def _own(self, name: str, path: Path_, context: str, what: str) -> None:
        """Claim a global layer name, reporting a collision or a name too long."""
        if len(name) > 64:
            self.error(
                f"the layer name '{name[:40]}...' is longer than 64 characters",
                path,
                "use shorter block use or layer names",
                context=context,
            )
        elif name in self.owner:
            self.error(
                f"layer name '{name}' is already used by {self.owner[name]}",
                path,
                "rename the block use or the layer",
                context=context,
            )
        else:
            self.owner[name] = what

    def _emit(self, item: Any, path: Path_, context: str) -> None:
        if len(self.out) >= MAX_LAYERS:
            raise SpecError(
                [
                    Diagnostic(
                        f"the blocks expand to more than {MAX_LAYERS} layers",
                        self.where(path, context),
                        "use fewer repeats",
                    )
                ]
            )
        self.moved[len(self.out)] = (path, context)
        self.out.append(item)

    def _resolve(
        self, given: Any, path: Path_, env: dict[str, str | None], context: str, block: str | None
    ) -> Any:
        """A layer's ``inputs`` with every local name replaced by the global one."""
        names = [given] if isinstance(given, str) else given
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            if block:
                self.error(
                    f"{_label(path + ('inputs',))}: expected a name or a list of names",
                    path + ("inputs",),
                    context=context,
                )
            return given  # the schema reports it at the model level
        resolved = []
        for j, name in enumerate(names):
            sub = path + ("inputs",) + ((j,) if isinstance(given, list) else ())
            if env.get(name):
                resolved.append(env[name])
            elif env.get(name) == "":  # a block use that failed: already reported
                resolved.append(name)
            elif block and name not in env:
                local = [n for n in env if env[n] is not None]
                hint = did_you_mean(name, local) or f"names in the block: {', '.join(local)}"
                self.error(
                    f"input '{name}' is not defined in block '{block}'",
                    sub,
                    hint,
                    context=context,
                )
                resolved.append(name)
            elif name in env:  # a use that comes later in the list
                self.error(
                    f"'{name}' is a block use that comes later; a layer may take a block use "
                    "only after it",
                    sub,
                    "move the block use before this layer",
                    context=context,
                )
                resolved.append(name)
            else:
                resolved.append(name)  # lowering checks the model's names
        return resolved[0] if isinstance(given, str) else resolved

    # ------------------------------------------------------------ one use
    def _use(
        self,
        item: dict[str, Any],
        path: Path_,
        name: str | None,
        instances: list[str],
        previous: list[str] | None,
        context: str,
        env: dict[str, str | None],
        prefix: str,
        first_item: bool,
    ) -> str | None:
        """Expand one ``block:`` item; returns the global name of its output."""
        try:  # (its name and inputs are local names, checked by the list and by _resolve)
            use = BlockUse.model_validate({k: v for k, v in item.items() if k not in LOCAL_KEYS})
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                sub = path + tuple(error["loc"])
                message = error["msg"][0].lower() + error["msg"][1:]
                if error["type"] == "extra_forbidden":
                    message = f"unknown field '{error['loc'][-1]}' of a block use"
                    hint = "allowed: block, name, inputs, with, repeat"
                    self.error(f"{_label(path)}: {message}", sub, hint, context=context, key=True)
                else:
                    value = error.get("input")
                    if not isinstance(value, dict | list) and error["type"] != "missing":
                        message += f", got {value!r}"
                    self.error(f"{_label(sub)}: {message}", sub, context=context)
            return None
        if use.block not in self.blocks:
            self._unknown_block(use.block, path + ("block",), context)
            return None
        block = self.blocks[use.block]
        params = dict(block.params)
        for key, value in use.with_.items():
            if key not in block.params:
                hint = did_you_mean(key, block.params)
                known = (
                    "its parameters: " + ", ".join(block.params)
                    if block.params
                    else "it takes no parameters"
                )
                self.error(
                    f"block '{use.block}' has no parameter '{key}'",
                    path + ("with", key),
                    (hint + " " if hint else "") + known,
                    context=context,
                    key=True,
                )
            params[key] = value
        missing = [p for p, v in block.params.items() if v is None and p not in use.with_]
        for param in missing:
            self.error(
                f"block '{use.block}' needs parameter '{param}' (it has no default)",
                path,
                f"add `with: {{{param}: VALUE}}` to the use",
                context=context,
            )
        given = item.get("inputs")
        where_inputs = path + (("inputs",) if given is not None else ())
        if given is not None:
            block_name = self.stack[-1] if self.stack else None
            sources = self._resolve(given, path, env, context, block_name)
            sources = [sources] if isinstance(sources, str) else sources
            if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
                return None  # reported by _resolve
        elif previous is not None:
            sources = previous
        elif not first_item:
            return None  # the item before it failed, and was reported
        else:
            model_inputs = list(self.doc.data["model"]["inputs"])
            self.error(
                f"block use '{name}' must say which of the inputs {model_inputs} it takes",
                path,
                "add `inputs: [name, ...]` to it",
                context=context,
            )
            return None
        want = len(block.inputs)
        if len(sources) != want:
            self.error(
                f"block '{use.block}' takes {want} input(s) ({', '.join(block.inputs)}), "
                f"its use '{name}' gives {len(sources)}",
                where_inputs,
                "list one input per block input with `inputs: [a, b]`",
                context=context,
            )
            return None
        if use.repeat > 1 and want != 1:
            self.error(
                f"block '{use.block}' takes {want} inputs, so its instances cannot be chained "
                "with repeat",
                path + ("repeat",),
                "repeat a block that takes one input",
                context=context,
            )
            return None
        if use.block in self.stack:
            self.error(f"block '{use.block}' uses itself", path + ("block",), context=context)
            return None
        if len(self.stack) >= MAX_NESTING:  # reached only through `block: $param` names
            self.error(
                f"blocks nest more than {MAX_NESTING} deep",
                path + ("block",),
                "use fewer levels of blocks inside blocks",
                context=context,
            )
            return None
        if missing:
            return None
        here = str(replace(self.doc.where(path), context=""))
        inner = f"in block '{use.block}' used at {here}" + (f", {context}" if context else "")
        out: str | None = None
        for instance in instances or [name]:
            start = len(self.out)
            out = self._instance(use.block, params, prefix + instance + "_", sources, inner)
            if not self.stack:
                line = self.doc.where(path).line
                names = tuple(item.get("name", "") for item in self.out[start:])
                self.uses.append(UseSummary(instance, use.block, line, names))
            if instance != name:
                env[instance] = out or ""
            if out is None:
                return None
            sources = [out]
        return out

    def _instance(
        self, name: str, params: dict[str, Any], prefix: str, sources: list[str], context: str
    ) -> str | None:
        """Expand one instance of block ``name``; returns the global name of its output."""
        block = self.blocks[name]
        self.stack.append(name)
        try:
            items = [
                (_substitute(item, params, self.values), ("blocks", name, "layers", k))
                for k, item in enumerate(self.raw[name]["layers"])
            ]
            if self.values[0] > MAX_VALUES:
                raise SpecError(
                    [
                        Diagnostic(
                            f"the blocks expand to more than {MAX_VALUES} values",
                            self.where(("blocks", name), context),
                            "use fewer repeats or shorter parameter lists",
                        )
                    ]
                )
            env: dict[str, str | None] = dict(zip(block.inputs, sources))
            last = self._expand_list(
                items, prefix=prefix, context=context, env=env, first=sources, block=name
            )
        finally:
            self.stack.pop()
        if block.output is None:
            return last
        if block.output in block.inputs or block.output not in env:
            local = [n for n in env if n not in block.inputs]
            self.error(
                f"the output '{block.output}' of block '{name}' is not one of its layers",
                ("blocks", name, "output"),
                did_you_mean(block.output, local) or f"its layers: {', '.join(local)}",
                context=context,
            )
            return None
        return env[block.output]
