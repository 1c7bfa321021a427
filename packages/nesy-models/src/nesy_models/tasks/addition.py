"""MNIST addition of two N-digit numbers: the standard encoding (numbers built from digits) and
the carry encoding (school addition, one result digit per column), with their symbolic parts as
plain functions and factor graphs."""

from __future__ import annotations

import functools

import numpy as np

from nesy_compile import compile_program, linear_sum
from nesy_compile.examples import (
    mnist_addition_carry,
    mnist_addition_standard,
    mnist_addition_standard_query,
    mnist_addition_standard_sum,
)
from nesy_compile.ground_program import GroundAtom
from nesy_compile.translate import CompiledProgram
from nesy_ir.errors import NesyError

from ..options import COMPILERS
from .factor_graph import Factor, FactorGraph
from .task import JointAnswer, Task

#: The largest N whose standard-encoding program can be compiled by grounding (10^(2N) proofs,
#: about 4 GB and a minute at N = 3).
GROUNDED_DIGITS = 3

ENCODINGS = ("standard", "carry")


def mnist_addition(n: int, encoding: str = "standard", compiler: str = "auto") -> Task:
    """MNIST addition of two ``n``-digit numbers (data: :class:`nesy_models.data.AdditionSet`).

    Images a0..a(n-1) then b0..b(n-1): each number most significant digit first in the standard
    encoding, least significant first in the carry encoding (as the programs read them). The
    standard encoding's queries are compiled as ``compiler`` says
    (:data:`nesy_models.options.COMPILERS`): the
    linear-sum compiler gives the same values without the program's 10^(2N) proofs."""
    if n < 1:
        raise NesyError(f"digits must be at least 1, not {n}")
    if compiler not in COMPILERS:
        raise NesyError(f"unknown compiler {compiler!r} (known: {', '.join(COMPILERS)})")
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
            compiler=functools.partial(_standard_sum, n, compiler),
            symbolic=functools.partial(standard_sum, n),
            factor_graph=standard_graph() if n == 1 else None,
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
            symbolic=functools.partial(carry_digits, n),
            factor_graph=carry_graph(n),
            joint=JointAnswer(_carry_joint_program(n), functools.partial(_carry_value, n)),
        )
    raise NesyError(f"unknown encoding {encoding!r} (known: {', '.join(ENCODINGS)})")


def _standard_sum(n: int, compiler: str, semantics: str) -> CompiledProgram:
    """The standard encoding's queries under ``semantics``, compiled by ``compiler``."""
    if compiler != "grounding" and semantics in linear_sum.SEMANTICS:
        return linear_sum.compile_linear_sum(
            mnist_addition_standard_sum(n), mnist_addition_standard_query(n), semantics
        )
    if compiler == "linear-sum":
        raise NesyError(
            f"the linear-sum compiler gives the {' and '.join(linear_sum.SEMANTICS)} semantics"
            f" only, not {semantics!r}: use --compiler grounding or auto"
        )
    if n > GROUNDED_DIGITS:
        raise NesyError(
            f"the standard encoding with {n} digits has 10^{2 * n} proofs, too many to ground;"
            f" the linear-sum compiler gives the {' and '.join(linear_sum.SEMANTICS)} semantics"
            f" only, not {semantics!r}: use --digits {GROUNDED_DIGITS} or less, or --encoding"
            " carry"
        )
    return compile_program(mnist_addition_standard(n), semantics, "right")


def standard_sum(n: int, digits: np.ndarray) -> np.ndarray:
    """The sum (..., 1) of the standard encoding's digits (..., 2n), most significant first."""
    weights = 10 ** np.arange(n - 1, -1, -1, dtype=np.int64)
    digits = np.asarray(digits, dtype=np.int64)
    return (digits[..., :n] @ weights + digits[..., n:] @ weights)[..., None]


def carry_digits(n: int, digits: np.ndarray) -> np.ndarray:
    """The digits (..., n + 1) of the sum, least significant first, of the carry encoding's
    digits (..., 2n) (a0..a(n-1), b0..b(n-1), least significant first): school addition."""
    digits = np.asarray(digits, dtype=np.int64)
    out = np.empty((*digits.shape[:-1], n + 1), dtype=np.int64)
    carry = np.zeros(digits.shape[:-1], dtype=np.int64)
    for i in range(n):
        column = digits[..., i] + digits[..., n + i] + carry
        out[..., i], carry = column % 10, column // 10
    out[..., n] = carry
    return out


def standard_graph() -> FactorGraph:
    """One factor a + b = s over the two digits of N = 1 (a tree)."""
    a, b, s = np.ogrid[:10, :10, :19]
    return FactorGraph((10, 10), (Factor((0, 1), (a + b == s).astype(np.float64), 0),), 2)


def carry_graph(n: int) -> FactorGraph:
    """Digits a_i, b_i and carries c_1..c_n (c_0 = 0); per column i the factor
    a_i + b_i + c_i = s_i + 10 c_(i+1), and c_n = s_n: a chain of columns, so a tree."""
    carry = [None, *(2 * n + k - 1 for k in range(1, n + 1))]  # variable of c_k
    a, b, c, c_next, s = np.ogrid[:10, :10, :2, :2, :10]
    column = (a + b + c == s + 10 * c_next).astype(np.float64)  # (10, 10, 2, 2, 10)
    factors = [Factor((0, n, carry[1]), column[:, :, 0], 0)]  # c_0 = 0
    factors += [Factor((i, n + i, carry[i], carry[i + 1]), column, i) for i in range(1, n)]
    factors.append(Factor((carry[n],), np.eye(2), n))  # the last digit of the sum is c_n
    return FactorGraph((10,) * (2 * n) + (2,) * n, tuple(factors), 2 * n)


def _carry_joint_program(n: int) -> str:
    """The carry program with one query ``answer(V)``, V the whole sum from its digits."""
    rules = [line for line in mnist_addition_carry(n).splitlines() if not line.startswith("query")]
    body = ", ".join(f"result({i}, D{i})" for i in range(n + 1))
    value = " + ".join(f"{10**i} * D{i}" for i in range(n + 1))
    return "\n".join(rules) + f"\nanswer(V) :- {body}, V is {value}.\nquery(answer(V)).\n"


def _carry_value(n: int, targets: np.ndarray) -> np.ndarray:
    """The sum (B,) whose digits, least significant first, are the target indices (B, n + 1)."""
    return np.asarray(targets, dtype=np.int64) @ (10 ** np.arange(n + 1, dtype=np.int64))
