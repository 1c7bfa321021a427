"""Named rule sets, the default optimisation pipeline, and lowering formulas to circuits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points

from ..circuit import Circuit
from ..labels import Labelling
from ..nodes import Kind, Node
from ..traverse import postorder
from .aggregation import AGGREGATE, EXPAND
from .boolean import BOOLEAN
from .engine import Context, RuleSet, rewrite
from .push import PUSH
from .simplify import FACTOR, NNF, SIMPLIFY
from .wmc import WMC

_RULE_SETS: dict[str, RuleSet] = {
    s.name: s for s in (SIMPLIFY, NNF, BOOLEAN, WMC, PUSH, AGGREGATE, FACTOR, EXPAND)
}
_plugins_loaded = False

#: The default passes, in order: each pass rewrites to a fixpoint with the union of its sets.
#: ``wmc`` resolves a whole chain of aggregations over a d-DNNF at once; where it does not apply,
#: ``push`` and ``aggregate`` do the same step by step (the DeepLog paper, sec. 6.3.1).
PIPELINE: tuple[tuple[str, ...], ...] = (
    ("simplify",),
    ("simplify", "nnf", "boolean"),
    ("simplify", "wmc", "push"),
    ("simplify", "aggregate"),
    ("simplify", "factor"),
)


#: The step-by-step passes of DeepLog, sec. 6.3.1 (no one-step WMC), shown by ``nesy demo``.
STEPWISE: tuple[tuple[str, ...], ...] = tuple(tuple(s for s in p if s != "wmc") for p in PIPELINE)


def register_rule_set(rules: RuleSet, *, replace: bool = False) -> RuleSet:
    """Make ``rules`` available by name to :func:`optimise` passes."""
    if rules.name in _RULE_SETS and not replace and _RULE_SETS[rules.name] is not rules:
        raise ValueError(f"a rule set named {rules.name!r} is already registered")
    _RULE_SETS[rules.name] = rules
    return rules


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in entry_points(group="nesy.rules"):
            obj = ep.load()
            for rs in obj if isinstance(obj, (list, tuple)) else [obj]:
                register_rule_set(rs, replace=True)


def rule_set(*names: str) -> RuleSet:
    """The union of the named rule sets (plugins from ``nesy.rules`` included)."""
    _load_plugins()
    unknown = [n for n in names if n not in _RULE_SETS]
    if unknown:
        raise KeyError(f"unknown rule sets {unknown} (known: {', '.join(sorted(_RULE_SETS))})")
    out = _RULE_SETS[names[0]]
    for n in names[1:]:
        out = out + _RULE_SETS[n]
    return out


def rule_sets() -> dict[str, RuleSet]:
    _load_plugins()
    return dict(_RULE_SETS)


def _context(labelling: Labelling | None, ctx: Context | None) -> Context:
    return ctx or Context(labelling=labelling or Labelling())


def optimise(
    roots: Node | Iterable[Node],
    labelling: Labelling | None = None,
    passes: Sequence[Sequence[str]] = PIPELINE,
    ctx: Context | None = None,
) -> Node | tuple[Node, ...]:
    """Run the passes in order; ``labelling`` declares which labels are normalised."""
    ctx = _context(labelling, ctx)
    single = isinstance(roots, Node)
    out = (roots,) if single else tuple(roots)
    for names in passes:
        out = rewrite(out, rule_set(*names), ctx)
    return out[0] if single else out


def to_circuit(
    roots: Node | Iterable[Node],
    names: Sequence[str] | None = None,
    labelling: Labelling | None = None,
    optimised: bool = True,
    ctx: Context | None = None,
    passes: Sequence[Sequence[str]] = PIPELINE,
) -> Circuit:
    """An algebraic circuit for the formulas: rewritten by ``passes`` (unless
    ``optimised=False``), then remaining aggregations expanded by enumeration and negations
    pushed to the leaves."""
    ctx = _context(labelling, ctx)
    roots = (roots,) if isinstance(roots, Node) else tuple(roots)
    if optimised:
        roots = optimise(roots, passes=passes, ctx=ctx)
    if not (optimised and passes and _simplified(passes[-1]) and _lowered(roots)):
        roots = rewrite(
            roots,
            rule_set("simplify", "expand", "nnf") if optimised else rule_set("expand", "nnf"),
            ctx,
        )
    return Circuit(roots, names)


def _simplified(names: Sequence[str]) -> bool:
    """Whether a pass of the rule sets ``names`` leaves no node that ``simplify`` rewrites: the
    pass's result is a fixpoint of its rules tried after the children, as all of these are."""
    return "simplify" in names and not any(r.before_children for r in rule_set("simplify").rules)


def _lowered(roots: Iterable[Node]) -> bool:
    """No aggregation left to expand and no negation above an operation (one walk): then, after
    a pass that simplified, lowering's final pass has nothing to do and is skipped."""
    return not any(
        n.kind is Kind.AGG or (n.is_op("neg") and n.children[0].kind is Kind.APPLY)
        for n in postorder(roots)
    )
