"""The tasks of the DeepLog experiments, as programs plus how their answers are read.

A task's answer is one or more categorical *groups*: the sum (standard MNIST addition), each
digit of the sum (carry encoding), or valid / invalid (Sudoku). Every value of a group is a root
of the compiled circuit, or the complement of one (Sudoku's "invalid" is not "valid"). So one
training loop serves every task: logic in the architecture scores each group's values with the
circuit; logic in the loss and the neural baseline predict them with a task head.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nesy_compile import compile_program, linear_sum
from nesy_compile.examples import (
    mnist_addition_carry,
    mnist_addition_standard,
    mnist_addition_standard_query,
    mnist_addition_standard_sum,
    sudoku4,
)
from nesy_compile.ground_program import GroundAtom, atom_text
from nesy_compile.translate import CompiledProgram
from nesy_ir.errors import NesyError

from .data import IndexedExamples
from .options import FUZZY as FUZZY
from .options import LOGIC as LOGIC
from .options import SEMANTICS as SEMANTICS

COMPLEMENT = -1  # a group value scored by 1 - (the root's value)

#: The largest N whose standard-encoding program is compiled by grounding (10^(2N) proofs, about
#: 4 GB at N = 3); beyond it, its sum goes to the linear-sum compiler.
GROUNDED_DIGITS = 3


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
    compiled program), where given, compiles the program's queries instead of grounding."""

    name: str
    program: str
    terms: tuple[str, ...]
    classes: tuple[int, ...]
    group_of: Callable[[GroundAtom], tuple[str, int] | None]
    targets_of: Callable[[IndexedExamples], np.ndarray]
    image_order: tuple[int, ...] | None = None
    vtree: str = "balanced"
    compiler: Callable[[str], CompiledProgram] | None = None
    _compiled: dict = field(default_factory=dict, repr=False)

    def compiled(self, semantics: str) -> CompiledProgram:
        """The program compiled under ``semantics`` (prob, godel, ...), once per task."""
        if semantics not in self._compiled:
            self._compiled[semantics] = (
                self.compiler(semantics)
                if self.compiler is not None
                else compile_program(self.program, semantics, self.vtree)
            )
        return self._compiled[semantics]

    def groups(self, compiled: CompiledProgram) -> tuple[Group, ...]:
        """The answer groups, their values sorted, each value's root in ``compiled``."""
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
        out = np.empty(targets.shape, dtype=np.int64)
        for g, group in enumerate(groups):
            values = np.asarray(group.values)
            out[:, g] = np.searchsorted(values, targets[:, g])
            bad = (out[:, g] >= len(values)) | (
                values[np.minimum(out[:, g], len(values) - 1)] != targets[:, g]
            )
            if bad.any():
                raise NesyError(
                    f"task {self.name}: answer {targets[bad, g][0]} is not a value of {group.name}"
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
    def of(cls, task: Task, compiled: CompiledProgram, keys: tuple[str, ...]) -> Readout:
        groups = task.groups(compiled)
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


def mnist_addition(n: int, encoding: str = "standard") -> Task:
    """MNIST addition of two ``n``-digit numbers (data: :class:`nesy_models.data.AdditionSet`).

    Images a0..a(n-1) then b0..b(n-1): each number most significant digit first in the standard
    encoding, least significant first in the carry encoding (as the programs read them). The
    standard encoding's queries are compiled by grounding up to :data:`GROUNDED_DIGITS` digits,
    by the linear-sum compiler beyond (the same values, without its 10^(2N) proofs)."""
    if n < 1:
        raise NesyError(f"digits must be at least 1, not {n}")
    terms = tuple(f"a{i}" for i in range(n)) + tuple(f"b{i}" for i in range(n))
    classes = tuple(range(10))
    if encoding == "standard":
        return Task(
            f"mnist-addition-{n}",
            mnist_addition_standard(n),
            terms,
            classes,
            group_of=lambda q: ("sum", int(q[1][-1])) if q[0] == "addition" else None,
            targets_of=lambda data: data.sums.reshape(-1, 1),
            vtree="right",
            compiler=None if n <= GROUNDED_DIGITS else functools.partial(_standard_sum, n),
        )
    if encoding == "carry":

        def group(q: GroundAtom) -> tuple[str, int] | None:
            return (f"digit{q[1][0]}", int(q[1][1])) if q[0] == "result" else None

        return Task(
            f"mnist-addition-carry-{n}",
            mnist_addition_carry(n),
            terms,
            classes,
            group_of=group,
            targets_of=lambda data: data.sum_digits[:, ::-1],
            image_order=(*range(n - 1, -1, -1), *range(2 * n - 1, n - 1, -1)),
        )
    raise NesyError(f"unknown encoding {encoding!r} (known: standard, carry)")


def _standard_sum(n: int, semantics: str) -> CompiledProgram:
    if semantics not in linear_sum.SEMANTICS:
        raise NesyError(
            f"the standard encoding with {n} digits is compiled by the linear-sum compiler, which"
            f" gives the {' and '.join(linear_sum.SEMANTICS)} semantics only, not {semantics!r}:"
            f" use --digits {GROUNDED_DIGITS} or less, or --encoding carry"
        )
    return linear_sum.compile_linear_sum(
        mnist_addition_standard_sum(n), mnist_addition_standard_query(n), semantics
    )


def sudoku() -> Task:
    """4x4 visual Sudoku validity (data: :class:`nesy_models.data.SudokuSet`); images c00..c33
    row by row, digits 1..4."""
    return Task(
        "sudoku",
        sudoku4(),
        tuple(f"c{r}{c}" for r in range(4) for c in range(4)),
        (1, 2, 3, 4),
        group_of=lambda q: ("valid", 1) if q[0] == "valid" else None,
        targets_of=lambda data: data.valid.reshape(-1, 1),
    )
