"""Knowledge graphs: ``head<TAB>relation<TAB>tail`` files, or the embedded family tree.

:func:`load_kg` takes a dataset name or a folder. The names ``kinship``, ``umls``, ``nations``
(the ConvE split) and ``kinship-rnnlogic``, ``umls-rnnlogic`` (RNNLogic's re-split) are looked
for under ``data_dir`` when given, else under ``$NESY_DATA/kg``; ``data_dir`` may be the data
folder itself or its ``kg/`` folder. ``family`` (the default) is the generated family tree of
:mod:`.family_tree`, which needs no file. Nothing is ever downloaded.

A folder holds ``train.txt``, ``valid.txt`` and ``test.txt``, one triple a line (blank lines
skipped). Entity and relation ids are the positions of the names in ``entities.dict`` and
``relations.dict`` (``id<TAB>name`` lines) when the folder has them, else those of the sorted
names of the training triples, so ids never depend on the order of lines. A valid or test triple
with an entity or relation the ids do not cover cannot be scored: it is dropped from its split
and counted in :attr:`KnowledgeGraph.unseen`, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from nesy_ir.textfile import read_text

from .digits import frozen
from .errors import DataError
from .family_tree import family_tree_splits

__all__ = ["DATASETS", "KnowledgeGraph", "build_kg", "kg_directory", "load_kg", "read_triples"]

ENV_VAR = "NESY_DATA"
SUBDIR = "kg"
EMBEDDED = "family"
# dataset name -> its folder under the kg/ data folder
DATASETS: dict[str, str] = {
    "kinship": "kinships",
    "umls": "umls",
    "nations": "nations",
    "kinship-rnnlogic": "rnnlogic-split/kinship",
    "umls-rnnlogic": "rnnlogic-split/umls",
}
SPLITS = ("train", "valid", "test")
TRIPLE_FIELDS = ("head", "relation", "tail")
DICT_FIELDS = ("id", "name")

Triple = tuple[str, str, str]


@dataclass(frozen=True, eq=False)
class KnowledgeGraph:
    """A knowledge graph with fixed ids: ``entities[i]`` and ``relations[j]`` are the names of
    ids ``i`` and ``j``; each split is a read-only int64 array (n, 3) of (head, relation, tail)
    ids. ``unseen[split]`` counts the triples of that split dropped because an entity or
    relation of theirs has no id (0 for train)."""

    name: str
    entities: tuple[str, ...]
    relations: tuple[str, ...]
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    unseen: Mapping[str, int]

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def split(self, name: str) -> np.ndarray:
        """The triples of split ``name`` ("train", "valid" or "test")."""
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, name)

    def known_triples(self) -> np.ndarray:
        """Train, valid and test together: what filtered ranking filters against."""
        return np.concatenate([self.train, self.valid, self.test])

    def names(self, triples: np.ndarray) -> list[Triple]:
        """``triples`` (n, 3) of ids as (head, relation, tail) names, to show them."""
        return [(self.entities[h], self.relations[r], self.entities[t]) for h, r, t in triples]


def read_rows(path: Path, fields: tuple[str, ...]) -> list[tuple[int, tuple[str, ...]]]:
    """The non-blank lines of ``path`` as (line number, tab-separated fields, stripped).

    Raises :class:`DataError` naming ``path`` and the line for a line with the wrong number of
    fields or an empty one, and naming ``path`` for a missing file or one without a line."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    rows = []
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        parts = tuple(part.strip() for part in line.split("\t"))
        shown = line if len(line) <= 100 else line[:100] + "..."
        if len(parts) != len(fields):
            raise DataError(
                f"{path}:{number}: expected {len(fields)} tab-separated fields"
                f" ({', '.join(fields)}), got {len(parts)}: {shown!r}"
            )
        for field, part in zip(fields, parts, strict=True):
            if not part:
                raise DataError(f"{path}:{number}: empty {field} in {shown!r}")
        rows.append((number, parts))
    if not rows:
        raise DataError(f"{path}: empty file, expected lines of {', '.join(fields)}")
    return rows


def read_triples(path: str | os.PathLike) -> list[Triple]:
    """The (head, relation, tail) name triples of the file ``path``, in file order."""
    return [(h, r, t) for _, (h, r, t) in read_rows(Path(path), TRIPLE_FIELDS)]


def read_dict(path: Path) -> tuple[str, ...]:
    """The names of an ``id<TAB>name`` file, in id order; ids must be 0..n-1, names unique."""
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    for number, (key, name) in read_rows(path, DICT_FIELDS):
        if not key.isdigit():
            raise DataError(f"{path}:{number}: id {key!r} is not a non-negative integer")
        if int(key) in names:
            raise DataError(f"{path}:{number}: id {key} given twice")
        if name in seen:
            raise DataError(
                f"{path}:{number}: name {name!r} given twice (first on line {seen[name]})"
            )
        names[int(key)], seen[name] = name, number
    if sorted(names) != list(range(len(names))):
        missing = sorted(set(range(len(names))) - set(names))
        raise DataError(f"{path}: ids must be 0..{len(names) - 1}; missing {missing[:5]}")
    return tuple(names[i] for i in range(len(names)))


def build_kg(
    name: str,
    splits: Mapping[str, Sequence[Triple]],
    entities: Sequence[str] | None = None,
    relations: Sequence[str] | None = None,
) -> KnowledgeGraph:
    """A :class:`KnowledgeGraph` from name triples per split. Ids are the positions in
    ``entities`` / ``relations`` when given (every training triple must be covered), else those
    of the sorted names in train; valid and test triples not covered are dropped and counted."""
    train = splits["train"]
    if not train:
        raise DataError(f"knowledge graph {name!r} has no training triples")
    if entities is None:
        entities = sorted({t[0] for t in train} | {t[2] for t in train})
    if relations is None:
        relations = sorted({t[1] for t in train})
    entity_id = {e: i for i, e in enumerate(entities)}
    relation_id = {r: i for i, r in enumerate(relations)}
    arrays: dict[str, np.ndarray] = {}
    unseen: dict[str, int] = {}
    for split in SPLITS:
        kept = [
            (entity_id[h], relation_id[r], entity_id[t])
            for h, r, t in splits[split]
            if h in entity_id and r in relation_id and t in entity_id
        ]
        unseen[split] = len(splits[split]) - len(kept)
        if split == "train" and unseen[split]:
            raise DataError(
                f"knowledge graph {name!r}: {unseen[split]} training triples have a name"
                " missing from the given entities or relations"
            )
        arrays[split] = frozen(np.array(kept, dtype=np.int64).reshape(-1, 3))
    return KnowledgeGraph(
        name,
        tuple(entities),
        tuple(relations),
        arrays["train"],
        arrays["valid"],
        arrays["test"],
        MappingProxyType(unseen),
    )


def read_kg_folder(folder: Path, name: str | None = None) -> KnowledgeGraph:
    """The graph of ``folder`` (train/valid/test.txt, and entities/relations.dict if there)."""
    splits = {split: read_triples(folder / f"{split}.txt") for split in SPLITS}
    vocabulary = {}
    for kind in ("entities", "relations"):
        path = folder / f"{kind}.dict"
        vocabulary[kind] = read_dict(path) if path.is_file() else None
    for kind, positions in (("entities", (0, 2)), ("relations", (1,))):
        if vocabulary[kind] is None:
            continue
        listed = set(vocabulary[kind])
        for triple in splits["train"]:  # a .dict must cover train: say which name it misses
            for missing in (triple[i] for i in positions if triple[i] not in listed):
                raise DataError(
                    f"{folder / 'train.txt'}: triple {triple} has {missing!r},"
                    f" which {folder / f'{kind}.dict'} does not list"
                )
    return build_kg(name or folder.name, splits, vocabulary["entities"], vocabulary["relations"])


def kg_directory(dataset: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the named ``dataset``: under ``data_dir`` (itself or its ``kg/``), else
    under ``$NESY_DATA/kg``; an error saying how to give it when neither is there."""
    if dataset not in DATASETS:
        raise DataError(
            f"unknown knowledge graph {dataset!r}; expected one of {', '.join(DATASETS)}"
        )
    if data_dir is None:
        root = os.environ.get(ENV_VAR)
        if not root:
            raise DataError(
                f"knowledge graph {dataset!r} is read from files: pass data_dir (the data folder"
                f" holding {SUBDIR}/) or set {ENV_VAR}; nothing is downloaded"
                f" (the embedded one is {EMBEDDED!r})"
            )
        data_dir = Path(root) / SUBDIR
    base = Path(data_dir)
    for folder in (base / DATASETS[dataset], base / SUBDIR / DATASETS[dataset]):
        if folder.is_dir():
            return folder
    raise DataError(f"knowledge graph {dataset!r}: no folder {base / DATASETS[dataset]}")


def load_kg(
    dataset_or_path: str | os.PathLike = EMBEDDED,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> KnowledgeGraph:
    """The knowledge graph ``dataset_or_path``: ``"family"`` (generated from ``seed``, no file
    read), a name of :data:`DATASETS` (under ``data_dir`` or ``$NESY_DATA/kg``), or a folder
    with train.txt, valid.txt and test.txt."""
    if isinstance(dataset_or_path, str) and dataset_or_path == EMBEDDED:
        return build_kg(EMBEDDED, family_tree_splits(seed))
    if isinstance(dataset_or_path, str) and dataset_or_path in DATASETS:
        return read_kg_folder(kg_directory(dataset_or_path, data_dir), dataset_or_path)
    folder = Path(dataset_or_path)
    if folder.is_dir():
        return read_kg_folder(folder)
    raise DataError(
        f"{os.fspath(dataset_or_path)!r} is neither a knowledge graph name"
        f" ({', '.join([EMBEDDED, *DATASETS])}) nor a folder with train.txt, valid.txt, test.txt"
    )
