"""A task: a program, the image terms it reads, and how its answers are read.

A task's answer is one or more categorical *groups*: the sum (standard MNIST addition), each
digit of the sum (carry encoding), or valid / invalid (Sudoku). Every value of a group is a root
of the compiled circuit, or the complement of one (Sudoku's "invalid" is not "valid"). So one
training loop serves every task: logic in the architecture scores each group's values with the
circuit; logic in the loss and the neural baseline predict them with a task head.

Inference engines (:mod:`nesy_models.engines`) may read more of a task than its circuit: its
symbolic part as a plain function (``symbolic``, for rejection sampling, with a ``distance``
for its tolerance), a factor graph (``factor_graph``, for belief propagation), or the whole
answer as one query (``joint``). A task whose program does not compile (9 x 9 Sudoku) has no
program, only these, and its answer groups as data (``answers``): it trains by EM with an
engine that needs no circuit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nesy_compile import compile_program
from nesy_compile.ground_program import GroundAtom, atom_text
from nesy_compile.translate import CompiledProgram
from nesy_ir.errors import NesyError

from ..data import IndexedExamples
from .factor_graph import FactorGraph

COMPLEMENT = -1  # a group value scored by 1 - (the root's value)


@dataclass(frozen=True)
class JointAnswer:
    """A task's whole answer as one query, for a task whose answer has several groups: a program
    (the task's, plus a rule) whose ``answer(V)`` atoms are its queries, and ``encode``, which
    maps target indices (B, G) to each example's V (B,). The exact engine conditions on it."""

    program: str
    encode: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Group:
    """One categorical part of the answer: its values and the root scoring each (or its
    complement: ``(root, True)``)."""

    name: str
    values: tuple[int, ...]
    roots: tuple[tuple[int, bool], ...]


@dataclass
class Task:
    """A program, the image terms it reads (in the order of an example's images), the classes of
    its neural predicate, and how to read answers and targets. ``compiler`` (semantics ->
    compiled program), where given, compiles the program's queries instead of grounding.
    ``program`` None: a task without a circuit, whose groups are ``answers`` ((name, values),
    ...) and whose answers come from ``symbolic``."""

    name: str
    program: str | None
    terms: tuple[str, ...]
    classes: tuple[int, ...]
    group_of: Callable[[GroundAtom], tuple[str, int] | None]
    targets_of: Callable[[IndexedExamples], np.ndarray]
    image_order: tuple[int, ...] | None = None
    vtree: str = "balanced"
    compiler: Callable[[str], CompiledProgram] | None = None
    #: the answer indices (..., G) of symbol class indices (..., P), as a plain function
    symbolic: Callable[[np.ndarray], np.ndarray] | None = None
    #: (B, K): how far each draw (B, K, P) of symbol classes is from its example's answer
    #: (B, G) target indices, 0 when it reproduces it (default: the answer groups wrong)
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    factor_graph: FactorGraph | None = None
    joint: JointAnswer | None = None
    answers: tuple[tuple[str, tuple[int, ...]], ...] | None = None
    _compiled: dict = field(default_factory=dict, repr=False)
    _derived: dict = field(default_factory=dict, repr=False)

    def compiled(self, semantics: str) -> CompiledProgram:
        """The program compiled under ``semantics`` (prob, godel, ...), once per task."""
        if self.program is None:
            raise NesyError(
                f"task {self.name} has no program to compile (it does not compile): train it"
                " by EM with an engine that needs no circuit (--learner em --engine"
                " abc-nearest, abc or bp)"
            )
        if semantics not in self._compiled:
            self._compiled[semantics] = (
                self.compiler(semantics)
                if self.compiler is not None
                else compile_program(self.program, semantics, self.vtree)
            )
        return self._compiled[semantics]

    def derived(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, once per task and ``key``: what an engine builds from the task (a lowered
        circuit, the joint-answer task), kept with it."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def joint_task(self) -> Task:
        """The task whose one group is :attr:`joint`'s ``answer(V)`` (same terms and classes)."""
        if self.joint is None:
            raise NesyError(f"task {self.name} has no joint answer")
        return self.derived(
            "joint",
            lambda: Task(
                f"{self.name}-joint",
                self.joint.program,
                self.terms,
                self.classes,
                group_of=lambda q: ("answer", int(q[1][0])) if q[0] == "answer" else None,
                targets_of=lambda data: self.joint.encode(self.targets_of(data))[:, None],
            ),
        )

    def groups(self, compiled: CompiledProgram | None) -> tuple[Group, ...]:
        """The answer groups, their values sorted, each value's root in ``compiled`` (no
        roots for a task without a program: its :attr:`answers`)."""
        if compiled is None:
            return tuple(Group(name, tuple(values), ()) for name, values in self.answers or ())
        found: dict[str, dict[int, tuple[int, bool]]] = {}
        for i, query in enumerate(compiled.queries):
            key = self.group_of(query)
            if key is None:
                continue
            name, value = key
            found.setdefault(name, {})[value] = (i, False)
            if value == 1 and name == "valid":
                found[name][0] = (i, True)
        return tuple(
            Group(name, tuple(sorted(v)), tuple(v[k] for k in sorted(v)))
            for name, v in found.items()
        )

    def examples(self, data: IndexedExamples) -> IndexedExamples:
        """``data`` with each example's images in the order of :attr:`terms`."""
        if self.image_order is None:
            return IndexedExamples(data.images, data.index)
        return IndexedExamples(data.images, data.index[:, list(self.image_order)])

    def target_indices(self, groups: tuple[Group, ...], data: IndexedExamples) -> np.ndarray:
        """(E, G) int64: the index, within each group's values, of each example's answer."""
        targets = np.asarray(self.targets_of(data), dtype=np.int64)
        out = value_index(groups, targets)
        for g, group in enumerate(groups):
            if (out[:, g] < 0).any():
                raise NesyError(
                    f"task {self.name}: answer {targets[out[:, g] < 0, g][0]} is not a value of"
                    f" {group.name}"
                )
        return out

    def neural_index(self, compiled: CompiledProgram, keys: tuple[str, ...]) -> np.ndarray:
        """(K, 2) int64: for each dynamic label key, the image position and the class index."""
        where = {}
        for predicate, (term, value) in compiled.neural:
            where[atom_text((predicate, (term, value)))] = (
                self.terms.index(term.name),
                self.classes.index(value),
            )
        missing = [k for k in keys if k not in where]
        if missing:
            raise NesyError(f"task {self.name}: no network labels the atoms {missing[:3]}")
        return np.asarray([where[k] for k in keys], dtype=np.int64).reshape(-1, 2)


def value_index(groups: tuple[Group, ...], answers: np.ndarray) -> np.ndarray:
    """(..., G) int64: the index, within each group's values, of ``answers`` (..., G); -1 for
    an answer that is not a value of its group."""
    answers = np.asarray(answers, dtype=np.int64)
    out = np.full(answers.shape, -1, dtype=np.int64)
    for g, group in enumerate(groups):
        values = np.asarray(group.values, dtype=np.int64)
        at = np.minimum(np.searchsorted(values, answers[..., g]), len(values) - 1)
        out[..., g] = np.where(values[at] == answers[..., g], at, -1)
    return out


@dataclass(frozen=True)
class Readout:
    """Index arrays joining a network, a lowered circuit and the answer groups (any backend).

    ``label_index`` (K,): for each dynamic key of the circuit, the column of the flattened
    (P * C) digit probabilities that labels it; ``value_root`` / ``value_complement`` (V,): the
    root scoring each group value, and whether it is scored by the root's complement;
    ``group_sizes`` and ``offsets``: where each group's values sit among the V.
    """

    groups: tuple[Group, ...]
    label_index: np.ndarray
    value_root: np.ndarray
    value_complement: np.ndarray
    group_sizes: tuple[int, ...]
    offsets: np.ndarray

    @classmethod
    def of(cls, task: Task, compiled: CompiledProgram | None, keys: tuple[str, ...]) -> Readout:
        """The readout of ``task`` through ``compiled`` (None: a task without a circuit, whose
        labels and roots are empty)."""
        groups = task.groups(compiled)
        if compiled is None:
            where = np.zeros((0, 2), dtype=np.int64)
        else:
            where = task.neural_index(compiled, keys)
        roots = [r for g in groups for r in g.roots]
        sizes = tuple(len(g.values) for g in groups)
        return cls(
            groups,
            where[:, 0] * len(task.classes) + where[:, 1],
            np.asarray([r for r, _ in roots], dtype=np.int64),
            np.asarray([c for _, c in roots], dtype=bool),
            sizes,
            np.cumsum([0, *sizes[:-1]]).astype(np.int64),
        )
