"""JSON documents of nodes and circuits: ``{"format": "nesy-ir", "version": 1, "type": "node"|
"nodes"|"circuit", "roots": [ids], "names": [...] (circuit), "nodes": [...] (children first)}``.
Nodes are rebuilt by the validating constructors: a corrupted file raises a NesyError naming the
node (and file). Interned, ``loads(dumps(f)) is f``; lists and tuples of nodes load as lists."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from .circuit import Circuit
from .errors import CircuitError, FormatVersionError, NesyError, StructureMismatchError
from .nodes import Kind, Node, aggregate, apply, atom, const, transform
from .registry import get_algebra
from .terms import BOOL_DOMAIN, TensorConst, Term, Var
from .textfile import read_text
from .traverse import postorder

FORMAT = "nesy-ir"
FORMAT_VERSION = 1
_KINDS = tuple(k.value for k in Kind)
_NOT_IDS = (list, dict, bool, float)  # JSON values that cannot be ids (true == 1.0 == 1 in a dict)


class SerializationError(NesyError, ValueError):
    """Malformed content: not JSON, a missing field, an unknown kind, a child that is not there."""


def _node_json(node: Node, index: Mapping[int, int]) -> dict:
    def _term_json(t: Term) -> Any:
        key = "var" if isinstance(t, Var) else "tensor" if isinstance(t, TensorConst) else None
        return {key: t.name} if key else t

    kind, arg = node.kind, node.arg
    out: dict[str, Any] = {"id": index[id(node)], "kind": kind.value, "structure": node.structure}
    if kind is Kind.ATOM:
        rvar = _term_json(arg.rvar) if isinstance(arg.rvar, Var) else arg.rvar
        out.update(predicate=arg.predicate, args=[_term_json(t) for t in arg.args], rvar=rvar)
    elif kind is Kind.CONST:
        out["value"] = arg if isinstance(arg, bool) or math.isfinite(arg) else str(arg)
    elif kind is Kind.AGG:
        domain = arg.domain if arg.domain == BOOL_DOMAIN else [_term_json(v) for v in arg.domain]
        out.update(role=arg.role, var=arg.var, domain=domain)
    else:
        out["role" if kind is Kind.APPLY else "source"] = arg
    if node.children:
        out["children"] = [index[id(c)] for c in node.children]
    return out


def split(obj: Any) -> tuple[str, tuple[Node, ...], list[str] | None]:
    """(document type, roots, names or None) of a Node, a list/tuple of Nodes or a Circuit."""
    if isinstance(obj, Node):
        return "node", (obj,), None
    if isinstance(obj, Circuit):
        return "circuit", obj.roots, list(obj.names)
    if isinstance(obj, (list, tuple)) and all(isinstance(n, Node) for n in obj):
        return "nodes", tuple(obj), None
    raise TypeError(f"cannot serialise {type(obj).__name__}: expected a Node, Nodes or a Circuit")


def to_json(obj: Any) -> dict:
    """The JSON document (plain dicts and lists) of a Node, a list of Nodes or a Circuit."""
    kind, roots, names = split(obj)
    order = postorder(roots)
    index = {id(n): i for i, n in enumerate(order)}
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "type": kind}
    doc |= {"roots": [index[id(r)] for r in roots]} | ({} if names is None else {"names": names})
    return doc | {"nodes": [_node_json(n, index) for n in order]}


def dumps(obj: Any) -> str:
    """The document of ``obj`` as JSON text, one node per line."""
    doc = to_json(obj)
    body = ",".join("\n " + json.dumps(n, allow_nan=False) for n in doc.pop("nodes"))
    return json.dumps(doc)[:-1] + ', "nodes": [' + (body and body + "\n") + "]}\n"


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` to ``path`` atomically: an existing file is replaced once all is written."""
    text, path = dumps(obj), os.fspath(path)  # fails before any file is touched
    folder, base = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {  # name: (test, what it wants)
    "str": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "int": (lambda v: type(v) is int, "an integer"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "num": (lambda v: v in ("inf", "-inf") or type(v) in (int, float), "a number, 'inf' or '-inf'"),
    "domain": (lambda v: v == BOOL_DOMAIN or isinstance(v, list), "'bool' or a list of constants"),
    "kind": (lambda v: v in _KINDS, "one of " + ", ".join(_KINDS)),
    "version": (lambda v: type(v) is int and v > 0, "a positive integer"),
}


def _get(entry: Mapping, key: str, where: str, check: str = "str") -> Any:
    if key not in entry:
        raise SerializationError(f"{where}: missing field {key!r}")
    if not _CHECKS[check][0](value := entry[key]):
        raise SerializationError(f"{where}: {key!r} must be {_CHECKS[check][1]}, not {value!r}")
    return value


def _term(t: Any, where: str) -> Term:
    if isinstance(t, dict) and len(t) == 1 and _CHECKS["str"][0](t.get("var", t.get("tensor"))):
        return Var(t["var"]) if "var" in t else TensorConst(t["tensor"])
    if type(t) in (str, int):
        return t
    raise SerializationError(
        f"{where}: bad argument {t!r} (expected a string, an integer,"
        " {'var': name} or {'tensor': name})"
    )


def _prefixed(e: NesyError, prefix: str) -> NesyError:
    same = type(e).__init__ is Exception.__init__  # else it may not take a message alone
    return (type(e) if same else SerializationError)(f"{prefix}: {e}")


def _build(entry: Mapping, nid: Hashable, kids: list[Node]) -> Node:
    where, kind = f"node {nid}", Kind(entry["kind"])
    structure = _get(entry, "structure", where)
    try:
        boolean = get_algebra(structure).carrier.boolean
        if kind is Kind.ATOM:
            rvar = _term(r, where) if isinstance(r := entry.get("rvar"), dict) else r
            if not isinstance(rvar, (Var, bool, type(None))):
                raise SerializationError(f"{where}: bad reification {rvar!r}")
            args = [_term(t, where) for t in _get(entry, "args", where, "list")]
            node = atom(_get(entry, "predicate", where), args, structure, rvar)
        elif kind is Kind.CONST:
            value = _get(entry, "value", where, "bool" if boolean else "num")
            node = const(value if boolean else float(value), structure)
        elif kind is Kind.APPLY:
            node = apply(_get(entry, "role", where), *kids)
        elif kind is Kind.AGG:
            if (domain := _get(entry, "domain", where, "domain")) != BOOL_DOMAIN:
                domain = [_term(v, where) for v in domain]
            node = aggregate(_get(entry, "role", where), _get(entry, "var", where), domain, kids[0])
        elif (source := _get(entry, "source", where)) != kids[0].structure:
            raise StructureMismatchError(
                f"transformation from {source!r} applied to a child"
                f" of structure {kids[0].structure!r}"
            )
        else:
            node = transform(kids[0], structure)
    except SerializationError:
        raise
    except NesyError as e:
        raise _prefixed(e, where) from None
    except (TypeError, ValueError, OverflowError) as e:
        raise SerializationError(f"{where}: {e}") from None
    if node.structure != structure:
        raise StructureMismatchError(
            f"{where}: declared of structure {structure!r} but its"
            f" children are of structure {node.structure!r}"
        )
    return node


def decode(kind: Any, entries: Mapping[Hashable, Any], roots: Any, names: Any = None) -> Any:
    """The object of a document of type ``kind``, its nodes ``entries`` (id -> entry) any order."""
    if kind not in ("node", "nodes", "circuit"):
        raise SerializationError(f"unknown document type {kind!r} (node, nodes or circuit)")
    if not isinstance(roots, list) or any(isinstance(r, _NOT_IDS) for r in roots):
        raise SerializationError(f"'roots' must be a list of node ids, not {roots!r}")
    if missing := [r for r in roots if r not in entries]:
        raise SerializationError(f"root {missing[0]!r} does not exist")
    if kind == "node" and len(roots) != 1:
        raise SerializationError(f"a document of type 'node' has one root, not {len(roots)}")
    if kind == "circuit" and not (isinstance(names, list) and all(type(n) is str for n in names)):
        raise SerializationError(f"'names' must be a list of strings, not {names!r}")
    children = {}
    for nid, entry in entries.items():
        nkind, kids = _get(entry, "kind", f"node {nid}", "kind"), entry.get("children", [])
        want = {"atom": "no", "const": "no", "agg": "one", "transform": "one"}.get(nkind, "some")
        ok = isinstance(kids, list) and {"no": not kids, "one": len(kids) == 1, "some": bool(kids)}
        if not ok or not ok[want]:
            raise SerializationError(f"node {nid}: a {nkind} node takes {want} children: {kids!r}")
        children[nid] = kids
    built: dict[Hashable, Node | None] = {}  # None while on the path of the depth-first search
    for start in children:
        if start in built:
            continue
        built[start], stack = None, [(start, iter(children[start]))]
        while stack:  # iterative: deep graphs do not overflow the stack
            nid, it = stack[-1]
            for c in it:
                if isinstance(c, _NOT_IDS) or c not in children:
                    raise SerializationError(f"node {nid}: child {c!r} does not exist")
                if c in built and built[c] is None:
                    path = [n for n, _ in stack]
                    cycle = " -> ".join(str(n) for n in path[path.index(c) :] + [c])
                    raise CircuitError(f"cyclic circuit: node {cycle}")
                if c not in built:
                    built[c] = None
                    stack.append((c, iter(children[c])))
                    break
            else:
                stack.pop()
                built[nid] = _build(entries[nid], nid, [built[c] for c in children[nid]])
    nodes = [built[r] for r in roots]
    return nodes[0] if kind == "node" else nodes if kind == "nodes" else Circuit(nodes, names)


def from_json(data: Any) -> Any:
    """The Node, list of Nodes or Circuit of a JSON document (see :func:`to_json`)."""
    if (found := data.get("format") if isinstance(data, dict) else type(data).__name__) != FORMAT:
        raise SerializationError(f"not a nesy-ir document (format {found!r}, expected {FORMAT!r})")
    if (version := _get(data, "version", "document", "version")) > FORMAT_VERSION:
        raise FormatVersionError(
            f"file written by nesy-ir format version {version}; this nesy-ir"
            f" reads up to version {FORMAT_VERSION}: upgrade nesy-ir"
        )
    entries: dict[int, dict] = {}
    for i, entry in enumerate(_get(data, "nodes", "document", "list")):
        if not isinstance(entry, dict):
            raise SerializationError(f"nodes[{i}] must be an object, not {entry!r}")
        if (nid := _get(entry, "id", f"nodes[{i}]", "int")) in entries:
            raise SerializationError(f"node {nid}: duplicate id")
        entries[nid] = entry
    return decode(data.get("type"), entries, data.get("roots"), data.get("names"))


def loads(text: str | bytes) -> Any:
    """The Node, list of Nodes or Circuit written in ``text`` by :func:`dumps`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise SerializationError(f"not valid JSON: {e}") from None
    return from_json(data)


def load(path: str | os.PathLike) -> Any:
    """The Node, list of Nodes or Circuit saved in ``path``; errors name the file."""
    text = read_text(path := os.fspath(path))  # its errors name the file already
    try:
        return loads(text)
    except NesyError as e:
        raise _prefixed(e, path) from None
