"""Programs shipped as examples: the alarm, reachability, MNIST addition, 4x4 visual Sudoku.

The MNIST programs follow DeepLog's Appendix C: the standard encoding (Listing 2) builds each
number from its digits, so a query has 10^(2N) proofs; the carry encoding (Listing 3) adds the
numbers digit by digit from the least significant one, one query per digit of the sum, and grows
linearly in N. :func:`mnist_addition_standard_sum` states Listing 2's sum as a linear sum of
digits, for :func:`nesy_compile.linear_sum.compile_linear_sum`, which compiles it without
enumerating the proofs.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from nesy_ir.terms import TensorConst

from .ground_program import GroundAtom
from .linear_sum import Summand

DIGIT = "nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X, Y).\n"


def shipped(name: str) -> str:
    """The text of a shipped program: ``alarm`` or ``reachability``."""
    return (files(__package__) / "programs" / f"{name}.pl").read_text()


def _images(prefix: str, n: int) -> str:
    return "[" + ", ".join(f"tensor({prefix}{i})" for i in range(n)) + "]"


def mnist_addition_standard(n: int) -> str:
    """Listing 2: addition of two n-digit numbers, most significant digit first."""
    return DIGIT + (
        "number([], Result, Result).\n"
        "number([H|T], Acc, Result) :- digit(H, Nr), Acc2 is Nr + 10 * Acc,"
        " number(T, Acc2, Result).\n"
        "number(X, Y) :- number(X, 0, Y).\n"
        "addition(X, Y, Z) :- number(X, X2), number(Y, Y2), Z is X2 + Y2.\n"
        f"query(addition({_images('a', n)}, {_images('b', n)}, Z)).\n"
    )


def mnist_addition_carry(n: int) -> str:
    """Listing 3: school addition; ``result(I, D)`` is digit I of the sum (0 least significant,
    digit n the final carry); the images of position I are a_I and b_I."""
    positions = "".join(f"pos({i}, tensor(a{i}), tensor(b{i})).\n" for i in range(n))
    queries = "".join(f"query(result({i}, D)).\n" for i in range(n + 1))
    return (
        DIGIT
        + positions
        + (
            f"last({n}).\n"
            "carry(0, 0).\n"
            "carry(I, C) :- I > 0, J is I - 1, carry(J, C0), pos(J, A, B),"
            " digit(A, DA), digit(B, DB), C is (DA + DB + C0) // 10.\n"
            "result(I, D) :- pos(I, A, B), carry(I, C0), digit(A, DA), digit(B, DB),"
            " D is (DA + DB + C0) mod 10.\n"
            "result(I, D) :- last(I), carry(I, D).\n"
        )
        + queries
    )


def sudoku4() -> str:
    """4x4 visual Sudoku validity: all different in each row, column and 2x2 box."""
    cells = [[f"tensor(c{r}{c})" for c in range(4)] for r in range(4)]
    groups = [row for row in cells] + [[cells[r][c] for r in range(4)] for c in range(4)]
    groups += [
        [cells[r][c] for r in (br, br + 1) for c in (bc, bc + 1)] for br in (0, 2) for bc in (0, 2)
    ]
    pairs = sorted(
        {tuple(sorted((g[i], g[j]))) for g in groups for i in range(4) for j in range(i + 1, 4)}
    )
    body = ", ".join(f"different({a}, {b})" for a, b in pairs)
    return (
        "nn(mnist_net, [X], Y, [1,2,3,4]) :: digit(X, Y).\n"
        "different(A, B) :- digit(A, DA), digit(B, DB), DA \\= DB.\n"
        f"valid :- {body}.\n"
        "query(valid).\n"
    )


def mnist_addition_standard_sum(n: int) -> list[Summand]:
    """The sum Listing 2 computes, as a linear sum of digits: sum_i 10^(n-1-i) (a_i + b_i)."""
    return [
        Summand("digit", TensorConst(f"{side}{i}"), tuple(range(10)), 10 ** (n - 1 - i))
        for side in "ab"
        for i in range(n)
    ]


def mnist_addition_standard_query(n: int) -> Callable[[int], GroundAtom]:
    """The ground query ``addition([a...], [b...], z)`` of Listing 2, as grounding names it."""
    a, b = _images("a", n).replace(" ", ""), _images("b", n).replace(" ", "")
    return lambda z: ("addition", (a, b, z))
