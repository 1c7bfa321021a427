"""nesy_models.data: the IDX reader, the MNIST loader and its fallback, the task datasets."""

from __future__ import annotations

import gzip
import itertools
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nesy_models.data import (
    CONSTRAINT_PAIRS,
    DataError,
    DigitImages,
    addition_dataset,
    addition_splits,
    epoch_batches,
    holdout,
    load_embedded_digits,
    load_mnist,
    random_shifts,
    read_idx,
    shift_images,
    sudoku_dataset,
    sudoku_splits,
    to_torch,
    valid_grids,
    violations,
)

TYPE_CODES = {np.uint8: 0x08, np.int32: 0x0C, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` in the IDX format, written independently of the reader under test."""
    header = bytes([0, 0, TYPE_CODES[array.dtype.type], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes, gz: bool) -> Path:
    path = path.with_name(path.name + ".gz") if gz else path
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_mnist(directory: Path, split_prefix: str, images: np.ndarray, labels, gz: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write(directory / f"{split_prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(directory / f"{split_prefix}-labels-idx1-ubyte", idx_bytes(np.asarray(labels)), gz)


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("NESY_DATA", raising=False)


@pytest.fixture
def small_mnist(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=12).astype(np.uint8)
    write_mnist(tmp_path / "mnist", "train", images, labels, gz=True)
    write_mnist(tmp_path / "mnist", "t10k", images[:5], labels[:5], gz=False)
    return tmp_path, images, labels


# --- the IDX reader ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-5, 0, 70000], dtype=np.int32),
        np.linspace(-1, 1, 6).reshape(3, 2),
    ],
    ids=["uint8-3d", "int32-1d", "float64-2d"],
)
def test_read_idx_round_trips(tmp_path, array, gz):
    path = write(tmp_path / "x-idx", idx_bytes(array), gz)
    read = read_idx(path)
    assert read.dtype == array.dtype and read.shape == array.shape
    np.testing.assert_array_equal(read, array)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "bad magic number"),
        (b"\x08\x03\x00\x00" + bytes(8), "bad magic number"),
        (b"\x00\x00\x07\x01" + bytes(8), "bad magic number"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (idx_bytes(np.zeros((3, 4), np.uint8))[:-1], "truncated"),
        (idx_bytes(np.zeros((3, 4), np.uint8)) + b"\x00", "trailing data"),
        (gzip.compress(idx_bytes(np.zeros((30, 40), np.uint8)))[:-9], "corrupt or truncated gzip"),
    ],
    ids=["empty", "magic", "type", "header", "short", "long", "gzip"],
)
def test_read_idx_rejects_corrupt_files_naming_them(tmp_path, data, message):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(DataError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value)
    assert path.read_bytes() == data  # nothing overwritten


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="nothing-here.*not found"):
        read_idx(tmp_path / "nothing-here")


# --- load_mnist from IDX files ------------------------------------------------------------------


@pytest.mark.parametrize("given", ["root", "mnist"])
def test_load_mnist_from_directory(small_mnist, no_env, given):
    root, images, labels = small_mnist
    train = load_mnist(root if given == "root" else root / "mnist")
    assert train.source == "mnist"
    assert train.images.dtype == np.float32 and train.labels.dtype == np.int64
    np.testing.assert_allclose(train.images, images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(train.labels, labels)
    test = load_mnist(root, split="test")  # plain, not gzip'd
    np.testing.assert_array_equal(test.labels, labels[:5])


def test_load_mnist_from_environment(small_mnist, monkeypatch):
    root, _, labels = small_mnist
    monkeypatch.setenv("NESY_DATA", str(root))
    loaded = load_mnist(split="train")
    assert loaded.source == "mnist"
    np.testing.assert_array_equal(loaded.labels, labels)


def test_load_mnist_arrays_are_read_only(small_mnist, no_env):
    loaded = load_mnist(small_mnist[0])
    with pytest.raises(ValueError, match="read-only"):
        loaded.images[0, 0, 0] = 1


def test_load_mnist_missing_directory(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    monkeypatch.setenv("NESY_DATA", str(tmp_path))  # a NESY_DATA without mnist/
    with pytest.raises(DataError, match=f"{tmp_path / 'mnist'} does not exist"):
        load_mnist()


def test_load_mnist_missing_file_is_named(small_mnist, no_env):
    root = small_mnist[0]
    (root / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\[\.gz\] not found"):
        load_mnist(root, split="test")


def test_load_mnist_corrupt_file_is_named(small_mnist, no_env):
    path = small_mnist[0] / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*truncated"):
        load_mnist(small_mnist[0], split="test")


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((3, 28, 27), np.uint8), np.zeros(3, np.uint8), "shape"),
        (np.zeros((3, 28, 28), np.uint8), np.zeros(4, np.uint8), "expected 3 labels"),
        (np.zeros((3, 28, 28), np.uint8), np.array([1, 10, 2], np.uint8), "outside 0..9"),
    ],
    ids=["image-shape", "count", "label-range"],
)
def test_load_mnist_inconsistent_files(tmp_path, no_env, images, labels, message):
    write_mnist(tmp_path, "train", images, labels, gz=False)
    with pytest.raises(DataError, match=message):
        load_mnist(tmp_path)


def test_load_mnist_unknown_split(no_env):
    with pytest.raises(DataError, match="unknown split 'valid'"):
        load_mnist(split="valid")


# --- the embedded fallback ----------------------------------------------------------------------


def test_embedded_fallback_shapes_ranges_and_split(no_env):
    train, test = load_mnist(split="train"), load_mnist(split="test")
    assert train.source == test.source == "embedded"
    assert train.images.shape == (1438, 28, 28) and test.images.shape == (359, 28, 28)
    for part in (train, test):
        assert part.images.dtype == np.float32 and part.labels.dtype == np.int64
        assert part.images.min() == 0.0 and part.images.max() == 1.0
        assert set(part.labels.tolist()) == set(range(10))
        assert not part.images[:, :4].any() and not part.images[:, -4:].any()  # MNIST-like border
    # scikit-learn's digits, every fifth one for test, upsampled as torch's bilinear resize does
    torch = pytest.importorskip("torch")
    from sklearn.datasets import load_digits

    digits = load_digits()
    assert np.array_equal(train.labels[:4], digits.target[:4])
    assert np.array_equal(test.labels[:2], digits.target[[4, 9]])
    resized = torch.nn.functional.interpolate(
        torch.from_numpy(digits.images[[4, 9]] / 16.0)[:, None],
        size=(20, 20),
        mode="bilinear",
        align_corners=False,
    )[:, 0]
    np.testing.assert_allclose(test.images[:2, 4:24, 4:24], resized.numpy(), atol=1e-6)


def test_embedded_fallback_is_deterministic(no_env):
    first = load_embedded_digits("train")
    load_embedded_digits.cache_clear()
    again = load_embedded_digits("train")
    assert first is not again
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.labels, again.labels)


# --- real MNIST (NESY_DATA) ---------------------------------------------------------------------


@pytest.mark.data
def test_real_mnist_shapes(data_dir):
    train, test = load_mnist(data_dir, "train"), load_mnist(data_dir, "test")
    assert train.source == test.source == "mnist"
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.labels.shape == (60000,) and test.labels.shape == (10000,)
    assert train.images.min() == 0.0 and train.images.max() == 1.0
    assert train.labels[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]  # the published first labels
    assert np.bincount(test.labels).tolist()[:2] == [980, 1135]


# --- datasets built on a small deterministic digit source -----------------------------------------


def digit_source(n: int = 400, seed: int = 0) -> DigitImages:
    """``n`` images whose every pixel is its label / 10, so a test can read digits off images."""
    labels = np.random.default_rng(seed).integers(0, 10, size=n).astype(np.int64)
    images = np.broadcast_to(labels[:, None, None] / 10, (n, 28, 28)).astype(np.float32)
    return DigitImages(images, labels, "test")


def number(digits: np.ndarray) -> int:
    return int("".join(map(str, digits)))


def test_holdout_is_a_partition():
    kept, held = holdout(100, 0.2, seed=3)
    assert len(held) == 20 and sorted([*kept, *held]) == list(range(100))
    with pytest.raises(DataError, match="validation fraction"):
        holdout(10, 1.0, seed=0)


# --- MNIST addition -----------------------------------------------------------------------------


@pytest.mark.parametrize("n_digits", [1, 2, 3, 20])
def test_addition_sums_are_correct(n_digits):
    source = digit_source()
    data = addition_dataset(source, n_digits, seed=1)
    assert data.n_digits == n_digits and data.index.shape == (400 // (2 * n_digits), 2 * n_digits)
    np.testing.assert_array_equal(data.digits, source.labels[data.index])
    for digits, total, total_digits in zip(data.digits, data.sums, data.sum_digits, strict=True):
        expected = number(digits[:n_digits]) + number(digits[n_digits:])
        assert int(total) == expected and number(total_digits) == expected
        assert len(total_digits) == n_digits + 1
    assert data.sums.dtype == (np.int64 if n_digits <= 17 else object)
    batch = data.gather(np.array([0, 2]))  # images match the digits
    np.testing.assert_allclose(batch[:, :, 0, 0], data.digits[[0, 2]] / 10, rtol=1e-6)


def test_addition_uses_each_image_at_most_once():
    data = addition_dataset(digit_source(401), 2, seed=5)
    used = data.index.ravel()
    assert len(used) == 400 and len(np.unique(used)) == 400  # one leftover image unused


def test_addition_is_deterministic_by_seed():
    source = digit_source()
    first, again = addition_dataset(source, 2, seed=7), addition_dataset(source, 2, seed=7)
    np.testing.assert_array_equal(first.index, again.index)
    assert not np.array_equal(first.index, addition_dataset(source, 2, seed=8).index)


def test_addition_splits_are_disjoint_and_deterministic():
    train, test = digit_source(500), digit_source(120, seed=1)
    splits = addition_splits(train, test, 1, seed=4, val_fraction=0.2)
    assert [len(part) for part in splits] == [200, 50, 60]
    assert not set(splits.train.index.ravel()) & set(splits.val.index.ravel())
    assert splits.test.images is test.images
    again = addition_splits(train, test, 1, seed=4, val_fraction=0.2)
    for part, same in zip(splits, again, strict=True):
        np.testing.assert_array_equal(part.index, same.index)


def test_addition_errors():
    with pytest.raises(DataError, match="n_digits >= 1"):
        addition_dataset(digit_source(), 0, seed=0)
    with pytest.raises(DataError, match="too few"):
        addition_dataset(digit_source(5), 3, seed=0)


# --- 4x4 visual Sudoku --------------------------------------------------------------------------

GROUP_CELLS = (
    [[(r, c) for c in range(4)] for r in range(4)]
    + [[(r, c) for r in range(4)] for c in range(4)]
    + [[(r + dr, c + dc) for dr in (0, 1) for dc in (0, 1)] for r in (0, 2) for c in (0, 2)]
)


def broken_groups(grid: np.ndarray) -> int:
    """How many rows, columns and boxes of ``grid`` repeat a digit (checked without the library)."""
    return sum(len({int(grid[cell]) for cell in group}) < 4 for group in GROUP_CELLS)


def equal_pairs(grid: np.ndarray) -> set[tuple[tuple[int, int], tuple[int, int]]]:
    """The pairs of cells that share a group and hold the same digit."""
    return {
        (a, b)
        for group in GROUP_CELLS
        for a, b in itertools.combinations(sorted(group), 2)
        if grid[a] == grid[b]
    }


def test_valid_grids_are_all_the_4x4_sudokus():
    grids = valid_grids()
    assert grids.shape == (288, 4, 4)  # the known count of 4x4 Sudokus
    assert len({g.tobytes() for g in grids}) == 288
    assert all(broken_groups(grid) == 0 for grid in grids)
    assert len(CONSTRAINT_PAIRS) == 56 and not violations(grids).any()


def test_sudoku_validity_labels_constraints_and_images():
    source = digit_source(600)
    data = sudoku_dataset(source, 101, seed=2)
    assert data.index.shape == (101, 16) and data.grids.shape == (101, 4, 4)
    assert data.valid.sum() == 50 and set(data.valid.tolist()) == {0, 1}  # balanced
    assert 0 < data.valid[:50].sum() < 50  # shuffled
    assert set(np.unique(data.grids).tolist()) == {1, 2, 3, 4}
    np.testing.assert_array_equal(source.labels[data.index], data.grids.reshape(-1, 16))
    for grid, valid, cell in zip(data.grids, data.valid, data.corrupted, strict=True):
        pairs = equal_pairs(grid)
        assert violations(grid[None]).sum() == len(pairs)
        if valid:
            assert broken_groups(grid) == 0 and cell == -1
        else:  # every violated constraint involves the one corrupted cell ...
            assert pairs and all(divmod(int(cell), 4) in pair for pair in pairs)
            # ... and changing it back to the one missing digit gives a valid grid
            repaired = grid.copy()
            repaired[divmod(int(cell), 4)] = ({1, 2, 3, 4} - set(grid[int(cell) // 4])).pop()
            assert broken_groups(repaired) == 0


def test_no_grid_violates_exactly_one_constraint():
    """Why invalid grids are one-cell corruptions: no grid violates exactly one `different`
    pair, or repeats a digit in exactly one row, column or box (exhaustive, row by row)."""
    rows = np.array(list(itertools.product(range(1, 5), repeat=4)))
    cells = [[r * 4 + c for r, c in group] for group in GROUP_CELLS]

    def counts(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        filled = flat.shape[1]
        broken_pairs = violations(flat.reshape(len(flat), -1, 4)).sum(axis=1)
        broken = np.zeros(len(flat), dtype=int)
        for group in cells:
            values = np.sort(flat[:, [cell for cell in group if cell < filled]], axis=1)
            broken += (values[:, 1:] == values[:, :-1]).any(axis=1)
        return broken_pairs, broken

    grids = rows
    for _ in range(3):
        grids = np.concatenate([np.repeat(grids, len(rows), 0), np.tile(rows, (len(grids), 1))], 1)
        broken_pairs, broken = counts(grids)
        grids = grids[(broken_pairs <= 1) | (broken <= 1)]
    broken_pairs, broken = counts(grids)
    assert (broken_pairs == 0).sum() == 288
    assert not (broken_pairs == 1).any() and not (broken == 1).any()


def test_sudoku_is_deterministic_and_splits_are_disjoint():
    train, test = digit_source(800), digit_source(300, seed=1)
    splits = sudoku_splits(train, test, 40, 10, 12, seed=3, val_fraction=0.25)
    assert [len(part) for part in splits] == [40, 10, 12]
    assert not set(splits.train.index.ravel()) & set(splits.val.index.ravel())
    again = sudoku_splits(train, test, 40, 10, 12, seed=3, val_fraction=0.25)
    for part, same in zip(splits, again, strict=True):
        np.testing.assert_array_equal(part.index, same.index)
        np.testing.assert_array_equal(part.grids, same.grids)
    other = sudoku_splits(train, test, 40, 10, 12, seed=4, val_fraction=0.25)
    assert not np.array_equal(splits.train.grids, other.train.grids)


def test_sudoku_errors():
    with pytest.raises(DataError, match="n_examples >= 1"):
        sudoku_dataset(digit_source(), 0, seed=0)
    only_zeros = DigitImages(np.zeros((5, 28, 28), np.float32), np.zeros(5, np.int64), "test")
    with pytest.raises(DataError, match="no image of digit 1"):
        sudoku_dataset(only_zeros, 4, seed=0)


# --- batches ------------------------------------------------------------------------------------


@pytest.mark.parametrize("drop_last", [False, True])
def test_epoch_batches_cover_each_row_once(drop_last):
    batches = epoch_batches(10, 4, seed=1, epoch=0, drop_last=drop_last)
    assert [len(b) for b in batches] == ([4, 4] if drop_last else [4, 4, 2])
    rows = np.concatenate(batches)
    assert len(set(rows.tolist())) == len(rows) and set(rows.tolist()) <= set(range(10))
    if not drop_last:
        assert sorted(rows.tolist()) == list(range(10))


def test_epoch_batches_depend_on_seed_and_epoch_only():
    def order(seed, epoch):
        return np.concatenate(epoch_batches(50, 8, seed, epoch)).tolist()

    assert order(0, 0) == order(0, 0)
    assert order(0, 0) != order(0, 1) and order(0, 0) != order(1, 0)
    with pytest.raises(DataError, match="batch_size"):
        epoch_batches(10, 0, seed=0, epoch=0)


def test_to_torch_shares_writable_arrays_and_copies_read_only_ones():
    torch = pytest.importorskip("torch")
    data = addition_dataset(digit_source(), 1, seed=0)
    images = data.gather(np.arange(3))
    tensor, digits = to_torch(images, data.digits)
    assert tensor.shape == (3, 2, 28, 28) and tensor.dtype == torch.float32
    assert digits.dtype == torch.int64
    tensor[0, 0, 0, 0] = 9.0
    assert images[0, 0, 0, 0] == 9.0  # no copy of a fresh batch
    (frozen,) = to_torch(load_embedded_digits("test").labels)
    assert frozen.shape == (359,)


@given(
    st.integers(1, 4),
    st.integers(3, 9),
    st.integers(3, 9),
    st.integers(0, 3),
    st.integers(0, 2**31 - 1),
)
@settings(max_examples=40, deadline=None)
def test_shift_images_moves_every_pixel_and_blanks_the_rest(n, height, width, most, seed):
    rng = np.random.default_rng(seed)
    images = rng.random((n, 2, height, width)) + 1.0  # no pixel is 0 before the shift
    shifts = random_shifts([seed], (n, 2), most)
    moved = shift_images(images, shifts)
    assert np.abs(shifts).max(initial=0) <= most
    for idx in np.ndindex(n, 2):
        dy, dx = shifts[idx]
        for y, x in np.ndindex(height, width):
            inside = 0 <= y - dy < height and 0 <= x - dx < width
            assert moved[idx][y, x] == (images[idx][y - dy, x - dx] if inside else 0.0)


def test_shift_images_rejects_mismatched_shifts():
    with pytest.raises(DataError, match=r"shifts of shape \(3, 2\)"):
        shift_images(np.zeros((2, 28, 28)), np.zeros((3, 2), dtype=int))
