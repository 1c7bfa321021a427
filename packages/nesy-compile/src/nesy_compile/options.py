"""The names the compiler offers (semantics, vtree shapes), apart from the modules that use them,
so that the ``nesy`` commands can list them without importing PySDD."""

#: How a program's queries are valued: probabilities, or truth degrees under a t-norm.
SEMANTICS = ("prob", "godel", "lukasiewicz", "product")
#: PySDD's vtree shapes over the variables in order.
VTREES = ("balanced", "right", "left", "vertical", "random")
