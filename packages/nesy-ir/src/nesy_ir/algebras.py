"""The built-in algebraic structures, as data."""

from __future__ import annotations

import numpy as np

from .algebra import Algebra, Carrier
from .laws import SEMIRING

UNIT = Carrier("[0, 1]", low=0.0, high=1.0)
LOG_UNIT = Carrier("[-inf, 0]", low=-np.inf, high=0.0)
_BIG = float(np.finfo(float).max)
REALS = Carrier("R", low=-_BIG, high=_BIG)  # finite: inf * 0 would break the declared laws
BOOLEANS = Carrier("{false, true}", boolean=True)

# What every built-in satisfies: associative, commutative (+) and (x) with neutral elements,
# zero absorbing (x), an involutive negation. Distributivity is declared where it holds.
_COMMON = (SEMIRING - {"times.distributes"}) | {"neg.involutive"}


def _complement(x):
    return 1.0 - x


#: A log-probability above 0 by at most this much is 0 rounded up (e.g. log(p + (1 - p))): its
#: complement is -inf. Above it, it is no log-probability: its complement is NaN, on every backend.
LOG_ROUNDING = 1e-6


def _log1mexp(x):
    """log(1 - exp(x)) for x <= 0, accurate on both sides of -log 2 (see LOG_ROUNDING)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))
    return np.where((x > 0) & (x <= LOG_ROUNDING), -np.inf, out)


BOOLEAN = Algebra(
    name="bool",
    carrier=BOOLEANS,
    zero=False,
    one=True,
    plus=np.logical_or,
    times=np.logical_and,
    neg=np.logical_not,
    aggregators={"exists": "plus", "forall": "times"},
    laws=_COMMON
    | {
        "plus.idempotent",
        "times.idempotent",
        "plus.absorbing",
        "times.distributes",
        "plus.distributes",
        "complemented",
        "de_morgan",
    },
    description="Boolean algebra: or, and, not",
    symbols={"plus": "or", "times": "and"},
)

PROBABILITY = Algebra(
    name="prob",
    carrier=UNIT,
    zero=0.0,
    one=1.0,
    plus=np.add,
    times=np.multiply,
    neg=_complement,
    aggregators={"sum": "plus", "prod": "times"},
    laws=SEMIRING | {"neg.involutive", "complemented"},
    description="probability semiring: sum-product on [0, 1], negation 1 - x",
)

LOG_PROBABILITY = Algebra(
    name="logprob",
    carrier=LOG_UNIT,
    zero=-np.inf,
    one=0.0,
    plus=np.logaddexp,
    times=np.add,
    neg=_log1mexp,
    aggregators={"sum": "plus", "prod": "times"},
    laws=SEMIRING | {"neg.involutive", "complemented"},
    description="log-probability semiring: logsumexp and + on log-probabilities",
)

MAX_PRODUCT = Algebra(
    name="maxprod",
    carrier=UNIT,
    zero=0.0,
    one=1.0,
    plus=np.maximum,
    times=np.multiply,
    neg=_complement,
    aggregators={"max": "plus", "prod": "times"},
    laws=SEMIRING | {"neg.involutive", "plus.idempotent", "plus.absorbing"},
    description="max-product semiring (most probable explanation) on [0, 1]",
)

REAL = Algebra(
    name="real",
    carrier=REALS,
    zero=0.0,
    one=1.0,
    plus=np.add,
    times=np.multiply,
    neg=_complement,
    aggregators={"sum": "plus", "prod": "times"},
    laws=SEMIRING | {"neg.involutive", "complemented"},
    description="real semiring: sum-product on R (counting), negation 1 - x",
)

GODEL = Algebra(
    name="godel",
    carrier=UNIT,
    zero=0.0,
    one=1.0,
    plus=np.maximum,
    times=np.minimum,
    neg=_complement,
    aggregators={"exists": "plus", "forall": "times", "max": "plus", "min": "times"},
    laws=_COMMON
    | {
        "plus.idempotent",
        "times.idempotent",
        "plus.absorbing",
        "times.distributes",
        "plus.distributes",
        "de_morgan",
    },
    description="Goedel fuzzy logic: max t-conorm, min t-norm, negation 1 - x",
)


def _luk_or(a, b):
    return np.minimum(1.0, np.add(a, b))


def _luk_and(a, b):
    return np.maximum(0.0, np.add(a, b) - 1.0)


LUKASIEWICZ = Algebra(
    name="lukasiewicz",
    carrier=UNIT,
    zero=0.0,
    one=1.0,
    plus=_luk_or,
    times=_luk_and,
    neg=_complement,
    aggregators={"exists": "plus", "forall": "times"},
    laws=_COMMON | {"plus.absorbing", "complemented", "de_morgan"},
    description="Lukasiewicz fuzzy logic: min(1, a + b), max(0, a + b - 1), negation 1 - x",
)


def _prob_or(a, b):
    return np.add(a, b) - np.multiply(a, b)


PRODUCT = Algebra(
    name="product",
    carrier=UNIT,
    zero=0.0,
    one=1.0,
    plus=_prob_or,
    times=np.multiply,
    neg=_complement,
    aggregators={"exists": "plus", "forall": "times"},
    laws=_COMMON | {"plus.absorbing", "de_morgan"},
    description="product fuzzy logic: a + b - ab, ab, negation 1 - x",
)

BUILTIN_ALGEBRAS = (
    BOOLEAN,
    PROBABILITY,
    LOG_PROBABILITY,
    MAX_PRODUCT,
    REAL,
    GODEL,
    LUKASIEWICZ,
    PRODUCT,
)
