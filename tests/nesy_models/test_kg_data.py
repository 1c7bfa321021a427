"""nesy_models.data.kg: the triple-file loader, its errors, and the embedded family tree."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from nesy_models.data.errors import DataError
from nesy_models.data.family_tree import BASE_RELATIONS, DERIVED_RELATIONS, family_tree_splits
from nesy_models.data.kg import KnowledgeGraph, build_kg, load_kg, read_triples

# --- the embedded family tree -------------------------------------------------------------------


def relation_sets(graph: KnowledgeGraph) -> dict[str, set[tuple[str, str]]]:
    """relation name -> its (head, tail) name pairs over train, valid and test together."""
    pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for h, r, t in graph.names(graph.known_triples()):
        pairs[r].add((h, t))
    return pairs


def join(left: set[tuple[str, str]], right: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """{(x, z) : (x, y) in left, (y, z) in right}: the body of a chain rule."""
    by_head = defaultdict(set)
    for y, z in right:
        by_head[y].add(z)
    return {(x, z) for x, y in left for z in by_head[y]}


def test_family_tree_is_deterministic_and_seeded():
    first, again, other = load_kg(), load_kg("family"), load_kg("family", seed=1)
    assert first.name == "family" and first.entities == again.entities
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(first.split(split), again.split(split))
    assert first.entities != other.entities or len(first.train) != len(other.train)
    assert 50 <= first.num_entities <= 150
    assert set(first.relations) == set(BASE_RELATIONS) | set(DERIVED_RELATIONS)
    assert dict(first.unseen) == {"train": 0, "valid": 0, "test": 0}


def test_family_tree_rules_hold_on_all_triples():
    pairs = relation_sets(load_kg())
    male = {x for x, _ in pairs["father"] | pairs["husband"] | pairs["son"]}
    female = {x for x, _ in pairs["mother"] | pairs["wife"] | pairs["daughter"]}
    assert not male & female and len(male | female) == load_kg().num_entities
    parent = pairs["father"] | pairs["mother"]
    assert pairs["parent"] == parent
    assert pairs["child"] == {(y, x) for x, y in parent} == pairs["son"] | pairs["daughter"]
    # grandparent(X, Z) :- parent(X, Y), parent(Y, Z), and nothing else is a grandparent
    assert pairs["grandparent"] == join(parent, parent)
    assert pairs["grandfather"] == {(x, z) for x, z in pairs["grandparent"] if x in male}
    assert pairs["grandchild"] == {(z, x) for x, z in pairs["grandparent"]}
    assert pairs["sibling"] == {(x, z) for x, z in join(pairs["child"], parent) if x != z}
    assert pairs["brother"] == {(x, z) for x, z in pairs["sibling"] if x in male}
    assert pairs["sister"] == pairs["sibling"] - pairs["brother"]
    assert pairs["uncle"] == join(pairs["brother"], parent)
    assert pairs["aunt"] == join(pairs["sister"], parent)
    assert pairs["nephew"] | pairs["niece"] == {(z, x) for x, z in pairs["uncle"] | pairs["aunt"]}
    assert pairs["cousin"] == join(join(pairs["child"], pairs["sibling"]), parent)
    assert pairs["spouse"] == pairs["husband"] | pairs["wife"]
    assert pairs["wife"] == {(w, h) for h, w in pairs["husband"]}


def test_family_tree_split_keeps_base_facts_in_train():
    splits = family_tree_splits(seed=3)
    assert all(r not in BASE_RELATIONS for split in ("valid", "test") for _, r, _ in splits[split])
    everything = [t for split in splits.values() for t in split]
    assert len(set(everything)) == len(everything)  # each triple in exactly one split
    derived = sum(r in DERIVED_RELATIONS for _, r, _ in everything)
    assert 0.07 * derived <= len(splits["test"]) == len(splits["valid"]) <= 0.1 * derived
    graph = build_kg("family", splits)  # every person and relation is known from train
    assert dict(graph.unseen) == {"train": 0, "valid": 0, "test": 0}


# --- reading folders ----------------------------------------------------------------------------


def write_folder(folder: Path, **files: str) -> Path:
    """``folder`` holding ``name.txt`` (or ``name.dict`` for entities / relations) per keyword."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        suffix = "dict" if name in ("entities", "relations") else "txt"
        (folder / f"{name}.{suffix}").write_text(text, encoding="utf-8")
    return folder


TRAIN = "bob\tlikes\tann\nann\tlikes\tcid\n\ncid\tknows\tbob\n"


def test_loader_reads_a_folder_with_sorted_ids(tmp_path):
    folder = write_folder(
        tmp_path / "tiny", train=TRAIN, valid="ann\tknows\tbob\n", test="cid\tlikes\tann"
    )
    graph = load_kg(folder)
    assert graph.name == "tiny"
    assert graph.entities == ("ann", "bob", "cid") and graph.relations == ("knows", "likes")
    assert graph.train.tolist() == [[1, 1, 0], [0, 1, 2], [2, 0, 1]]  # blank line skipped
    assert graph.valid.tolist() == [[0, 0, 1]] and graph.test.tolist() == [[2, 1, 0]]
    assert graph.names(graph.test) == [("cid", "likes", "ann")]
    assert graph.known_triples().shape == (5, 3)
    with pytest.raises(ValueError):
        graph.train[0, 0] = 5  # read-only


def test_loader_uses_dict_files_for_ids(tmp_path):
    folder = write_folder(
        tmp_path / "d",
        train=TRAIN,
        valid="dan\tknows\tbob\n",
        test="ann\tlikes\tbob\n",
        entities="0\tcid\n1\tbob\n2\tann\n3\tdan\n",
        relations="1\tknows\n0\tlikes\n",
    )
    graph = load_kg(folder)
    assert graph.entities == ("cid", "bob", "ann", "dan") and graph.relations == ("likes", "knows")
    assert graph.valid.tolist() == [[3, 1, 1]]  # dan is not in train, but the dict lists it
    assert dict(graph.unseen) == {"train": 0, "valid": 0, "test": 0}


def test_dict_that_misses_a_training_name_is_refused(tmp_path):
    folder = write_folder(
        tmp_path / "d", train=TRAIN, valid=TRAIN, test=TRAIN, entities="0\tann\n1\tbob\n"
    )
    with pytest.raises(DataError, match=r"train\.txt.*'cid'.*entities\.dict"):
        load_kg(folder)
    write_folder(folder, entities="0\tann\n2\tbob\n3\tcid\n")
    with pytest.raises(DataError, match=r"entities\.dict: ids must be 0\.\.2"):
        load_kg(folder)
    write_folder(folder, entities="0\tann\n1\tann\n2\tcid\n")
    with pytest.raises(DataError, match=r"entities\.dict:2: name 'ann' given twice"):
        load_kg(folder)


def test_unseen_valid_and_test_triples_are_counted_and_dropped(tmp_path):
    folder = write_folder(
        tmp_path / "u",
        train=TRAIN,
        valid="ann\tlikes\tbob\nann\thates\tbob\n",  # a relation absent from train
        test="eve\tlikes\tann\nann\tknows\tzed\nbob\tknows\tcid\n",  # two unknown entities
    )
    graph = load_kg(folder)
    assert dict(graph.unseen) == {"train": 0, "valid": 1, "test": 2}
    assert graph.names(graph.valid) == [("ann", "likes", "bob")]
    assert graph.names(graph.test) == [("bob", "knows", "cid")]


def test_all_unseen_leaves_an_empty_split(tmp_path):
    folder = write_folder(tmp_path / "e", train=TRAIN, valid="x\tlikes\ty\n", test="ann\tr9\tbob\n")
    graph = load_kg(folder)
    assert graph.valid.shape == (0, 3) and graph.test.shape == (0, 3)
    assert dict(graph.unseen) == {"train": 0, "valid": 1, "test": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ann\tlikes\tbob\nann likes bob\n",
            r"train\.txt:2: expected 3 tab-separated fields .* got 1",
        ),
        ("ann\tlikes\tbob\n\nann\tlikes\tbob\tcid\n", r"train\.txt:3: expected 3 .* got 4"),
        ("ann\t\tbob\n", r"train\.txt:1: empty relation"),
        ("ann\t \tbob\n", r"train\.txt:1: empty relation"),
        ("\tlikes\tbob\n", r"train\.txt:1: empty head"),
        ("ann\tlikes\t\n", r"train\.txt:1: empty tail"),
        ("", r"train\.txt: empty file"),
        ("\n  \n", r"train\.txt: empty file"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, text, message):
    folder = write_folder(tmp_path / "bad", train=text, valid=TRAIN, test=TRAIN)
    with pytest.raises(DataError, match=message):
        load_kg(folder)


def test_missing_or_binary_file_is_named(tmp_path):
    folder = write_folder(tmp_path / "m", train=TRAIN, valid=TRAIN)
    with pytest.raises(DataError, match=r"test\.txt: file not found"):
        load_kg(folder)
    (folder / "test.txt").write_bytes(b"ann\tlikes\t\xff\n")
    with pytest.raises(Exception, match=r"test\.txt:1:.*UTF-8"):
        read_triples(folder / "test.txt")


def test_named_datasets_resolve_under_data_dir_or_nesy_data(tmp_path, monkeypatch):
    write_folder(tmp_path / "kg" / "kinships", train=TRAIN, valid=TRAIN, test=TRAIN)
    write_folder(tmp_path / "kg" / "rnnlogic-split" / "umls", train=TRAIN, valid=TRAIN, test=TRAIN)
    for data_dir in (tmp_path, tmp_path / "kg"):
        assert load_kg("kinship", data_dir).name == "kinship"
    monkeypatch.setenv("NESY_DATA", str(tmp_path))
    graph = load_kg("umls-rnnlogic")
    assert graph.name == "umls-rnnlogic" and len(graph.train) == 3
    with pytest.raises(DataError, match="'nations': no folder"):
        load_kg("nations")
    monkeypatch.delenv("NESY_DATA")
    with pytest.raises(DataError, match="set NESY_DATA; nothing is downloaded"):
        load_kg("kinship")
    with pytest.raises(DataError, match="neither a knowledge graph name"):
        load_kg("freebase")
    assert load_kg().name == "family"  # the default needs no data


# --- the real benchmarks (NESY_DATA) ------------------------------------------------------------

# name -> entities, relations, train / valid / test triples (../shared/data/README.md)
REAL_COUNTS = {
    "kinship": (104, 25, 8544, 1068, 1074),
    "nations": (14, 55, 1592, 199, 201),
    "umls": (135, 46, 5216, 652, 661),
    "kinship-rnnlogic": (104, 25, 3206, 2137, 5343),
    "umls-rnnlogic": (135, 46, 1959, 1306, 3264),
}


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(REAL_COUNTS))
def test_real_kg_counts(data_dir, name):
    graph = load_kg(name, data_dir)
    counts = (
        graph.num_entities,
        graph.num_relations,
        *(len(graph.split(s)) for s in ("train", "valid", "test")),
    )
    assert counts == REAL_COUNTS[name]
    # no triple dropped: the ConvE splits' valid/test only use names of train, and the RNNLogic
    # splits come with entities.dict / relations.dict that list every name
    assert dict(graph.unseen) == {"train": 0, "valid": 0, "test": 0}


@pytest.mark.data
def test_rnnlogic_umls_without_dicts_drops_unseen(data_dir, tmp_path):
    source = Path(data_dir) / "kg" / "rnnlogic-split" / "umls"
    splits = {s: read_triples(source / f"{s}.txt") for s in ("train", "valid", "test")}
    graph = build_kg("umls-rnnlogic-train-ids", splits)  # ids from train alone
    assert (graph.num_entities, graph.num_relations) == (134, 41)
    assert dict(graph.unseen) == {"train": 0, "valid": 6, "test": 19}
    assert len(graph.test) == 3264 - 19
