"""nesy-ir: the DeepLog language, algebraic circuits, rewrites and the NumPy reference evaluator."""

from .algebra import Algebra, Carrier
from .backends import available_backends, backends, get_backend
from .circuit import Circuit
from .errors import NesyError
from .evaluate import evaluate, evaluate_circuit
from .labels import LabelFunction, Labelling
from .lifted import LiftedPlan, evaluate_plan, lifted_plan
from .model import Model
from .nodes import Kind, Node, aggregate, apply, atom, const, transform
from .registry import (
    algebras,
    get_algebra,
    get_transformation,
    register_algebra,
    register_transformation,
    transformations,
)
from .rewrite import optimise, to_circuit
from .syntax import parse, to_text
from .terms import TensorConst, Var
from .transformation import Transformation

__version__ = "0.1.0"

__all__ = [
    "Algebra",
    "Carrier",
    "Circuit",
    "Kind",
    "LabelFunction",
    "Labelling",
    "LiftedPlan",
    "Model",
    "NesyError",
    "Node",
    "TensorConst",
    "Transformation",
    "Var",
    "aggregate",
    "available_backends",
    "backends",
    "algebras",
    "apply",
    "atom",
    "const",
    "evaluate",
    "evaluate_circuit",
    "evaluate_plan",
    "get_algebra",
    "get_backend",
    "get_transformation",
    "lifted_plan",
    "to_circuit",
    "optimise",
    "parse",
    "register_algebra",
    "register_transformation",
    "to_text",
    "transform",
    "transformations",
]
