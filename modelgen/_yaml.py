"""Safe YAML loading that keeps the line and column of every node.

The loader reads one document with YAML 1.2 core-schema scalars (``true``/``false`` only are
booleans, ``1e-3`` is a float), refuses duplicate keys, non-string keys and several documents,
and bounds the expansion of aliases and the nesting depth so hostile input fails fast.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelgen._files import file_kind
from modelgen.errors import Diagnostic, Location, SpecError

__all__ = [
    "LocatedDocument",
    "load_yaml",
    "load_yaml_file",
    "MAX_NODES",
    "MAX_DEPTH",
    "MAX_BYTES",
]

MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_BYTES = 2_000_000

Path_ = tuple[str | int, ...]


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when available


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader with YAML 1.2 core-schema booleans, nulls, ints and floats."""


_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", "-+0123456789"),
    ("tag:yaml.org,2002:int", r"^0o[0-7]+$|^0x[0-9a-fA-F]+$", "0"),
    (
        "tag:yaml.org,2002:float",
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"
        r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$",
        "-+0123456789.",
    ),
]:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node)
    text = str(value).replace("_", "")
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


@dataclass
class LocatedDocument:
    """Plain Python data plus the location of every value and mapping key, keyed by path."""

    data: Any
    file: str
    values: dict[Path_, Location] = field(default_factory=dict)
    keys: dict[Path_, Location] = field(default_factory=dict)

    def where(self, path: Path_, *, key: bool = False) -> Location | None:
        """Location of ``path`` (its key if ``key``), else of its nearest located parent."""
        path = tuple(path)
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), Location(self.file, 1, 1))

    def origin(self, path: Path_) -> Path_:
        """The path in the file that the value at ``path`` was written at: ``path`` itself,
        except in a document whose blocks were expanded (see ``modelgen.blocks``)."""
        return tuple(path)


def _loc(file: str, mark: yaml.Mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def load_yaml(text: str, file: str = "<string>") -> LocatedDocument:
    """Parse ``text`` as a single YAML mapping document, keeping every node's location."""
    if len(text) > MAX_BYTES:
        raise SpecError(
            [Diagnostic(f"file is larger than {MAX_BYTES} bytes", Location(file, 1, 1))]
        )
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.composer.ComposerError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "expected a single document" in str(exc):
            raise SpecError(
                [
                    Diagnostic(
                        "the file holds several YAML documents; a spec is one document",
                        _loc(file, mark) if mark else None,
                        "remove the '---' separators and keep one spec per file",
                    )
                ]
            ) from None
        raise _yaml_error(exc, file, text) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, text) from None
    finally:
        loader.dispose()
    if root is None:
        raise SpecError(
            [Diagnostic("the spec is empty", Location(file, 1, 1), "start from `modelgen new`")]
        )
    doc = LocatedDocument(data=None, file=file)
    budget = [MAX_NODES]
    doc.data = _convert(root, (), doc, loader, budget, 0)
    if not isinstance(doc.data, dict):
        raise SpecError(
            [
                Diagnostic(
                    f"the spec must be a mapping of sections, found {_kind(doc.data)}",
                    doc.values[()],
                    "start with `name:`, `data:`, `model:` and `train:` at the top level",
                )
            ]
        )
    return doc


def _read_spec_bytes(path: Path) -> bytes:
    """At most ``MAX_BYTES`` of a regular file. Anything else (a FIFO, a device such as
    ``/dev/zero``, a socket, a folder) is refused from its ``stat`` before it is opened, and the
    file is opened non-blocking, so nothing can make this wait or read without end."""
    name = str(path)

    def fail(message: str, hint: str | None = None) -> SpecError:
        return SpecError([Diagnostic(message, None, hint)])

    try:
        info = os.stat(path)
    except ValueError:  # an embedded NUL byte
        raise fail(f"invalid file name {name!r}") from None
    except OSError as exc:
        raise _os_error(exc, path) from None
    if stat.S_ISDIR(info.st_mode):
        raise fail(f"{name} is a directory, not a spec file")
    if not stat.S_ISREG(info.st_mode):
        raise fail(
            f"{name} is {file_kind(info.st_mode)}, not a regular file; "
            "modelgen reads a spec only from a file",
            "save the spec to a file and give its path",
        )
    if info.st_size > MAX_BYTES:
        raise _too_large(name, info.st_size)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _os_error(exc, path) from None
    try:
        info = os.fstat(fd)  # what was opened, should the path have changed since the stat
        if not stat.S_ISREG(info.st_mode):
            raise fail(f"{name} is {file_kind(info.st_mode)}, not a regular file")
        chunks: list[bytes] = []
        left = MAX_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise _os_error(exc, path) from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > MAX_BYTES:  # it grew after the stat, or its size is not known in advance
        raise _too_large(name, None)
    return raw


def _too_large(name: str, size: int | None) -> SpecError:
    given = f" ({size} bytes)" if size is not None else ""
    return SpecError(
        [Diagnostic(f"file is larger than {MAX_BYTES} bytes{given}", Location(name, 1, 1))]
    )


def _os_error(exc: OSError, path: Path) -> SpecError:
    name = str(path)
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            target = os.readlink(path)
            return SpecError(
                [Diagnostic(f"{name} is a symbolic link to {target}, which does not exist")]
            )
        return SpecError([Diagnostic(f"no such file: {name}")])
    messages = {
        errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
        errno.ENAMETOOLONG: "the file name is too long",
        errno.ENOTDIR: "a part of the path is not a folder",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EISDIR: "it is a directory, not a spec file",
    }
    reason = messages.get(exc.errno or 0, exc.strerror or str(exc))
    shown = name if len(name) <= 200 else name[:100] + "..." + name[-40:]
    return SpecError([Diagnostic(f"cannot read {shown}: {reason}")])


def load_yaml_file(path: str | Path) -> LocatedDocument:
    """Read and parse a spec file; unreadable, oversized, non-regular or non-UTF-8 files are
    spec errors."""
    path = Path(path)
    name = str(path)
    raw = _read_spec_bytes(path)
    if b"\x00" in raw:
        raise SpecError(
            [Diagnostic("the file is binary (it holds NUL bytes), not YAML", Location(name, 1, 1))]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            [
                Diagnostic(
                    f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                    Location(name, line, column),
                    "save the spec as UTF-8",
                )
            ]
        ) from None
    return load_yaml(text.removeprefix("\ufeff"), name)


def _yaml_error(exc: yaml.YAMLError, file: str, text: str = "") -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    hint = None
    lines = text.splitlines()
    if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line]:
        hint = "indent with spaces; YAML does not allow tabs"
    return SpecError([Diagnostic(message, _loc(file, mark) if mark else None, hint)])


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _convert(
    node: yaml.Node,
    path: Path_,
    doc: LocatedDocument,
    loader: _Loader,
    budget: list[int],
    depth: int,
) -> Any:
    here = _loc(doc.file, node.start_mark)
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError(
            [
                Diagnostic(
                    f"the document expands to more than {MAX_NODES} nodes "
                    "(an alias bomb, or a spec far too large)",
                    here,
                    "use fewer YAML aliases (*name)",
                )
            ]
        )
    if depth > MAX_DEPTH:
        raise SpecError([Diagnostic(f"the document is nested more than {MAX_DEPTH} levels", here)])
    doc.values[path] = here
    standard = {
        yaml.MappingNode: "tag:yaml.org,2002:map",
        yaml.SequenceNode: "tag:yaml.org,2002:seq",
    }
    if type(node) in standard and node.tag != standard[type(node)]:
        raise SpecError([Diagnostic(f"unsupported YAML tag {node.tag}", here, "remove the tag")])
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_loc = _loc(doc.file, key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise SpecError(
                    [Diagnostic("mapping keys must be plain names", key_loc, "quote the key")]
                )
            key = key_node.value
            if key in result:
                first = doc.keys[path + (key,)]
                raise SpecError(
                    [
                        Diagnostic(
                            f"duplicate key '{key}' (first given at line {first.line})",
                            key_loc,
                            "give each key once",
                        )
                    ]
                )
            doc.keys[path + (key,)] = key_loc
            result[key] = _convert(value_node, path + (key,), doc, loader, budget, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, path + (i,), doc, loader, budget, depth + 1)
            for i, item in enumerate(node.value)
        ]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, doc.file) from None
