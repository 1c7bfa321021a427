"""The ground program: what grounding hands to the translation into DeepLog formulas.

Ground atoms are ``(predicate, args)`` tuples whose arguments are ints, strings (symbolic
constants) or :class:`nesy_ir.TensorConst` (tensor constants such as ``tensor(train(0))``, whose
name is the text inside ``tensor(...)``). Compound ground terms (``s(0)``, lists) are written as
their canonical text in a string, e.g. ``"s(0)"`` or ``"[1,2]"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nesy_ir.errors import NesyError

GroundAtom = tuple[str, tuple]  # (predicate, args)
Literal = tuple[GroundAtom, bool]  # (atom, positive)


@dataclass(frozen=True)
class ProbFact:
    """An independent probabilistic fact ``p::atom``."""

    atom: GroundAtom
    probability: float


@dataclass(frozen=True)
class Choice:
    """A group of mutually exclusive alternatives: an annotated disjunction or a neural predicate.

    At most one of ``atoms`` is true; ``probabilities[i]`` is the probability of ``atoms[i]``
    (None for a neural predicate: the network ``net`` applied to ``inputs`` gives them, in the
    order of ``atoms``). When the probabilities sum to less than one, none may be true.
    """

    atoms: tuple[GroundAtom, ...]
    probabilities: tuple[float, ...] | None = None
    net: str | None = None
    inputs: tuple = ()


class EvidenceError(NesyError):
    """Evidence that cannot be conditioned on: on an atom no clause can derive, contradictory,
    of probability 0, or under a fuzzy semantics (where conditioning is not defined)."""


@dataclass(frozen=True)
class GroundEvidence:
    """``evidence(atom, value)`` grounded; ``location`` is where it was given (file:line:col)."""

    atom: GroundAtom
    value: bool
    location: str = "<python>:0:0"

    def __str__(self) -> str:
        return f"evidence({atom_text(self.atom)}, {'true' if self.value else 'false'})"


@dataclass
class GroundProgram:
    """The relevant ground program for some queries.

    ``rules[a]`` lists the bodies of the ground rules with head ``a`` (a body is a tuple of
    literals; a ground fact is the empty body). Atoms that are neither heads nor probabilistic
    are false. ``strata`` orders the derived atoms so that an atom occurring negatively in a body
    belongs to an earlier stratum than the head (stratified negation). ``evidence`` is what the
    queries are conditioned on (ProbLog's ``evidence/1,2``).
    """

    rules: dict[GroundAtom, list[tuple[Literal, ...]]] = field(default_factory=dict)
    facts: list[ProbFact] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    queries: list[GroundAtom] = field(default_factory=list)
    strata: list[list[GroundAtom]] = field(default_factory=list)
    evidence: list[GroundEvidence] = field(default_factory=list)


def atom_text(atom: GroundAtom) -> str:
    """``pred(a,b)``: the text form used as label key and in messages."""
    predicate, args = atom
    if predicate == "\\+" and len(args) == 1:  # a negated query, as ProbLog writes it
        return f"\\+{args[0]}"
    return predicate + (f"({','.join(str(a) for a in args)})" if args else "")
