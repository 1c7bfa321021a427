"""The choices and shared help texts of the training commands, apart from the modules that use
them, so that registering ``nesy train``, ``evaluate``, ``explain`` and ``demo mnist-addition``
imports no torch."""

TASKS = ("mnist-addition", "sudoku")
#: What trains the model: PyTorch, or JAX (nesy-jax).
BACKENDS = ("torch", "jax")
FUZZY = ("godel", "lukasiewicz", "product")
SEMANTICS = ("prob", *FUZZY, "prob-fuzzy")
#: Where the logic sits: in the architecture, in the loss, or nowhere (the neural baseline).
LOGIC = ("architecture", "loss", "none")
SCHEDULES = ("constant", "cosine")

DATA_DIR_HELP = (
    "folder of the MNIST IDX files (default: $NESY_DATA/mnist, else the embedded scikit-learn"
    " digits)"
)
JSON_FILE_HELP = "also write the metrics as JSON to this file"
