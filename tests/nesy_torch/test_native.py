"""The native pass (C, one call each way) against the generic module's fused pass and the
reference: values and gradients in every structure it covers, exact gradients at the edges,
and where it does not apply."""

import math
from contextlib import ExitStack
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from tests.backend_strategies import circuits, labels_for  # noqa: E402
from tests.nesy_torch.test_conformance import _close  # noqa: E402

from nesy_ir import Circuit, apply, atom, evaluate_circuit  # noqa: E402
from nesy_ir.errors import NesyError  # noqa: E402
from nesy_torch import CircuitModule, NativeCircuit, lower, native, register_kernel  # noqa: E402
from nesy_torch import cone as cone_module  # noqa: E402
from nesy_torch import native_circuit as native_circuit_module  # noqa: E402
from nesy_torch.kernels import BUILTIN_REDUCTIONS, REDUCTIONS  # noqa: E402

pytestmark = pytest.mark.skipif(
    native.library() is None, reason=f"no C compiler builds the native pass: {native.build_error()}"
)

#: the built-in structures whose kernels are all native
NATIVE = ["bool", "prob", "maxprod", "real", "godel"]


def _matrix(module, labels: dict, batch: int) -> torch.Tensor:
    columns = [torch.as_tensor(np.asarray(labels[k], float)).expand(batch) for k in module.keys]
    return torch.stack(columns, 1) if columns else torch.zeros(batch, 0, dtype=torch.float64)


def _weighted(module, x: torch.Tensor, weights: torch.Tensor):
    """``module`` 's values on the labels ``x``, and the labels' gradient of their sum weighted
    by ``weights`` (None where the values want none)."""
    leaf = x.clone().requires_grad_(True)
    value = module.matrix(leaf)
    if not value.requires_grad:
        return value, None
    (grad,) = torch.autograd.grad((value * weights).sum(), leaf)
    return value.detach(), grad


@pytest.mark.parametrize("batch", [1, 4, 32])  # 1 and 32: loops compiled for that width
@pytest.mark.parametrize("structure", NATIVE + ["logprob"])
@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_values_and_gradients_equal_the_fused_pass(structure, batch, data, seed):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=batch)
    options = dict(dynamic=labels, dtype=torch.float64, klay=False)
    fused = lower(circuit, native=False, **options)
    module = lower(circuit, **options)
    if not isinstance(module, NativeCircuit):  # logprob with negation: log1mexp
        assert structure == "logprob"
        return
    x = _matrix(module, labels, batch)
    weights = torch.as_tensor(np.random.default_rng(seed).random((batch, len(circuit.names))))
    (got, dgot), (want, dwant) = (_weighted(m, x, weights) for m in (module, fused))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    for name, column in zip(circuit.names, got.T, strict=True):
        _close(column.numpy(), evaluate_circuit(circuit, labels)[name])
    assume(torch.isfinite(want).all())
    if dwant is None:
        assert dgot is None or not dgot.any()
    else:
        np.testing.assert_allclose(dgot, dwant, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_a_product_of_three_with_zero_factors_has_the_exact_gradient(dtype):
    a, b, c = (atom(n, (), "prob") for n in "abc")
    module = lower(Circuit([apply("times", a, b, c)]), dynamic="abc", dtype=dtype)
    assert isinstance(module, NativeCircuit)
    x = torch.tensor([[0.0, 0.3, 0.5], [0.0, 0.0, 0.5], [0.2, 0.3, 0.5]], dtype=dtype)
    want = [[0.15, 0.0, 0.0], [0.0, 0.0, 0.0], [0.15, 0.1, 0.06]]
    for grad in _batch_and_alone(module, x):
        np.testing.assert_allclose(grad.numpy(), want, rtol=1e-6)


def _batch_and_alone(module, x: torch.Tensor) -> list[torch.Tensor]:
    """The gradient of the summed roots by ``x``'s rows, of the whole batch and of each row
    alone (batch 1 runs a scalar loop per node in C)."""
    leaf = x.clone().requires_grad_(True)
    module.matrix(leaf).sum().backward()
    alone = []
    for row in x:
        one = row[None].clone().requires_grad_(True)
        module.matrix(one).sum().backward()
        alone.append(one.grad[0])
    return [leaf.grad, torch.stack(alone)]


def test_a_maximum_shares_its_gradient_among_the_children_that_reach_it():
    a, b, c = (atom(n, (), "maxprod") for n in "abc")
    module = lower(Circuit([apply("plus", a, b, c)]), dynamic="abc", dtype=torch.float64)
    assert isinstance(module, NativeCircuit)
    x = torch.tensor([[0.5, 0.5, 0.1], [0.2, 0.2, 0.2]], dtype=torch.float64)
    for grad in _batch_and_alone(module, x):
        np.testing.assert_allclose(grad.numpy(), [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])


def test_logsumexp_of_minus_infinities_has_a_zero_gradient():
    a, b = atom("a", (), "logprob"), atom("b", (), "logprob")
    module = lower(Circuit([a + b]), dynamic="ab", dtype=torch.float64)
    assert isinstance(module, NativeCircuit)
    x = torch.tensor([[-math.inf, -math.inf], [-1.0, -math.inf], [math.log(0.25)] * 2])
    x = x.double()
    out = module.matrix(x)
    np.testing.assert_allclose(out[:, 0], [-math.inf, -1.0, math.log(0.5)])
    for grad in _batch_and_alone(module, x):
        np.testing.assert_allclose(grad.numpy(), [[0.0, 0.0], [1.0, 0.0], [0.5, 0.5]])


SUM, PROD = native.CODES["sum"], native.CODES["prod"]

#: A program over four label rows (0 to 3), node i at row 4 + i: (op, children rows), with
#: the rows its roots pick; where a sum's children are all two-factor products read by it
#: alone, :meth:`~nesy_torch.native.Program.fused` makes it one sum of products.
NODES = [
    (PROD, [0, 1]),  # 4: gone into 6
    (PROD, [2, 3]),  # 5: gone into 6
    (SUM, [4, 5]),  # 6: the sum of products 0 * 1 + 2 * 3
    (PROD, [0, 2]),  # 7: read by 9 and 10, kept
    (PROD, [1, 1]),  # 8: a square, gone into 12
    (SUM, [7, 3]),  # 9: kept (a shared product, a label)
    (SUM, [7, 6]),  # 10: kept
    (PROD, [3, 3]),  # 11: gone into 12
    (SUM, [8, 11]),  # 12: 1 * 1 + 3 * 3
    (PROD, [0, 3]),  # 13: a root, kept
    (PROD, [1, 2]),  # 14: kept, as 15 reads a root
    (SUM, [13, 14]),  # 15: kept
    (PROD, [0, 1, 2]),  # 16: three factors, kept
    (PROD, [1, 3]),  # 17: kept, as 18 reads 16
    (SUM, [16, 17]),  # 18: kept
]
PICKED = [6, 9, 10, 12, 13, 15, 18]


def _program(nodes: list[tuple[int, list[int]]]) -> native.Program:
    """The program of ``nodes`` (as :data:`NODES`) over four label rows."""
    counts = [len(c) for _, c in nodes]
    return native.Program(
        4,
        np.array([op for op, _ in nodes], dtype=np.int8),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate([c for _, c in nodes]).astype(np.int64),
    )


def _values_and_gradients(program: native.Program, picked, x: torch.Tensor, weights: torch.Tensor):
    """The values of the rows ``picked`` of ``program`` (its sinks where it has them) on the
    labels ``x`` (B, 4), and the labels' gradient of their sum weighted by ``weights``."""
    leaf = x.clone().requires_grad_(True)
    value = native.run(program, leaf, *_no_static(x), _flat(program, picked, len(x)))
    (grad,) = torch.autograd.grad((value * weights).sum(), leaf)
    return value.detach(), grad


def _no_static(x: torch.Tensor) -> tuple[torch.Tensor, bytes]:
    """No static values, and the labels as they are: the leaf rows the label rows alone."""
    return torch.zeros(0, 1, dtype=x.dtype), native.ROWS


def _flat(program: native.Program, picked, batch: int) -> torch.Tensor | None:
    """The flat positions of the rows ``picked`` in the (rows, ``batch``) buffer, (batch, G),
    as :func:`nesy_torch.native.run` takes them (none for a program with sinks)."""
    if program.sinks:
        return None
    return torch.as_tensor(picked)[None, :] * batch + torch.arange(batch)[:, None]


def test_sums_of_two_factor_products_read_alone_fuse_into_one_node():
    program = _program(NODES)
    fused, row = program.fused(np.array(PICKED))
    gone = [4, 5, 8, 11]
    assert row.tolist() == [0, 1, 2, 3, -1, -1, 4, 5, -1, 6, 7, -1, 8, 9, 10, 11, 12, 13, 14]
    kept = [i for i in range(len(NODES)) if 4 + i not in gone]
    assert fused.ops.tolist() == [native.SUMPROD if 4 + i in (6, 12) else NODES[i][0] for i in kept]
    nodes = [
        fused.children[a:b].tolist()
        for a, b in zip(fused.offsets[:-1], fused.offsets[1:], strict=True)
    ]
    assert nodes[0] == [0, 1, 2, 3] and nodes[4] == [1, 1, 3, 3]  # 6 and 12
    assert nodes[2] == [5, 3] and nodes[3] == [5, 4]  # 9 and 10 read 7 and 6 where they moved
    # values and gradients equal the unfused program's, in a batch and one example at a time
    for batch in (5, 1):
        x = torch.rand(batch, 4, dtype=torch.float64)
        weights = torch.rand(batch, len(PICKED), dtype=torch.float64)
        want, dwant = _values_and_gradients(program, PICKED, x, weights)
        got, dgot = _values_and_gradients(fused, row[PICKED], x, weights)
        assert torch.equal(got, want)  # each product and sum rounded as unfused
        np.testing.assert_allclose(dgot, dwant, rtol=1e-15)
        a, b, c, d = x.T
        np.testing.assert_allclose(got[:, 0], a * b + c * d, rtol=1e-15)


MAX, COMPLEMENT, IDENTITY = (native.CODES[k] for k in ("max", "complement", "identity"))

#: A program whose picked nodes become sinks (:meth:`~nesy_torch.native.Program.sunk`) where
#: nothing else reads or picks them and their gradients need only their children's values,
#: with the rows picked: more than a tile of them, so that the sinks fill two tiles.
SINK_NODES = [
    (PROD, [0, 1]),  # 4: read by 6: a copy
    (SUM, [0, 2]),  # 5: a sink
    (SUM, [4, 3]),  # 6: picked twice: two copies
    (PROD, [1, 2]),  # 7: a two-factor product: a sink
    (PROD, [0, 1, 3]),  # 8: its gradient reads its value: a copy
    (MAX, [0, 3]),  # 9: likewise
    (COMPLEMENT, [2]),  # 10: a sink
    (native.SUMPROD, [0, 1, 2, 3]),  # 11: a sink
    (SUM, [1, 3]),  # 12: picked by none: kept
    *((SUM, [i % 4, (i + 1) % 4]) for i in range(10)),  # 13 to 22: sinks
    (SUM, [6, 0]),  # 23: a sink reading a node that moves (to row 5)
    (native.SUMPROD, [8, 9, 12, 1]),  # 24: likewise (to rows 6, 7 and 8)
]
SINK_PICKED = [5, 4, 6, 11, 7, 0, 8, 6, 9, 10, *range(13, 25)]
#: The rows of :data:`SINK_NODES` that stay rows (read by another node, picked twice, a
#: gradient that reads its value, or picked by none), and the rows they move to.
KEPT_ROWS = {4: 4, 6: 5, 8: 6, 9: 7, 12: 8}


@pytest.mark.parametrize("batch", [5, 1, 32])
def test_roots_that_nothing_else_reads_are_sinks_without_rows(batch):
    program = _program(SINK_NODES)
    sunk = program.sunk(np.array(SINK_PICKED))
    assert sunk.sinks == len(SINK_PICKED) > native.TILE
    assert sunk.rows == 4 + 5 + native.TILE  # nodes 4, 6, 8, 9 and 12 keep rows
    kept = len(sunk.ops) - sunk.sinks
    nodes = [
        sunk.children[a:b].tolist()
        for a, b in zip(sunk.offsets[:-1], sunk.offsets[1:], strict=True)
    ]
    assert nodes[:kept] == [[0, 1], [4, 3], [0, 1, 3], [0, 3], [1, 3]]
    copies = {1: [4], 2: [5], 5: [0], 6: [6], 7: [5], 8: [7]}  # each sink's picked row
    for sink, picked in enumerate(SINK_PICKED):
        op, children = SINK_NODES[picked - 4] if sink not in copies else (IDENTITY, copies[sink])
        if sink not in copies:  # a moved node reads the rows where its children moved
            children = [KEPT_ROWS.get(c, c) for c in children]
        assert (sunk.ops[kept + sink], nodes[kept + sink]) == (op, children)
    x = torch.rand(batch, 4, dtype=torch.float64)
    weights = torch.rand(len(SINK_PICKED), batch, dtype=torch.float64).t()  # strided
    want, dwant = _values_and_gradients(program, SINK_PICKED, x, weights)
    got, dgot = _values_and_gradients(sunk, SINK_PICKED, x, weights)
    assert torch.equal(got, want)
    np.testing.assert_allclose(dgot, dwant, rtol=1e-14)
    with pytest.raises(ValueError, match="sinks already"):
        sunk.sunk(np.array(SINK_PICKED))
    # else out would be too small
    for wrong, pick in ((sunk, _flat(program, SINK_PICKED, batch)), (program, None)):
        with pytest.raises(ValueError, match="a program with sinks gives them all"):
            native.run(wrong, x, *_no_static(x), pick)
    with pytest.raises(ValueError, match="no groups"):  # flat positions are the whole batch's
        native.run(program, x, *_no_static(x), _flat(program, SINK_PICKED, batch), [slice(0, 1)])


@st.composite
def sums_of_products(draw) -> Circuit:
    """A probabilistic circuit of sums of two-factor products over four labels and earlier
    nodes (shared, squared, picked as roots or not)."""
    nodes = [atom(n, (), "prob") for n in "abcd"]
    for _ in range(draw(st.integers(1, 8))):
        terms = [
            apply("times", *draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=2)))
            for _ in range(draw(st.integers(1, 3)))
        ]
        nodes.append(apply("plus", *terms) if len(terms) > 1 else terms[0])
    roots = draw(st.lists(st.sampled_from(nodes[4:]), min_size=1, max_size=3))
    return Circuit(roots, [f"r{i}" for i in range(len(roots))])


@settings(max_examples=30, deadline=None)
@given(circuit=sums_of_products(), seed=st.integers(0, 2**16))
def test_sums_of_products_equal_the_generic_module(circuit, seed):
    options = dict(dynamic="abcd", dtype=torch.float64, klay=False)
    module, generic = lower(circuit, **options), lower(circuit, native=False, **options)
    assert isinstance(module, NativeCircuit)
    rng = np.random.default_rng(seed)
    batch = 32 if seed % 2 else 3  # 32: the loops compiled for that width
    x = torch.as_tensor(rng.random((batch, 4)))
    weights = torch.as_tensor(rng.random((batch, len(circuit.names))))
    (got, dgot), (want, dwant) = (_weighted(m, x, weights) for m in (module, generic))
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(dgot, dwant, rtol=1e-12)
    few = x[:3]  # one example at a time: the scalar loops
    for grad, want in zip(
        _batch_and_alone(module, few), _batch_and_alone(generic, few), strict=True
    ):
        np.testing.assert_allclose(grad, want, rtol=1e-12)


#: How a batch of five splits (one autograd node either way): the cone's constants and the
#: native pass's (:func:`nesy_torch.native_circuit.group_width`) by module, and the groups
#: they make.
SPLITS = {
    "ones": ({cone_module: dict(TILE_VALUES=1, NARROWEST=1)}, [1] * 5),
    "three and two": ({cone_module: dict(TILE_VALUES=1, ALIGN=1, NARROWEST=3)}, [3, 2]),
    "a large output": (
        {native: dict(OUTPUT_VALUES=0), native_circuit_module: dict(NARROWEST=3)},
        [3, 2],
    ),
    "the widest native group": ({native_circuit_module: dict(WIDEST=4)}, [4, 1]),
}


def _patched(constants: dict) -> ExitStack:
    """The modules' constants ``{module: {name: value}}`` set until the context exits."""
    stack = ExitStack()
    for module, values in constants.items():
        stack.enter_context(patch.multiple(module, **values))
    return stack


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("structure", ["prob", "maxprod", "godel"])
@settings(max_examples=10, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_a_batch_in_groups_of_examples_equals_one_pass(structure, split, data, seed):
    """Each group in a buffer of its own, all in one autograd node: values and gradients."""
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=5)
    module = lower(circuit, dynamic=labels, dtype=torch.float64)
    x = _matrix(module, labels, 5).requires_grad_(True)
    want = module.matrix(x)
    constants, widths = SPLITS[split]
    with (
        _patched(constants),
        patch.object(native, "_forward_into", wraps=native._forward_into) as group,
    ):
        got = module.matrix(x)
        weights = torch.rand(got.shape[1], 5, dtype=torch.float64).t()  # each value its own
        if want.requires_grad:
            (dgot,) = torch.autograd.grad((got * weights).sum(), x)
    if isinstance(module, NativeCircuit):
        assert [len(c.args[4]) for c in group.call_args_list] == widths
    np.testing.assert_allclose(got.detach(), want.detach(), rtol=1e-12)
    if want.requires_grad:
        (dwant,) = torch.autograd.grad((want * weights).sum(), x)
        np.testing.assert_allclose(dgot, dwant, rtol=1e-12)


#: How the output of a batch is laid out and split: the native pass's constants by module, the
#: batch, its groups, and whether the output is written past the caches.
LAYOUTS = {
    "rows": (
        {
            native: dict(ROW_OUTPUT_VALUES=1 << 30, OUTPUT_VALUES=0),
            native_circuit_module: dict(NARROWEST=2),
        },
        5,
        [2, 2, 1],
        True,
    ),
    "columns": (
        {
            native: dict(ROW_OUTPUT_VALUES=0, OUTPUT_VALUES=1 << 30),
            native_circuit_module: dict(WIDEST=2),
        },
        5,
        [2, 2, 1],
        False,
    ),
    # groups of the width native.c's loops are compiled for, each root's run past the caches
    # (a batch of 70: every other root's run in float64, every fourth in float32, is aligned
    # for the stores; the others are copied)
    "columns past the caches": (
        {native: dict(ROW_OUTPUT_VALUES=0, OUTPUT_VALUES=0)},
        70,
        [32, 32, 6],
        True,
    ),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("structure", ["prob", "maxprod"])
@settings(max_examples=10, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_the_output_in_either_layout_gives_the_same_values_and_gradients(
    structure, layout, dtype, data, seed
):
    """An output of sinks row by row or each root's examples a run (a large one, written past
    the caches or not), in groups (of one example too: the scalar loops), against one pass:
    values, and the labels' gradients from a gradient of the output in either layout."""
    constants, batch, widths, past = LAYOUTS[layout]
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=batch)
    module = lower(circuit, dynamic=labels, dtype=dtype)
    x = _matrix(module, labels, batch).to(dtype).requires_grad_(True)
    want = module.matrix(x)
    with (
        _patched(constants),
        patch.object(native, "_forward_into", wraps=native._forward_into) as group,
    ):
        got = module.matrix(x)
    assert isinstance(module, NativeCircuit)  # every kernel of these structures is native
    assert [(len(c.args[4]), c.args[2]) for c in group.call_args_list] == [
        (w, past) for w in widths
    ]
    columns = layout != "rows"
    assert got.stride() == ((1, batch) if columns else (got.shape[1], 1))
    rtol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(got.detach(), want.detach(), rtol=rtol)
    if not want.requires_grad:
        return
    g = torch.rand(want.shape, dtype=dtype)
    for grad in (g, g.t().contiguous().t()):
        dgot, dwant = (torch.autograd.grad(v, x, grad, retain_graph=True)[0] for v in (got, want))
        np.testing.assert_allclose(dgot, dwant, rtol=rtol)


def test_off_the_cpu_or_in_another_dtype_it_runs_the_cones_torch_pass():
    a, b = atom("a", (), "prob"), atom("b", (), "prob")
    module = lower(Circuit([apply("plus", a * b, a)]), dynamic="ab", dtype=torch.float64)
    x = torch.tensor([[0.5, 0.25]], dtype=torch.float64)
    native_value = module.matrix(x)
    with patch.object(native, "runs_natively", return_value=False) as asked:
        torch_value = module.matrix(x)
    assert asked.called
    torch.testing.assert_close(torch_value, native_value)
    torch.testing.assert_close(native_value, torch.tensor([[0.625]], dtype=torch.float64))


def test_where_it_does_not_apply_lower_falls_back_and_native_true_says_why():
    a, b = atom("a", (), "lukasiewicz"), atom("b", (), "lukasiewicz")
    fuzzy = Circuit([apply("plus", a, b)])
    assert isinstance(lower(fuzzy, dynamic="ab", klay=False), CircuitModule)
    with pytest.raises(NesyError, match="native=True does not apply.*'bounded_sum'"):
        lower(fuzzy, dynamic="ab", native=True)
    prob = Circuit([apply("times", atom("a", (), "prob"), atom("b", (), "prob"))])
    with pytest.raises(NesyError, match="float32 or float64, not in torch.float16"):
        lower(prob, dynamic="ab", dtype=torch.float16, native=True)
    with pytest.raises(NesyError, match="on the CPU, not on meta"):
        lower(prob, dynamic="ab", device="meta", native=True)
    assert isinstance(lower(prob, dynamic="ab", klay=False, compile=True), CircuitModule)
    with pytest.raises(NesyError, match="native=True and compile=True exclude each other"):
        lower(prob, dynamic="ab", native=True, compile=True)


def test_a_kernel_a_user_replaced_is_not_run_natively():
    try:
        register_kernel("max", lambda x: (x * x).sum(dim=1).sqrt(), neutral=0.0)
        a, b = atom("a", (), "maxprod"), atom("b", (), "maxprod")
        module = lower(Circuit([apply("plus", a, b)]), dynamic="ab", dtype=torch.float64)
        assert isinstance(module, CircuitModule)
        value = module.matrix(torch.tensor([[0.6, 0.8]], dtype=torch.float64))
        torch.testing.assert_close(value, torch.tensor([[1.0]], dtype=torch.float64))
    finally:
        REDUCTIONS["max"] = BUILTIN_REDUCTIONS["max"]


def test_without_a_c_compiler_it_falls_back_and_native_true_names_the_compiler(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("NESY_CACHE", str(tmp_path))
    native.library.cache_clear()
    try:
        prob = Circuit([apply("times", atom("a", (), "prob"), atom("b", (), "prob"))])
        assert isinstance(lower(prob, dynamic="ab", klay=False), CircuitModule)
        with pytest.raises(NesyError, match="C compiler.*no-such-cc"):
            lower(prob, dynamic="ab", native=True)
    finally:
        native.library.cache_clear()
        monkeypatch.undo()
    assert native.library() is not None


def test_the_build_is_kept_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("NESY_CACHE", str(tmp_path))
    native.library.cache_clear()
    try:
        assert native.library() is not None
        (built,) = tmp_path.glob("nesy-native-*.so")
        stamp = built.stat().st_mtime_ns
        native.library.cache_clear()
        assert native.library() is not None
        assert built.stat().st_mtime_ns == stamp  # not compiled again
    finally:
        native.library.cache_clear()


def test_a_copied_circuit_evaluates_as_the_original():
    import copy
    import gc

    a, b, c = (atom(n, (), "prob") for n in "abc")
    module = lower(Circuit([apply("plus", a * b, b * c)]), dynamic="abc", dtype=torch.float64)
    x = torch.tensor([[0.5, 0.25, 0.75]], dtype=torch.float64)
    want = module.matrix(x)
    other = copy.deepcopy(module)
    del module  # its arrays freed: the copy reads its own
    gc.collect()
    torch.testing.assert_close(other.matrix(x), want)


def test_every_op_recorded_gives_the_same_values_and_higher_order_gradients():
    """``fuse = False`` (the cone's torch ops, each recorded) for a batch of three."""
    a, b, c = (atom(n, (), "prob") for n in "abc")
    circuit = Circuit([apply("times", apply("plus", apply("times", a, b), c), apply("plus", a, c))])
    module = lower(circuit, dynamic="abc", dtype=torch.float64)
    assert isinstance(module, NativeCircuit)
    x = torch.tensor([[0.3, 0.4, 0.5], [0.1, 0.2, 0.3], [0.9, 0.8, 0.7]], dtype=torch.float64)
    x.requires_grad_(True)
    native_value = module.matrix(x)
    module.fuse = False
    value = module.matrix(x)
    torch.testing.assert_close(value, native_value)
    (grad,) = torch.autograd.grad(value.sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad[0, 0], x)  # of 2ab + bc + c: (2b, 2a + c, b + 1)
    want = torch.zeros_like(x)
    want[0] = torch.tensor([0.8, 1.1, 1.4])
    torch.testing.assert_close(second, want)


@pytest.mark.parametrize("structure", ["prob", "logprob"])
def test_false_labels_taken_from_a_key_equal_the_generic_module(structure):
    """``a[false]`` labelled by ``a``'s key: the complement in C (prob), or the leaf rows
    computed by torch and given whole (logprob's log1mexp is no native kernel)."""
    a, not_a = atom("a", (), structure, True), atom("a", (), structure, False)
    b = atom("b", (), structure)
    circuit = Circuit([apply("times", apply("plus", a, b), not_a), apply("plus", a, not_a)])
    module = lower(circuit, dynamic="ab", dtype=torch.float64, klay=False)
    generic = lower(circuit, dynamic="ab", dtype=torch.float64, klay=False, native=False)
    assert isinstance(module, NativeCircuit)
    assert (module.cone._kernels is None) == (structure == "logprob")
    p = torch.tensor([[0.3, 0.6], [0.9, 0.2]], dtype=torch.float64)
    x = p if structure == "prob" else p.log()
    results = []
    for m in (module, generic):
        leaf = x.clone().requires_grad_(True)
        value = m.matrix(leaf)
        value[:, 0].sum().backward()
        results.append((value.detach(), leaf.grad))
    (got, dgot), (want, dwant) = results
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(dgot, dwant)
    first = (p[:, 0] + p[:, 1]) * (1 - p[:, 0])  # (a + b)(1 - a)
    torch.testing.assert_close(got[:, 0], first if structure == "prob" else first.log())


def test_labels_in_any_layout_give_the_same_values_and_gradients():
    a, b, c = (atom(n, (), "prob") for n in "abc")
    module = lower(Circuit([apply("plus", a * b, b * c), a * c]), dynamic="abc")
    rows = torch.tensor([[0.2, 0.4, 0.6], [0.7, 0.5, 0.3]])
    layouts = {
        "contiguous": lambda t: t,
        "transposed": lambda t: t.t().contiguous().t(),
        "one row repeated": lambda t: t[:1].expand(4, -1),
        "every other column": lambda t: torch.stack([t, t], 2).flatten(1)[:, ::2],
    }
    results = {}
    for name, layout in layouts.items():
        leaf = rows.clone().requires_grad_(True)
        x = layout(leaf)
        value = module.matrix(x)
        (value * torch.arange(1.0, 3.0)).sum().backward()
        results[name] = (value.detach(), leaf.grad)
        assert x.stride() != (3, 1) or name == "contiguous"
    want, dwant = results["contiguous"]
    for name in ("transposed", "every other column"):
        torch.testing.assert_close(results[name][0], want)
        torch.testing.assert_close(results[name][1], dwant)
    got, dgot = results["one row repeated"]
    torch.testing.assert_close(got, want[:1].expand(4, -1))
    torch.testing.assert_close(dgot[0], 4 * dwant[0])  # four examples read the first row
    assert not dgot[1].any()


def test_an_empty_batch_gives_no_values():
    a, b = atom("a", (), "prob"), atom("b", (), "prob")
    module = lower(Circuit([a * b, a + b]), dynamic="ab")
    x = torch.zeros(0, 2, requires_grad=True)
    value = module.matrix(x)
    assert value.shape == (0, 2)
    value.sum().backward()
    assert x.grad.shape == (0, 2)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_second_derivative_through_the_fused_native_pass_is_refused(weighted):
    """Differentiable once: a second derivative raises (``fuse = False`` gives it, above),
    whether the roots' gradient is a constant or itself wants a gradient."""
    a, b = atom("a", (), "prob"), atom("b", (), "prob")
    module = lower(Circuit([a * b]), dynamic="ab", dtype=torch.float64)
    x = torch.tensor([[0.5, 0.25]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(2.0 if weighted else 1.0, dtype=torch.float64, requires_grad=weighted)
    (grad,) = torch.autograd.grad((module.matrix(x) * w).sum(), x, create_graph=True)
    torch.testing.assert_close(grad, w.detach() * torch.tensor([[0.25, 0.5]], dtype=torch.float64))
    with pytest.raises(RuntimeError, match="twice|does not require grad|not have been used"):
        torch.autograd.grad(grad.sum(), x)


def test_torch_compile_of_a_native_circuit_is_refused_naming_the_alternative():
    module = lower(Circuit([atom("a", (), "prob")]), dynamic="a")
    with pytest.raises(NesyError, match="native=False, compile=True"):
        module.enable_compile()
