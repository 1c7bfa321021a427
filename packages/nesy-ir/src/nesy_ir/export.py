"""Graph views of nodes and circuits: networkx DiGraphs (both ways) and Graphviz DOT text.

Both number the nodes 0, 1, ... children first, as the JSON documents of :mod:`nesy_ir.serialize`
do. networkx is an optional dependency (the extra ``nesy-ir[graph]``), imported on use; the DOT
text needs no Graphviz package.
"""

from __future__ import annotations

from typing import Any

from .errors import UnknownOperationError
from .install import install_hint
from .nodes import Kind, Node
from .registry import get_algebra
from .serialize import SerializationError, decode, split, to_json
from .terms import TensorConst
from .traverse import postorder

__all__ = ["from_networkx", "label", "to_dot", "to_networkx"]

_SYMBOLS = {"plus": "+", "times": "*", "neg": "~"}


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    return f"tensor({v.name})" if isinstance(v, TensorConst) else str(v)


def _fallback_text(node: Node) -> str:
    """The text of an atom or a constant, should :mod:`nesy_ir.syntax` be missing."""
    arg = node.arg
    if node.kind is Kind.CONST:
        return f"{_show(arg)}@{node.structure}"
    text = arg.predicate + (f"({', '.join(_show(t) for t in arg.args)})" if arg.args else "")
    return text + ("" if arg.rvar is None else f"[{_show(arg.rvar)}]") + f"@{node.structure}"


def _leaf_text(node: Node) -> str:
    try:
        from .syntax import to_text
    except ImportError:
        return _fallback_text(node)
    return to_text(node)


def label(node: Node) -> str:
    """A short label: the operation symbol (+, *, ~, tau[a->b], sum X) or the leaf's text."""
    if node.kind is Kind.APPLY:
        return _SYMBOLS.get(node.arg, node.arg)
    if node.kind is Kind.TRANSFORM:
        return f"tau[{node.arg}->{node.structure}]"
    if node.kind is Kind.AGG:
        try:
            name = get_algebra(node.structure).aggregator_name(node.arg.role)
        except UnknownOperationError:
            name = node.arg.role
        return f"{name} {node.arg.var}"
    return _leaf_text(node)


def to_networkx(obj: Any):
    """A ``networkx.DiGraph`` of a Node, a list of Nodes or a Circuit.

    Nodes are keyed by their ids (children first) with the attributes kind, structure, label and
    the fields of their JSON form (predicate, args, rvar, value, role, var, domain, source); each
    edge parent -> child has its ``position`` among the children (``positions``: all of them, for
    a child that occurs more than once). Graph attributes: ``type`` ("node", "nodes", "circuit"),
    ``roots`` (ids) and ``names`` (the root names of a circuit, else None).
    """
    try:
        import networkx as nx
    except ImportError:
        raise ImportError(f"networkx is needed: {install_hint('nesy-ir[graph]')}") from None
    doc = to_json(obj)
    _, roots, _ = split(obj)
    graph = nx.DiGraph(type=doc["type"], roots=doc["roots"], names=doc.get("names"))
    for node, entry in zip(postorder(roots), doc["nodes"], strict=True):
        nid, children = entry.pop("id"), entry.pop("children", [])
        graph.add_node(nid, **entry, label=label(node))
        for position, child in enumerate(children):
            if graph.has_edge(nid, child):
                graph.edges[nid, child]["positions"].append(position)
            else:
                graph.add_edge(nid, child, position=position, positions=[position])
    return graph


def from_networkx(graph: Any) -> Any:
    """The Node, list of Nodes or Circuit of a graph made by :func:`to_networkx` (or alike).

    Nodes are rebuilt with the validating constructors: a graph round-trips to the identical
    nodes; a cycle is a :class:`CircuitError`, a malformed node a :class:`NesyError` naming it.
    Without a ``roots`` graph attribute the roots are the nodes without parents.
    """
    entries = {}
    for key, attrs in graph.nodes(data=True):
        slots: dict[int, Any] = {}
        for _, child, data in graph.out_edges(key, data=True):
            for p in data.get("positions", [data.get("position")]):
                if type(p) is not int or p in slots:
                    raise SerializationError(f"node {key}: edge to {child} has position {p!r}")
                slots[p] = child
        if sorted(slots) != list(range(len(slots))):
            raise SerializationError(f"node {key}: child positions {sorted(slots)} have gaps")
        entries[key] = {**attrs, "children": [slots[p] for p in range(len(slots))]}
    roots = graph.graph.get("roots")
    roots = [n for n in graph if graph.in_degree(n) == 0] if roots is None else list(roots)
    names = graph.graph.get("names")
    names = None if names is None else list(names)
    kind = graph.graph.get("type") or (
        "circuit" if names is not None else "node" if len(roots) == 1 else "nodes"
    )
    return decode(kind, entries, roots, names)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(obj: Any, name: str = "nesy_ir") -> str:
    """Graphviz DOT text: one line per node (ovals for leaves, boxes for operations, root names
    as ``xlabel``) and one line per edge parent -> child, children in order."""
    _, roots, names = split(obj)
    order = postorder(roots)
    index = {id(n): i for i, n in enumerate(order)}
    root_names: dict[int, list[str]] = {}
    for root, root_name in zip(roots, names or [], strict=False):
        root_names.setdefault(index[id(root)], []).append(root_name)
    lines = [f"digraph {_quote(name)} {{"]
    for i, node in enumerate(order):
        shape = "oval" if node.kind in (Kind.ATOM, Kind.CONST) else "box"
        xlabel = f", xlabel={_quote(', '.join(root_names[i]))}" if i in root_names else ""
        lines.append(f"  n{i} [shape={shape}, label={_quote(label(node))}{xlabel}];")
    for i, node in enumerate(order):
        lines.extend(f"  n{i} -> n{index[id(c)]};" for c in node.children)
    return "\n".join(lines + ["}"]) + "\n"
