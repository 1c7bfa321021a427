"""Random small programs for the conditional inference tests, with a brute-force oracle.

A program has probabilistic facts ``f0..``, at most one annotated disjunction ``h0; h1; ..``,
neural categorical digits ``digit(tensor(iM), 0..2)`` with random labels, and derived atoms
``q0..`` whose rules use those atoms (facts and disjunction heads also negated) and earlier
derived atoms; the last derived atom is the query. The oracle enumerates the possible worlds.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

DIGITS = 3


@dataclass
class RandomProgram:
    facts: list[float]
    ad: list[float]  # the disjunction's probabilities (empty: none)
    digits: list[list[float]]  # per image: the label of each value
    rules: list[list[list[tuple[str, bool]]]]  # per derived atom: bodies of (atom, positive)

    @property
    def root(self) -> str:
        return f"q{len(self.rules) - 1}"

    def text(self) -> str:
        lines = [f"{p}::f{i}." for i, p in enumerate(self.facts)]
        if self.ad:
            lines.append("; ".join(f"{p}::h{j}" for j, p in enumerate(self.ad)) + ".")
        if self.digits:
            values = ",".join(str(v) for v in range(DIGITS))
            lines.append(f"nn(net,[X],Y,[{values}]) :: digit(X,Y).")
        for k, bodies in enumerate(self.rules):
            for body in bodies:
                lits = ", ".join(a if pos else f"\\+ {a}" for a, pos in body)
                lines.append(f"q{k} :- {lits}.")
        lines.append(f"query({self.root}).")
        return "\n".join(lines)

    def labels(self) -> dict[str, float]:
        """The neural atoms' labels."""
        return {
            f"digit(tensor(i{m}),{v})": p
            for m, ps in enumerate(self.digits)
            for v, p in enumerate(ps)
        }

    def worlds(self):
        """Every world (facts, disjunction choice (len(ad): none), digit values) and its
        probability."""
        none = [len(self.ad)] if self.ad and sum(self.ad) < 1 - 1e-9 else []
        ad_choices = [*range(len(self.ad)), *none] if self.ad else [None]
        for facts in itertools.product([False, True], repeat=len(self.facts)):
            for c in ad_choices:
                for ds in itertools.product(range(DIGITS), repeat=len(self.digits)):
                    w = 1.0
                    for f, p in zip(facts, self.facts, strict=True):
                        w *= p if f else 1 - p
                    if c is not None:
                        w *= self.ad[c] if c < len(self.ad) else 1 - sum(self.ad)
                    for m, d in enumerate(ds):
                        w *= self.digits[m][d]
                    yield (facts, c, ds), w

    def holds(self, world) -> dict[str, bool]:
        """The truth of every program atom in ``world`` (rules only use earlier atoms)."""
        facts, c, ds = world
        truth = {f"f{i}": f for i, f in enumerate(facts)}
        truth |= {f"h{j}": c == j for j in range(len(self.ad))}
        truth |= {
            f"digit(tensor(i{m}),{v})": d == v for m, d in enumerate(ds) for v in range(DIGITS)
        }
        for k, bodies in enumerate(self.rules):
            truth[f"q{k}"] = any(all(truth[a] == pos for a, pos in b) for b in bodies)
        return truth

    def circuit_atom(self, world, key: str) -> bool:
        """The truth of a circuit's atom: a fact, a disjunction alternative (``_adN_j``,
        ``_noneN``) or a digit."""
        facts, c, ds = world
        if m := re.fullmatch(r"f(\d+)", key):
            return facts[int(m[1])]
        if m := re.fullmatch(r"_ad\d+_(\d+)", key):
            return c == int(m[1]) - 1
        if re.fullmatch(r"_none\d+", key):
            return c == len(self.ad)
        if m := re.fullmatch(r"digit\(tensor\(i(\d+)\),(\d+)\)", key):
            return ds[int(m[1])] == int(m[2])
        raise AssertionError(f"unexpected atom {key}")

    def brute(self, keys):
        """(P(root), {key: P(key | root)}, {assignment of keys: P(assignment, root)})."""
        total, marg, joint = 0.0, dict.fromkeys(keys, 0.0), {}
        for world, w in self.worlds():
            if not self.holds(world)[self.root]:
                continue
            total += w
            values = tuple(self.circuit_atom(world, k) for k in keys)
            joint[values] = joint.get(values, 0.0) + w
            for k, v in zip(keys, values, strict=True):
                marg[k] += w * v
        return total, {k: v / total for k, v in marg.items()} if total else {}, joint


def _probability(draw) -> float:
    return round(draw(st.floats(0.05, 0.95)), 2)


@st.composite
def programs(draw) -> RandomProgram:
    facts = [_probability(draw) for _ in range(draw(st.integers(0, 3)))]
    ad: list[float] = []
    if draw(st.booleans()):
        n = draw(st.integers(2, 3))
        raw = np.asarray([draw(st.floats(0.1, 1.0)) for _ in range(n + 1)])
        full = draw(st.booleans())
        ps = raw[:n] / (raw[:n].sum() if full else raw.sum())
        ad = [round(float(p), 3) for p in ps]
        if full:
            ad[-1] = round(1 - sum(ad[:-1]), 3)
    digits = []
    for _ in range(draw(st.integers(0, 2))):
        raw = np.asarray([draw(st.floats(0.05, 1.0)) for _ in range(DIGITS)])
        digits.append([float(p) for p in raw / raw.sum()])
    base = [(f"f{i}", True) for i in range(len(facts))] + [(f"h{j}", True) for j in range(len(ad))]
    neural = [f"digit(tensor(i{m}),{v})" for m in range(len(digits)) for v in range(DIGITS)]
    if not base and not neural:
        base = [("f0", True)]
        facts = [0.4]
    rules = []
    for k in range(draw(st.integers(1, 3))):
        choices = (
            [(a, pos) for a, _ in base for pos in (True, False)]
            + [(a, True) for a in neural]
            + [(f"q{j}", True) for j in range(k)]
        )
        bodies = draw(
            st.lists(
                st.lists(
                    st.sampled_from(choices), min_size=1, max_size=2, unique_by=lambda x: x[0]
                ),
                min_size=1,
                max_size=3,
            )
        )
        rules.append(bodies)
    return RandomProgram(facts, ad, digits, rules)
