"""From a ground program to DeepLog formulas and one circuit, under a chosen semantics.

Probabilistic semantics (DeepLog, sec. 6.3.1): each query is the aggregation over the truth
values of the probabilistic atoms of ``tau[bool->prob](F and C)`` times their labels, where F is
the query's Boolean formula (least model, computed as a fixpoint so cycles are handled) and C
says that exactly one alternative of each annotated disjunction or neural predicate holds. F and C
are compiled with PySDD into an SDD, a d-DNNF whose weighted count is read off in one pass over
it (the work of nesy-ir's ``resolve_wmc`` rule, done on the SDD), and the rewrites simplify the
counts into a circuit. A query whose F is a disjunction of assignments of the same choices and
facts (MNIST addition's sums: disjunctions of pairs of numbers) is a d-DNNF under C already:
its count is read off the ground program without an SDD (:mod:`nesy_compile.assignments`).

Fuzzy semantics (sec. 6.3.2, Appendix B): the same F evaluated directly in a t-norm structure
(godel, lukasiewicz, product), the labels of the atoms read as truth degrees.

Evidence (ProbLog's ``evidence/1,2``): the circuit gets one more root, ``evidence``, for the
conjunction E of the evidence literals, and for each query q a root ``q & evidence`` for q and E,
so that P(q | E) = value(q & evidence) / value(evidence) is a ratio any backend computes (a
difference in ``logprob``). Conditioning is defined for probabilities only: fuzzy semantics refuse
evidence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from nesy_ir import Circuit, Labelling, Var, apply, atom, const, transform
from nesy_ir.errors import NesyError
from nesy_ir.nodes import Kind, Node
from nesy_ir.registry import get_algebra
from nesy_ir.rewrite import PIPELINE, Context, to_circuit
from nesy_ir.rewrite.wmc import WeightedCount
from nesy_ir.traverse import size

from .assignments import AssignmentCount, Assignments, read_assignments
from .collector import collector_paused
from .ground_program import EvidenceError, GroundAtom, GroundEvidence, GroundProgram, atom_text
from .options import SEMANTICS
from .progress import Deadline, Meter

#: Rewrite passes: probabilistic queries arrive as weighted counts of compiled SDDs (read off
#: by :meth:`SddBridge.count`), to simplify and factor; fuzzy ones get the full pipeline.
PASSES = {True: (("simplify", "factor"),), False: PIPELINE}
TRUE, FALSE = Node(Kind.CONST, "bool", True), Node(Kind.CONST, "bool", False)
#: The name of the root for the conjunction of the evidence.
EVIDENCE = "evidence"


def joint_name(query: str) -> str:
    """The name of the root for ``query`` and the evidence: ``"{query} & evidence"``."""
    return f"{query} & {EVIDENCE}"


def _or(children: list[Node]) -> Node:
    if TRUE in children:
        return TRUE
    kept = list(dict.fromkeys(c for c in children if c is not FALSE))
    return FALSE if not kept else kept[0] if len(kept) == 1 else _bool("plus", kept)


def _and(children: list[Node]) -> Node:
    if FALSE in children:
        return FALSE
    kept = list(dict.fromkeys(c for c in children if c is not TRUE))
    return TRUE if not kept else kept[0] if len(kept) == 1 else _bool("times", kept)


def _not(child: Node) -> Node:
    return {TRUE: FALSE, FALSE: TRUE}.get(child) or _bool("neg", [child])


def _bool(role: str, children: list[Node]) -> Node:
    """The Boolean operation ``role`` of Boolean ``children`` (as :func:`nesy_ir.apply` builds
    it, without its checks: the formulas of a ground program are Boolean by construction)."""
    return Node(Kind.APPLY, "bool", role, tuple(children))


@dataclass
class Worlds:
    """The probabilistic atoms as reified Boolean atoms, their labels and the choice constraints
    (one formula per choice: exactly one of its alternatives holds)."""

    literal: dict[GroundAtom, Node] = field(default_factory=dict)  # atom -> a[X_k]@bool
    labels: dict[str, float] = field(default_factory=dict)
    neural: list[GroundAtom] = field(default_factory=list)  # atoms whose labels a network gives
    constraints: list[Node] = field(default_factory=list)
    group: dict[str, int] = field(default_factory=dict)  # reification variable -> its choice

    def add(self, a: GroundAtom) -> Node:
        var = Var(f"X{len(self.literal)}")
        self.literal[a] = atom(a[0], a[1], "bool", var)
        return self.literal[a]

    @cached_property
    def units(self) -> dict[int | str, list[int]]:
        """The independent units (a choice's index, or a fact's variable) in the order of their
        first atom, each with the numbers of its atoms (their places in ``literal``, from 1):
        the ranks and numbers of :mod:`.assignments`. Read once every atom is added."""
        units: dict[int | str, list[int]] = {}
        for k, x in enumerate(self.literal.values(), start=1):
            units.setdefault(_unit(self, x), []).append(k)
        return units


def worlds(gp: GroundProgram) -> Worlds:
    """Reify every probabilistic fact and choice atom; exactly one alternative per choice."""
    w = Worlds()
    for f in gp.facts:
        w.add(f.atom)
        w.labels[atom_text(f.atom)] = f.probability
    for k, c in enumerate(gp.choices):
        alternatives = list(c.atoms)
        if c.probabilities is None:
            w.neural.extend(c.atoms)
        else:
            for a, p in zip(c.atoms, c.probabilities, strict=True):
                w.labels[atom_text(a)] = p
            rest = 1.0 - sum(c.probabilities)
            if rest > 1e-12:  # "none of them" is an alternative too
                none = (f"_none{k}", ())
                alternatives.append(none)
                w.labels[atom_text(none)] = rest
        lits = [w.literal.get(a) or w.add(a) for a in alternatives]
        for a in alternatives:
            w.labels[atom_text(a) + "[false]"] = 1.0  # a choice is weighed by its true alternative
        at_most_one = [_not(_and([x, y])) for i, x in enumerate(lits) for y in lits[i + 1 :]]
        for x in lits:
            w.group[x.arg.rvar.name] = len(w.constraints)
        w.constraints.append(_and([_or(lits), *at_most_one]))
    return w


def boolean_formulas(
    gp: GroundProgram, w: Worlds, meter: Meter | None = None
) -> dict[GroundAtom, Node]:
    """Each derived atom's truth as a Boolean formula over the probabilistic atoms.

    Stratum by stratum; within a stratum the immediate-consequence operator is iterated until no
    formula changes or, for positive cycles, as many times as the stratum has atoms (by then every
    world has reached its least model). A first round that read only formulas already final (of
    lower strata, or of atoms of the stratum settled earlier in the round) is the fixpoint: for a
    stratum without cycles, listed with what an atom uses before it, one round instead of two.
    ``meter`` counts the atoms stepped.
    """
    value: dict[GroundAtom, Node] = {}
    meter = meter or Meter("logic formulas")

    def lit(a: GroundAtom, positive: bool) -> Node:
        v = w.literal.get(a) or value.get(a, FALSE)
        return v if positive else _not(v)

    def step(a: GroundAtom) -> Node:
        bodies = gp.rules.get(a, [])
        return _or([_and([lit(b, pos) for b, pos in body]) for body in bodies])

    for stratum in gp.strata or [list(gp.rules)]:
        inside, settled = set(stratum), set()
        for _ in range(len(stratum) + 1):
            changed = False
            for a in stratum:
                new = step(a)
                meter.step()
                if new is not value.get(a, FALSE):
                    value[a], changed = new, True
                if settled is not None and all(
                    b in settled or b not in inside for body in gp.rules.get(a, ()) for b, _ in body
                ):
                    settled.add(a)
            if not changed or settled is not None and len(settled) == len(inside):
                break
            settled = None  # only the first round can settle atoms
    return value


@dataclass
class CompiledProgram:
    """One circuit with a root per query, its labelling, and what compiling it cost.

    With evidence, the circuit also has the root ``evidence`` (the probability of the evidence)
    and, after it, a root ``q & evidence`` per query q (:func:`joint_name`): the query roots keep
    their places and stay the prior probabilities. Without evidence there are no more roots
    (q & evidence is q); :meth:`evidence_circuit` adds the constant one as ``evidence``.
    """

    queries: list[GroundAtom]
    circuit: Circuit
    labelling: Labelling
    semantics: str
    neural: list[GroundAtom]
    stats: dict
    evidence: list[GroundEvidence] = field(default_factory=list)

    @property
    def evidence_root(self) -> str:
        """The name of the evidence's root (in :meth:`evidence_circuit`): ``"evidence"``."""
        return EVIDENCE

    def joint_root(self, query: str) -> str:
        """The name of the root for ``query`` (its text) and the evidence."""
        return joint_name(query) if self.evidence else query

    def evidence_text(self) -> str:
        """The evidence as ProbLog writes it, for messages: ``evidence(a, true), ...``."""
        return ", ".join(str(e) for e in self.evidence) or "no evidence"

    def evidence_circuit(self) -> Circuit:
        """The circuit with an ``evidence`` root even without evidence (the constant one), for
        inference given the evidence (``nesy_ir.inference``, root :attr:`evidence_root`)."""
        if self.evidence:
            return self.circuit
        structure = self.circuit.roots[0].structure if self.circuit.roots else "prob"
        one = const(get_algebra(structure).one, structure)
        return Circuit((*self.circuit.roots, one), (*self.circuit.names, EVIDENCE))

    def labels(self, labels: dict | None = None) -> Labelling:
        """The labelling with the neural atoms' ``labels``; an error names those missing."""
        missing = [atom_text(a) for a in self.neural if atom_text(a) not in (labels or {})]
        if missing:
            raise NesyError(
                f"no labels for the neural atoms {', '.join(missing[:5])}"
                f"{' ...' if len(missing) > 5 else ''}: a network must label them"
            )
        return self.labelling.with_values(labels or {})

    def probabilities(self, labels: dict | None = None) -> dict[str, float]:
        """Each root's value by the reference evaluator (``labels``: the neural atoms'): the
        queries' prior probabilities and, with evidence, the evidence roots."""
        from nesy_ir import evaluate_circuit

        return {k: v for k, v in evaluate_circuit(self.circuit, self.labels(labels)).items()}

    def conditionals(self, labels: dict | None = None) -> dict[str, np.ndarray]:
        """P(q | evidence) for each query (by its text), by the reference evaluator; without
        evidence the same as :meth:`probabilities`. In ``logprob`` circuits: log P(q | evidence).

        Evidence of probability 0 (for some element of a batch of ``labels``) raises an
        :class:`EvidenceError` naming the evidence, never a NaN.
        """
        values = self.probabilities(labels)
        names = [atom_text(q) for q in self.queries]
        if not self.evidence:
            return {q: values[q] for q in names}
        given = np.asarray(values[EVIDENCE])
        log = self.circuit.roots[0].structure == "logprob"
        impossible = np.isneginf(given) if log else given <= 0.0
        if impossible.any():
            where = ""
            if given.ndim:
                bad = [str(i) for i in np.flatnonzero(impossible.reshape(-1))]
                where = f" for the batch element(s) {', '.join(bad[:10])}"
                where += " ..." if len(bad) > 10 else ""
            raise EvidenceError(f"the evidence {self.evidence_text()} has probability 0{where}")
        if log:
            return {q: np.asarray(values[joint_name(q)] - given) for q in names}
        return {q: np.asarray(values[joint_name(q)] / given) for q in names}


def _fuzzy(node: Node, structure: str, memo: dict) -> Node:
    """The Boolean formula over reified atoms as a formula of the fuzzy ``structure``."""
    if node in memo:
        return memo[node]
    if node.kind is Kind.CONST:
        out = transform(node, structure)
    elif node.kind is Kind.ATOM:
        out = atom(node.arg.predicate, node.arg.args, structure)
    else:
        out = apply(node.arg, *(_fuzzy(c, structure, memo) for c in node.children))
    memo[node] = out
    return out


@collector_paused()
def translate(
    gp: GroundProgram,
    semantics: str = "prob",
    vtree: str = "balanced",
    time_budget_s: float | Deadline | None = None,
    *,
    progress: bool | None = False,
    direct: bool = True,
) -> CompiledProgram:
    """Compile the ground program's queries into one circuit under ``semantics``.

    ``time_budget_s`` bounds the whole translation (a :class:`Deadline` already running, e.g.
    since grounding began, bounds it with what is left); past it a ``CompileBudgetError`` names
    the stage. ``progress`` shows a progress bar per stage on stderr (None: if a terminal).
    ``direct`` counts a query whose formula is a disjunction of assignments of the same choices
    and facts without compiling it to an SDD (:mod:`nesy_compile.assignments`; no evidence, prob
    semantics); False compiles every query (the same values).
    """
    if semantics not in SEMANTICS:
        raise NesyError(f"unknown semantics {semantics!r} (known: {', '.join(SEMANTICS)})")
    deadline = Deadline.of(time_budget_s)
    start = time.perf_counter()
    w = worlds(gp)
    assigned: dict[GroundAtom, Assignments] = {}
    if direct and semantics == "prob" and not gp.evidence:
        with Meter("assignments", deadline, progress, len(gp.queries), " queries") as meter:
            assigned = _direct(gp, w, meter)
    derived: dict[GroundAtom, Node] = {}
    if len(assigned) < len(gp.queries):  # formulas for the queries the SDD compiles
        with Meter("logic formulas", deadline, progress, unit=" atoms") as meter:
            derived = boolean_formulas(gp, w, meter)
    forms = [assigned.get(q) or w.literal.get(q) or derived.get(q, FALSE) for q in gp.queries]
    names = [atom_text(q) for q in gp.queries]
    if gp.evidence:  # roots for the evidence E, then for each query q and E
        _check_evidence(gp, names, semantics)
        literals = []
        for e in gp.evidence:
            truth = w.literal.get(e.atom) or derived.get(e.atom, FALSE)
            literals.append(truth if e.value else _not(truth))
        given = _and(literals)
        joint = [_and([f, given]) for f in forms]
        forms, names = [*forms, given, *joint], [*names, EVIDENCE, *map(joint_name, names)]
    stats: dict = {"ground_atoms": len(w.literal) + len(gp.rules), "direct_queries": len(assigned)}
    stats["logic_nodes"], stats["logic_edges"] = size(f for f in forms if isinstance(f, Node))
    if semantics == "prob":
        roots, ctx, labelling = _probabilistic(forms, w, vtree, deadline, progress, stats)
    else:
        memo: dict = {}
        roots = [_fuzzy(f, semantics, memo) for f in forms]
        labelling = Labelling({k: v for k, v in w.labels.items() if not k.endswith("[false]")})
        ctx = Context(labelling=labelling)
    deadline.check("rewriting")  # one call: checked before it starts only
    t = time.perf_counter()
    circuit = to_circuit(roots, names, labelling, ctx=ctx, passes=PASSES[semantics == "prob"])
    stats["rewrite_s"] = time.perf_counter() - t
    stats["compile_s"] = time.perf_counter() - start
    stats.update({f"circuit_{k}": v for k, v in circuit.stats().items()})
    return CompiledProgram(
        list(gp.queries), circuit, labelling, semantics, w.neural, stats, list(gp.evidence)
    )


def _check_evidence(gp: GroundProgram, names: list[str], semantics: str) -> None:
    """Evidence only under probabilistic semantics, and no query named like an evidence root."""
    first = gp.evidence[0]
    if semantics != "prob":
        raise EvidenceError(
            f"{first.location}: {first} under the {semantics} semantics: conditioning on"
            " evidence is defined for probabilities (prob) only, not for fuzzy truth degrees"
        )
    taken = {EVIDENCE, *(joint_name(n) for n in names)}.intersection(names)
    if taken:
        raise EvidenceError(
            f"{first.location}: the query {sorted(taken)[0]} has the name of an evidence root:"
            " rename it to condition on evidence"
        )


def _direct(gp: GroundProgram, w: Worlds, meter: Meter) -> dict[GroundAtom, Assignments]:
    """The queries whose weighted count is read off their assignments, without an SDD
    (:mod:`.assignments`), numbered as :attr:`Worlds.units` says."""
    atoms = list(w.literal)
    literal = {
        atoms[k - 1]: (rank, k, isinstance(u, int))
        for rank, (u, ks) in enumerate(w.units.items())
        for k in ks
    }
    return read_assignments(gp, literal, gp.queries, meter)


def _unit(w: Worlds, x: Node) -> int | str:
    """The independent unit a reified atom belongs to: its choice, or itself (a fact)."""
    name = x.arg.rvar.name
    return w.group.get(name, name)


def _compile_with_constraints(
    bridge, forms: list[Node], w: Worlds, meter: Meter | None = None
) -> tuple[list, list[frozenset], list]:
    """(the SDDs of ``f and C_f``, the units each f mentions, the SDD of each choice), where
    C_f is the conjunction of the choices f mentions.

    Every intermediate result is conjoined with the constraints of the choices it mentions: this
    leaves ``f and C_f`` unchanged (C_f implies them) but keeps the intermediate SDDs small,
    since they never represent worlds in which one image shows two digits. A result is conjoined
    only with the constraints it does not imply already: a conjunction implies those of its
    operands, a disjunction those all its operands imply. ``meter`` counts the nodes compiled.
    """
    from nesy_ir.traverse import postorder

    mgr = bridge.manager
    choice = [bridge.to_sdd(c) for c in w.constraints]
    care: dict[frozenset, object] = {frozenset(): mgr.true()}

    def constraint(units: frozenset):
        key = frozenset(u for u in units if isinstance(u, int))
        if key not in care:
            care[key] = mgr.true()
            for g in key:
                care[key] = care[key] & choice[g]
        return care[key]

    sdd: dict[Node, object] = {}
    units: dict[Node, frozenset] = {}
    implied: dict[Node, frozenset] = {}  # the units whose constraints sdd[n] implies
    order = postorder(forms)
    meter = meter or Meter("SDD compilation")
    meter.set_total(len(order))
    for n in order:
        meter.step()
        implied[n] = frozenset()
        if n.kind in (Kind.ATOM, Kind.CONST):
            sdd[n] = bridge.to_sdd(n)
            rvar = n.arg.rvar if n.kind is Kind.ATOM else None
            units[n] = frozenset([_unit(w, n)]) if isinstance(rvar, Var) else frozenset()
            continue
        parts = [sdd[c] for c in n.children]
        units[n] = frozenset().union(*(units[c] for c in n.children))
        if n.arg == "neg":
            sdd[n] = ~parts[0]
            continue
        out = parts[0]
        for p in parts[1:]:
            out = out | p if n.arg == "plus" else out & p
        have = [implied[c] for c in n.children]
        have = frozenset.union(*have) if n.arg == "times" else frozenset.intersection(*have)
        missing = units[n] - have
        sdd[n] = out & constraint(missing) if missing else out
        implied[n] = units[n]
    sdds = [sdd[f] & constraint(units[f] - implied[f]) for f in forms]
    return sdds, [units[f] for f in forms], choice


def _probabilistic(forms, w: Worlds, vtree, deadline: Deadline, progress, stats):
    """Each query f as sum_X tau(f and C_f) * w[X] over the variables of the units (choices,
    facts) f mentions, times the weighted count of each unit it does not mention: the units are
    independent, so the SDDs stay as small as the query.

    The counts are resolved here, in one pass per SDD (:meth:`SddBridge.count` with one
    :class:`WeightedCount`, the work of the ``resolve_wmc`` rule, shared across the queries:
    time linear in the SDDs' size, an SDD being a d-DNNF): the formula itself, one aggregation
    per variable and query, costs time and memory quadratic in the number of variables (each
    aggregation holds the set of its free variables), too much for MNIST addition with 100
    digits. A query given as :class:`Assignments` is counted from them
    (:class:`AssignmentCount`, with the same counter), without an SDD.
    """
    from .sdd import SddBridge

    t = time.perf_counter()
    bridge = SddBridge(list(w.literal.values()), vtree)
    nodes = [f for f in forms if isinstance(f, Node)]
    with Meter("SDD compilation", deadline, progress, unit=" nodes") as meter:
        sdds, mentioned, choice = _compile_with_constraints(bridge, nodes, w, meter)
    stats["sdd_s"] = time.perf_counter() - t
    stats["sdd_size"] = bridge.manager.size()
    labelling = Labelling(w.labels)
    # the false alternatives of choices weigh one whatever the networks say: constants, which
    # the rewrites fold away (the labelling keeps them, for smoothing and for other passes)
    fixed = {
        atom(a[0], a[1], "prob", False): const(w.labels[key], "prob")
        for a in w.literal
        if (key := atom_text(a) + "[false]") in w.labels
    }
    ctx = Context(labelling=labelling, fixed=fixed)
    reified = [TRUE, *w.literal.values()]  # by number, as in Worlds.units
    members = {u: [reified[k].arg.rvar.name for k in ks] for u, ks in w.units.items()}
    weights = {
        v.arg.rvar.name: [atom(a[0], a[1], "prob", v.arg.rvar)] for a, v in w.literal.items()
    }
    count = WeightedCount("prob", weights, ctx)

    def counted(sdd, over: list[str]) -> Node:
        value = bridge.count(sdd, count, over)
        if value is None:  # tau[bool->prob] counts d-DNNFs: never the case
            raise NesyError("the weighted count in prob is not exact on a d-DNNF")
        return value

    t = time.perf_counter()
    alone = {  # each unit's own count: one for a fact, the total of a choice's distribution
        u: counted(choice[u] if isinstance(u, int) else bridge.manager.true(), xs)
        for u, xs in members.items()
    }
    ranked = list(w.units)
    by_assignment = AssignmentCount(count, dict(enumerate(w.units.values())), reified)
    compiled = iter(zip(sdds, mentioned, strict=True))
    roots = []
    with Meter("weighted counts", deadline, progress, len(forms), " queries") as meter:
        for f in forms:
            if isinstance(f, Assignments):
                units = {ranked[r] for r in f.units}
                value = count.finish(by_assignment(f), [x for u in units for x in members[u]])
            else:
                sdd, units = next(compiled)
                value = counted(sdd, [x for u in units for x in members[u]])
            others = [alone[u] for u in members if u not in units]
            roots.append(apply("times", value, *others))
            meter.step()
    stats["count_s"] = time.perf_counter() - t
    return roots, ctx, labelling
