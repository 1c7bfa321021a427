"""The rewrite engine: rules as data, named rule sets that combine, a fixpoint with a loop guard."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import RewriteLoopError
from ..labels import Labelling
from ..nodes import Kind, Node
from ..registry import get_algebra


@dataclass
class Context:
    """What rules may consult besides the node: the labelling's declared properties, budgets."""

    labelling: Labelling = field(default_factory=Labelling)
    max_vars: int = 16  # largest Boolean sub-formula expanded or checked by enumeration
    #: An extra decision procedure for "never true together" of two Boolean formulas (True,
    #: False, or None for unknown), e.g. a knowledge compiler's: consulted when the cheap checks
    #: cannot decide, before enumeration.
    exclusive: Callable[[Node, Node], bool | None] | None = None
    #: A whole-node check that the operands of a Boolean (+) are pairwise exclusive, in one
    #: go (e.g. a knowledge compiler's, linear in the operands); None falls back to pairs.
    deterministic: Callable[[Node], bool | None] | None = None
    #: Label slots whose value is fixed whatever the labelling says later, e.g. the false
    #: alternative of a choice, weighed one: the atom ``a(args)[false]@S`` -> its constant node.
    #: Rules write the constant in its place, so that neutral and absorbing elements fold it.
    fixed: Mapping[Node, Node] = field(default_factory=dict)
    #: Work rules share across their applications under this context (each rule keys its own
    #: entries), so that a rule applied at many roots of one DAG handles each shared node once.
    #: Valid while the other fields stay as they are.
    memo: dict = field(default_factory=dict)

    def is_deterministic(self, node: Node) -> bool | None:
        """Whether the operands of the Boolean (+) ``node`` never hold together (None: unknown)."""
        from ..properties import deterministic

        if self.deterministic is not None and (answer := self.deterministic(node)) is not None:
            return answer
        return deterministic(node, self.max_vars, self.exclusive)

    def normalised(self, predicate: str, structure: str) -> bool:
        return self.labelling.normalised(predicate, structure)


@dataclass(frozen=True)
class Rule:
    """``fn(node, ctx)`` returns the replacement of a matching node, or None.

    A rule matches nodes of ``kind`` (and ``role``, for applications and aggregations) whose
    structure declares every law in ``requires``; ``{role}`` in a law stands for the node's role.
    ``doc`` is the rewrite in one line, ``lhs -> rhs``. Rules are tried after the node's children
    are rewritten, except those marked ``before_children``, which see the node as it came.
    """

    name: str
    kind: Kind
    fn: Callable[[Node, Context], Node | None]
    role: str | None = None
    requires: tuple[str, ...] = ()
    doc: str = ""
    before_children: bool = False  # try it before the children are rewritten (top-down)

    def applies(self, node: Node) -> bool:
        if self.role is not None and node.role != self.role:
            return False
        laws = [law.format(role=node.role) for law in self.requires]
        return get_algebra(node.structure).has(*laws)


@dataclass(frozen=True)
class RuleSet:
    """A named, ordered collection of rules; ``a + b`` combines two sets (first wins on names)."""

    name: str
    rules: tuple[Rule, ...]

    def __add__(self, other: RuleSet) -> RuleSet:
        names = {r.name for r in self.rules}
        extra = tuple(r for r in other.rules if r.name not in names)
        return RuleSet(f"{self.name}+{other.name}", self.rules + extra)

    def by_kind(self) -> dict[Kind, tuple[Rule, ...]]:
        table: dict[Kind, list[Rule]] = {}
        for r in self.rules:
            table.setdefault(r.kind, []).append(r)
        return {k: tuple(v) for k, v in table.items()}


def rewrite(
    roots: Node | Iterable[Node],
    rules: RuleSet,
    ctx: Context | None = None,
    max_steps: int = 5_000_000,
) -> Node | tuple[Node, ...]:
    """Rewrite bottom-up to a fixpoint: no rule of ``rules`` applies anywhere in the result.

    Shared nodes are rewritten once. A rule that brings a node back to an earlier form, or more
    than ``max_steps`` rule applications, raise :class:`RewriteLoopError` naming the rule.
    """
    ctx = ctx or Context()
    table = rules.by_kind()
    # (kind, structure, role, before_children) -> the rules that may match: laws checked once
    candidates: dict[tuple, tuple[Rule, ...]] = {}
    memo: dict[Node, Node] = {}
    active: dict[Node, str] = {}  # nodes being normalised -> the rule that moved them
    steps = 0

    def first_match(node: Node, before_children: bool) -> tuple[Rule, Node] | None:
        key = (node.kind, node.structure, node.role, before_children)
        found = candidates.get(key)
        if found is None:
            found = candidates[key] = tuple(
                r
                for r in table.get(node.kind, ())
                if r.before_children == before_children and r.applies(node)
            )
        for rule in found:
            out = rule.fn(node, ctx)
            if out is not None and out is not node:
                return rule, out
        return None

    def normal(node: Node) -> Node:
        nonlocal steps
        done = memo.get(node)
        if done is not None:
            return done
        if node in active:
            raise RewriteLoopError(
                f"rule {active[node]!r} rewrote a node back into an earlier form: {node}"
            )
        active[node] = ""
        match = first_match(node, True)
        if match is None:
            current = node.with_children(normal(c) for c in node.children)
            match = first_match(current, False)
        else:
            current = node
        if match is not None:
            rule, out = match
            steps += 1
            if steps > max_steps:
                raise RewriteLoopError(f"more than {max_steps} rewrites; last rule: {rule.name}")
            moved = current
            active[node] = active[moved] = rule.name
            current = normal(out)
            active.pop(moved, None)
        active.pop(node, None)
        memo[node] = current
        memo[current] = current
        return current

    single = isinstance(roots, Node)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 50_000))
    try:
        result = tuple(normal(r) for r in ([roots] if single else roots))
    finally:
        sys.setrecursionlimit(limit)
    return result[0] if single else result
