"""Conditional inference on weighted circuits: posterior marginals, MPE, exact sampling.

What EM-NeSy's E-step needs (and ``nesy query`` with evidence): the distribution over the
atoms given that a root (the evidence, a label) holds, where the root's value is the weighted
model count (WMC) of its models.

- :func:`posterior_marginals`: P(atom | root) for every atom, from one forward and one backward
  pass: the share of the root's WMC in models where the atom is true is
  ``d log f / d log theta_a`` (Darwiche, "A differential approach to inference in Bayesian
  networks"), computed in float64 over the layered circuit, block by block in reverse.
- :func:`mpe`: the most probable assignment among the root's models and its joint probability,
  by max-product evaluation and backtracking.
- :func:`sample`: exact draws from P(atoms | root), top-down.

Which atoms a branch does not mention. A circuit need not be smooth: where a (+) child does not
mention a variable whose labels sum to one (``a[true] + a[false] = 1``: probabilistic facts),
that variable is summed out implicitly, and its posterior gets its prior share there. Program
circuits (``nesy_compile.compile_program``) label the false alternative of a choice (annotated
disjunctions, neural predicates) with one and fold it away: a branch that does not mention such
a variable sets it false, which the labels say (``a[true] + a[false] != 1``). The functions here
handle both without smoothing the circuit: a variable missing below a (+) child counts as summed
out where its labels are normalised, and as false where they are not.

The variables are the reified label slots ``p(args)[true|false]`` (see
:func:`nesy_ir.smooth.variable`); they are reported under their text key without the truth
value (``burglary``, ``digit(tensor(a),3)``). MPE and sampling are exact on deterministic and
decomposable circuits (the d-DNNFs PySDD compiles); on others they are not, and nothing checks.
"""

from .marginals import (
    GradientProblem,
    forward_backward,
    gradient_problem,
    posterior_marginals,
    posterior_matrix,
)
from .mpe import mpe
from .sampling import sample
from .variables import (
    ImpossibleEvidenceError,
    InferenceError,
    VariableLabels,
    check_possible,
    combine_shares,
    root_index,
    variable_labels,
)

__all__ = [
    "GradientProblem",
    "ImpossibleEvidenceError",
    "InferenceError",
    "VariableLabels",
    "check_possible",
    "combine_shares",
    "forward_backward",
    "gradient_problem",
    "mpe",
    "posterior_marginals",
    "posterior_matrix",
    "root_index",
    "sample",
    "variable_labels",
]
