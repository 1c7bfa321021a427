"""Arguments of atoms: regular variables, constants and tensor constants."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Var:
    """A regular or reification variable, named with a leading capital by convention."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class TensorConst:
    """A constant standing for a tensor supplied at evaluation (an image, a sensor trace)."""

    name: str

    def __str__(self) -> str:
        return f"tensor({self.name})"


#: An argument of an atom: a variable, a symbolic constant (str or int), or a tensor constant.
Term = Var | TensorConst | str | int

#: The domain of reification variables over the Boolean structure.
BOOL_DOMAIN = "bool"
BOOL_VALUES = (False, True)


def check_term(term: object, where: str) -> Term:
    """``term`` if it is a valid atom argument, else a TypeError naming ``where``."""
    if isinstance(term, bool) or not isinstance(term, (Var, TensorConst, str, int)):
        raise TypeError(f"{where}: argument {term!r} is not a Var, TensorConst, str or int")
    return term


def domain_values(domain: str | tuple) -> tuple:
    """The values a variable with ``domain`` ranges over."""
    return BOOL_VALUES if domain == BOOL_DOMAIN else tuple(domain)
