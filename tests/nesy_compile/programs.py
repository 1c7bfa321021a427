"""Shared test material for nesy-compile: ProbLog as the oracle, random programs."""

from __future__ import annotations

import contextlib
import re
import signal

import pytest
from hypothesis import strategies as st

#: A small weighted CNF in the model counting competition format (unweighted literal 3 weighs 1).
WEIGHTED_CNF = """c a small weighted CNF
p cnf 4 3
1 -2 0
2 3 -4 0
-1 4 0
c p weight 1 0.3 0
c p weight -1 0.7 0
c p weight 2 0.6 0
c p weight -2 0.4 0
c p weight 4 0.9 0
c p weight -4 0.2 0
"""


def problog(text: str, seconds: float | None = None) -> dict[str, float]:
    """ProbLog's probability of every query of ``text``; past ``seconds`` (if given), a
    TimeoutError: ProbLog's own cycle breaking is exponential on some random programs."""
    pytest.importorskip("problog")
    from problog import get_evaluatable
    from problog.program import PrologString

    with _time_limit(seconds):
        result = get_evaluatable().create_from(PrologString(text)).evaluate()
    # ProbLog lists a query with variables and no grounding as itself, with probability 0
    return {
        text: v
        for k, v in result.items()
        if not ((text := str(k).replace(" ", "")) and v == 0.0 and re.search(r"[(,][A-Z_]", text))
    }


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """A TimeoutError in this (main) thread after ``seconds``; no limit for None."""
    if seconds is None:
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"ProbLog took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


NODES = "abcd"
TEMPLATES = {
    "path(X,Y) :- edge(X,Z), path(Z,Y).": ["path(a,X)", "path(b,b)"],
    "path(X,Y) :- path(X,Z), edge(Z,Y).": ["path(X,c)"],
    "sym(X,Y) :- edge(X,Y).\nsym(X,Y) :- edge(Y,X).": ["sym(a,X)"],
    "two(X,Y) :- edge(X,Z), edge(Z,Y), X \\= Y.": ["two(X,Y)"],
    "acyc(X) :- node(X), \\+ path(X,X).": ["acyc(X)"],
    "red(X) :- color(X,red).": ["red(X)"],
    "0.6::lucky(X) :- node(X), color(X,blue).": ["lucky(b)"],
    "goal :- path(a,d) ; path(d,a).": ["goal"],
    "goal :- color(a,red), \\+ path(a,b).": ["goal"],
    "0.3::w(1); 0.7::w(2).\nv(N) :- w(M), N is M * 2.": ["v(N)"],
}
#: the templates of ProbLog's language beyond the core: each adds probabilistic atoms, so that
#: a program of every template is for compiled inference, not for enumerating its worlds
EXTENDED = {
    # ProbLog's language beyond the core: '<-', computed and body-bound probabilities,
    # existential negation, once/1, the standard order, operator terms, between/3, negative
    # head literals
    "near(X) <- edge(X,Y), edge(Y,X).": ["near(X)"],
    "1/4 + 1/4::extra(X) :- node(X), color(X,red).": ["extra(X)"],
    "weight(a,0.3). weight(b,0.8).\nP::heavy(X) :- weight(X,P), color(X,blue).": ["heavy(X)"],
    "lonely(X) :- node(X), \\+ edge(X,_).": ["lonely(X)"],
    "out(X) :- node(X), once(edge(X,_)).": ["out(X)"],
    "up(X,Y) :- edge(X,Y), X @< Y.": ["up(X,Y)"],
    "arc(X-Y) :- edge(X,Y), X \\= Y.": ["arc(P)"],
    "src(X) :- edge(X,_).\n0.5::\\+src(X) :- color(X,red).": ["src(X)"],
    "far(N) :- between(1,3,N), path(a,d), N >= 2.": ["far(N)"],
    # collecting answers: findall/3, all/3 (sorted: ProbLog's order of recursive answers is
    # its engine's), forall/2, an aggregate in a clause head (library(aggregate))
    "succs(X,L) :- node(X), findall(Y, edge(X,Y), L).": ["succs(X,L)"],
    "reach(S) :- all(Y, path(a,Y), L), sort(L, S).": ["reach(S)"],
    "covered :- forall(node(X), edge(X,_)).": ["covered"],
    ":- use_module(library(aggregate)).\ncost(a,1). cost(b,2). cost(c,4). cost(d,8).\n"
    "fanout(X, sum<C>) :- edge(X,Y), cost(Y,C).": ["fanout(X,S)"],
}
CORE = dict(TEMPLATES)
TEMPLATES.update(EXTENDED)


@st.composite
def programs(draw):
    pairs = [(x, y) for x in NODES for y in NODES]
    edges = draw(st.lists(st.sampled_from(pairs), min_size=2, max_size=6, unique=True))
    probs = st.sampled_from([0.1, 0.25, 0.5, 0.7, 0.9, 1.0])
    lines = [f"{draw(probs)}::edge({x},{y})." for x, y in edges]
    lines += [f"node({n})." for n in NODES[:3]]
    red, blue = draw(st.sampled_from([(0.2, 0.5), (0.5, 0.5), (0.1, 0.3)]))
    lines.append(f"{red}::color(X,red); {blue}::color(X,blue) :- node(X).")
    lines.append("path(X,Y) :- edge(X,Y).")
    chosen = draw(st.lists(st.sampled_from(sorted(TEMPLATES)), min_size=1, max_size=5, unique=True))
    queries = ["path(X,Y)"]
    for template in chosen:
        lines.append(template)
        queries += TEMPLATES[template]
    lines += [f"query({q})." for q in dict.fromkeys(queries)]
    return "\n".join(lines) + "\n"


def all_templates_program(templates: dict[str, list[str]] = TEMPLATES) -> str:
    """One program using every template (of ``templates``), on a graph with a cycle and a
    self-loop."""
    edges = "0.5::edge(a,b). 0.6::edge(b,c). 0.7::edge(c,a). 0.4::edge(c,d). 0.9::edge(b,b).\n"
    nodes = "node(a). node(b). node(c).\n0.2::color(X,red); 0.5::color(X,blue) :- node(X).\n"
    queries = "".join(f"query({q}).\n" for qs in templates.values() for q in dict.fromkeys(qs))
    text = edges + nodes + "path(X,Y) :- edge(X,Y).\n" + "\n".join(templates) + "\n" + queries
    return text
