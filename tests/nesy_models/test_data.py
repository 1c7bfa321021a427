"""nesy_models.data: the IDX reader, the MNIST loader and its fallback, the task datasets."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from nesy_models.data import (
    DataError,
    load_embedded_digits,
    load_mnist,
    read_idx,
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
