"""The choices and shared help texts of the training commands, apart from the modules that use
them, so that registering ``nesy train``, ``evaluate``, ``explain`` and ``demo mnist-addition``
imports no torch."""

TASKS = ("mnist-addition", "sudoku", "visudo")
#: What trains the model: PyTorch, or JAX (nesy-jax).
BACKENDS = ("torch", "jax")
FUZZY = ("godel", "lukasiewicz", "product")
SEMANTICS = ("prob", *FUZZY, "prob-fuzzy")
#: Where the logic sits: in the architecture, in the loss, or nowhere (the neural baseline).
LOGIC = ("architecture", "loss", "none")
SCHEDULES = ("constant", "cosine")
#: How MNIST addition's standard encoding is compiled: ``auto`` by the linear-sum compiler under
#: the semantics it gives (prob, godel), by grounding the program otherwise; ``linear-sum`` or
#: ``grounding`` only. The linear-sum circuit has each sum's value, as the program's does, and
#: shares the work across sums (N = 3: 6,497 nodes against 22,204, compiled in 0.2 s instead of
#: a minute).
COMPILERS = ("auto", "linear-sum", "grounding")
#: How a model learns: backpropagation through the logic (a differentiable engine), or EM (an
#: E-step by any inference engine, an M-step through the network only).
LEARNERS = ("backprop", "em")
#: How the shortest-path network learns: EM, or blackbox differentiation of the solver.
PATH_LEARNERS = ("em", "blackbox")
#: What EM's M-step fits: the posterior marginals, their argmax (the MPE), or one sample.
EM_VARIANTS = ("soft", "hard", "stochastic")
#: The engines backpropagation can run through (they give gradients): the circuit, or belief
#: propagation unrolled (its Bethe log-likelihood).
DIFFERENTIABLE_ENGINES = ("exact", "bp")

DATA_DIR_HELP = (
    "the data folder: MNIST's IDX files in it or in its mnist/ subfolder, knowledge graphs in its"
    " kg/ subfolder (default: $NESY_DATA, else the embedded scikit-learn digits and family tree)"
)
CHECKPOINT_HELP = "save after every epoch here; resume when it exists"
PROGRESS_HELP = "progress bars on stderr (default: shown)"
JSON_FILE_HELP = "also write the metrics as JSON to this file"
