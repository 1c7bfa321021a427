"""NeuroRule from pixels on generated scene graphs: the generator's invariants, the relations and
spatial features on hand-made boxes, ROI pooling, PredCls recall on known rankings, the rule
engine over batches of scenes, rule recovery, and the commands' answers to bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nesy_ir.cli import main
from nesy_models.data.errors import DataError
from nesy_models.neurorule import NeuroRule
from nesy_models.neurorule.explain import learned_rules
from nesy_models.neurorule.scenes.config import SceneConfig
from nesy_models.neurorule.scenes.generate import (
    MAX_OBJECTS,
    MIN_OBJECTS,
    build_scenes,
    generate_scenes,
    scene_splits,
)
from nesy_models.neurorule.scenes.perception import Perception, spatial_features
from nesy_models.neurorule.scenes.recall import recalls
from nesy_models.neurorule.scenes.relations import (
    CATEGORIES,
    COMPOSED,
    PLANTED,
    PREDICATES,
    PRIMITIVES,
    SINGLE_STEP,
    ZERO_SHOT,
    primitive_truths,
    rule_holds,
    scene_truths,
)
from nesy_models.neurorule.scenes.train import KINDS, train_scenes, unfold

P = {name: i for i, name in enumerate(PREDICATES)}
C = {name: i for i, name in enumerate(CATEGORIES)}


@pytest.fixture(scope="module")
def splits():
    return scene_splits((60, 20, 20, 20), seed=3)


def composed_pairs(scenes):
    """Every composed triple of ``scenes`` as (relation, subject category, object category)."""
    out = set()
    for i in range(len(scenes)):
        for p, s, o in np.argwhere(scenes.truths[i, len(PRIMITIVES) :]):
            cats = scenes.categories[i]
            out.add((COMPOSED[p], CATEGORIES[cats[s]], CATEGORIES[cats[o]]))
    return out


def test_every_composed_triple_follows_from_its_planted_rule(splits):
    for scenes in splits.values():
        assert ((scenes.counts >= MIN_OBJECTS) & (scenes.counts <= MAX_OBJECTS)).all()
        for i in range(len(scenes)):
            n = scenes.counts[i]
            truths = scenes.truths[i, :, :n, :n]
            assert not truths[:, np.arange(n), np.arange(n)].any()
            assert not scenes.truths[i, :, n:].any() and not scenes.truths[i, :, :, n:].any()
            # the relations are those of the boxes and categories
            boxes, cats = scenes.boxes[i, :n], scenes.categories[i, :n]
            np.testing.assert_array_equal(truths, scene_truths(boxes, cats, scenes.canvas))
            primitives = dict(zip(PRIMITIVES, truths[: len(PRIMITIVES)], strict=True))
            for head in COMPOSED:
                implied = rule_holds(PLANTED[head], primitives) & ~np.eye(n, dtype=bool)
                np.testing.assert_array_equal(truths[P[head]], implied)
    assert composed_pairs(splits["train"]), "the training scenes hold composed triples"


def test_the_zero_shot_split_shares_no_composed_category_pair_with_training(splits):
    training = {(s, o) for _, s, o in composed_pairs(splits["train"])}
    zero_shot = {(s, o) for _, s, o in composed_pairs(splits["zero_shot"])}
    assert zero_shot and zero_shot <= ZERO_SHOT
    assert not training & zero_shot
    for i in range(len(splits["zero_shot"])):
        assert splits["zero_shot"].truths[i, len(PRIMITIVES) :].any()


def test_carries_is_riding_reversed_and_held_out_for_a_disc_carrying_a_cross(splits):
    assert SINGLE_STEP == ("carries",) and PLANTED["carries"] == (("riding", True),)
    assert sorted(KINDS["single-step"] + KINDS["through-object"]) == [P[c] for c in COMPOSED]
    for scenes in splits.values():
        riding = scenes.truths[:, P["riding"]]
        np.testing.assert_array_equal(scenes.truths[:, P["carries"]], riding.transpose(0, 2, 1))
    carried = {
        name: {(s, o) for head, s, o in composed_pairs(scenes) if head == "carries"}
        for name, scenes in splits.items()
    }
    # training sees vehicles carry riders, a cross on a crate included, never on a disc
    assert {("crate", "cross"), ("disc", "triangle")} <= carried["train"]
    assert ("disc", "cross") not in carried["train"] | carried["valid"] | carried["test"]
    assert carried["zero_shot"] == {("disc", "cross")}


def test_splits_are_seeded():
    a, b = generate_scenes(5, seed=1), generate_scenes(5, seed=1)
    for x, y in zip(a.arrays(), b.arrays(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.boxes, generate_scenes(5, seed=2).boxes)


def test_label_noise_drops_composed_training_triples_only():
    clean = scene_splits((40, 10, 10, 10), seed=0)
    noisy = scene_splits((40, 10, 10, 10), seed=0, noise=0.5)
    k = len(PRIMITIVES)
    np.testing.assert_array_equal(clean["train"].truths[:, :k], noisy["train"].truths[:, :k])
    assert not (noisy["train"].truths[:, k:] & ~clean["train"].truths[:, k:]).any()
    assert noisy["train"].truths[:, k:].sum() < clean["train"].truths[:, k:].sum()
    np.testing.assert_array_equal(clean["test"].truths, noisy["test"].truths)


def test_primitive_relations_of_hand_made_boxes():
    # a cross on a disc on a bar inside a frame, and a triangle to the right of the bar
    boxes = np.array(
        [[10, 20, 16, 26], [9, 26, 17, 34], [4, 34, 24, 38], [2, 32, 26, 40], [40, 30, 46, 36]]
    )
    cats = np.array([C["cross"], C["disc"], C["bar"], C["frame"], C["triangle"]])
    t = scene_truths(boxes, cats, 64)
    holds = {(PREDICATES[p], s, o) for p, s, o in np.argwhere(t)}
    for fact in [
        ("on", 0, 1),
        ("on", 1, 2),
        ("riding", 0, 1),
        ("inside", 2, 3),
        ("above", 0, 2),
        ("left_of", 2, 4),
        ("travel_on", 0, 2),
        ("travel_in", 0, 3),
        ("carries", 1, 0),
    ]:
        assert fact in holds, fact
    for fact in [
        ("riding", 1, 2),
        ("above", 0, 1),
        ("inside", 0, 3),
        ("near", 0, 1),
        ("carries", 0, 1),
        ("carries", 2, 1),
    ]:
        assert fact not in holds, fact
    # a cross on a cross is on it, not riding it
    t = primitive_truths(np.array([[0, 0, 6, 6], [0, 6, 6, 12]]), np.array([C["cross"]] * 2), 64)
    assert t[PRIMITIVES.index("on"), 0, 1] and not t[PRIMITIVES.index("riding"), 0, 1]


def test_spatial_features_of_hand_made_boxes():
    boxes = torch.tensor([[[0, 0, 10, 10], [20, 0, 40, 5], [0, 0, 10, 10]]])
    psi = spatial_features(boxes, 64)[0]
    dx, dy, dxc, dyc, lw, lh, iou, dist, sin, cos, *gaps = psi[0, 1].tolist()
    assert (dx, dy) == pytest.approx((25 / 10, -2.5 / 10))
    assert (dxc, dyc) == pytest.approx((25 / 64, -2.5 / 64))
    assert (lw, lh) == pytest.approx((math.log(2), math.log(0.5)))
    assert iou == 0.0 and psi[0, 2, 6] == pytest.approx(1.0)
    assert dist == pytest.approx(math.hypot(25, 2.5) / 64)
    assert (sin, cos) == pytest.approx((-2.5 / math.hypot(25, 2.5), 25 / math.hypot(25, 2.5)))
    assert gaps[0] == pytest.approx(10 / 64 * 8)  # the second box starts 10 pixels right of it


def test_roi_pooling_reads_its_box_and_the_receptive_field_only():
    torch.manual_seed(0)
    perception = Perception(features=32).eval()
    images = torch.rand(1, 3, 64, 64)
    boxes = torch.tensor([[[4, 4, 16, 16]]])
    changed = images.clone()
    changed[..., 40:, 40:] = torch.rand(1, 3, 24, 24)  # far beyond the box and the CNN's reach
    with torch.no_grad():
        f = perception(images, boxes)
        assert torch.equal(f, perception(changed, boxes))
        inside = images.clone()
        inside[..., 8:12, 8:12] = 0.0
        assert not torch.allclose(f, perception(inside, boxes))


def test_recall_on_a_known_ranking():
    # 3 objects; truths: on(0, 1), above(0, 1) (one pair, two predicates), near(2, 0)
    truths = np.zeros((1, len(PREDICATES), 3, 3), dtype=bool)
    truths[0, P["on"], 0, 1] = truths[0, P["above"], 0, 1] = truths[0, P["near"], 2, 0] = True
    scores = np.zeros(truths.shape)
    scores[0, P["on"], 0, 1], scores[0, P["above"], 0, 1] = 0.9, 0.8
    scores[0, P["left_of"], 1, 2] = 0.7
    scores[0, P["near"], 2, 0] = 0.6
    r = recalls(scores, truths, np.array([3]), ks=(1, 2, 3))
    # with the graph constraint (0, 1) keeps on only: on, left_of, near
    assert (r["R@1"], r["R@2"], r["R@3"]) == pytest.approx((100 / 3, 100 / 3, 200 / 3))
    # without: on, above, left_of, near
    assert (r["ngR@1"], r["ngR@2"], r["ngR@3"]) == pytest.approx((100 / 3, 200 / 3, 200 / 3))
    # per class (on, above, near): at K = 2 on and above found, near not
    assert r["ngmR@2"] == pytest.approx(200 / 3) and r["mR@3"] == pytest.approx(200 / 3)
    only_near = recalls(scores, truths, np.array([3]), ks=(3,), predicates=[P["near"]])
    assert only_near["R@3"] == pytest.approx(100.0) and only_near["ngR@3"] == 0.0


def test_the_engine_over_a_batch_of_scenes_equals_one_scene_at_a_time():
    torch.manual_seed(0)
    model = NeuroRule(5, 4, rules=3, length=3, hops=2, mixed=True, heads=[1, 3])
    adjacency = torch.rand(6, 2 * 4 + 1, 5, 5)
    batched = model(adjacency)
    assert batched.logits.shape == (6, 2, 5, 5)
    for i in range(6):
        one = model(adjacency[i])
        torch.testing.assert_close(batched.logits[i], one.logits)
        torch.testing.assert_close(batched.bodies[i], one.bodies)
    # the relations that no rule derives reach the last hop as they were
    last = model.last_adjacency(adjacency)
    torch.testing.assert_close(last[:, [0, 2]], adjacency[:, [0, 2]])
    assert (last[:, [1, 3]] >= adjacency[:, [1, 3]]).all()


def test_unfold_rewrites_composed_relations_by_their_planted_bodies():
    assert unfold((("travel_on", False), ("inside", False))) == PLANTED["travel_in"]
    assert unfold((("travel_on", True),)) == (("on", True), ("riding", True))
    assert unfold(PLANTED["same_frame"]) == PLANTED["same_frame"]


@pytest.mark.parametrize(("head", "length"), [("travel_on", 2), ("carries", 1)])
def test_the_engine_recovers_a_planted_rule_from_true_primitives(head, length):
    scenes = generate_scenes(150, seed=5)
    k = len(PRIMITIVES)
    facts = torch.as_tensor(scenes.truths[:, :k]).float()
    eye = torch.eye(MAX_OBJECTS)[None, None].expand(len(scenes), 1, -1, -1)
    composed = torch.zeros(len(scenes), len(COMPOSED), MAX_OBJECTS, MAX_OBJECTS)
    relations = torch.cat([facts, composed], dim=1)
    adjacency = torch.cat([relations, relations.transpose(-1, -2), eye], dim=1)
    target = torch.as_tensor(scenes.truths[:, [P[head]]]).float()
    torch.manual_seed(0)
    model = NeuroRule(
        MAX_OBJECTS,
        len(PREDICATES),
        rules=2,
        length=length,
        relations=PREDICATES,
        heads=[P[head]],
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(adjacency).logits, target, reduction="sum"
        ) / len(scenes)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    best = learned_rules(model, top=1)[0]
    assert best.body == PLANTED[head], str(best)


def test_build_scenes_refuses_bad_layouts():
    with pytest.raises(DataError, match="unknown category 'horse'"):
        build_scenes([[("cross", (0, 0, 5, 5)), ("horse", (10, 10, 20, 20))]])
    with pytest.raises(DataError, match="scene 1 has 0 objects"):
        build_scenes([[("cross", (0, 0, 5, 5))], []])
    with pytest.raises(DataError, match="not a box inside the 64 x 64 canvas"):
        build_scenes([[("disc", (60, 0, 70, 5))]])
    scenes = build_scenes([[("cross", (10, 2, 16, 8)), ("disc", (10, 8, 18, 16))]])
    assert scenes.truths[0, P["riding"], 0, 1] and scenes.counts[0] == 2


def test_cli_trains_explains_and_draws(tmp_path, capsys):
    checkpoint, png, chain = tmp_path / "m.pt", tmp_path / "s.png", tmp_path / "c.png"
    code = main(
        [
            "train",
            "neurorule-scenes",
            "--scenes",
            "40",
            "10",
            "10",
            "10",
            "--epochs",
            "2",
            "--templates",
            "2",
            "--max-length",
            "2",
            "--checkpoint",
            str(checkpoint),
            "--plot",
            str(png),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "test, graph constraint" in out and "planted rules recovered" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code = main(
        [
            "explain",
            "neurorule-scenes",
            "--checkpoint",
            str(checkpoint),
            "--scene",
            "1",
            "--threshold",
            "0.0",
            "--plot",
            str(chain),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("test scene 1: ") and "via" in out
    assert chain.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_refuses_a_checkpoint_of_the_other_task_and_keeps_it(tmp_path, capsys):
    kg = tmp_path / "kg.pt"
    assert (
        main(
            [
                "train",
                "neurorule",
                "--epochs",
                "1",
                "--checkpoint",
                str(kg),
                "--no-progress",
            ]
        )
        == 0
    )
    before = kg.read_bytes()
    capsys.readouterr()
    assert main(["explain", "neurorule-scenes", "--checkpoint", str(kg)]) == 2
    assert "it is a knowledge-graph NeuroRule checkpoint" in capsys.readouterr().err
    assert kg.read_bytes() == before


def test_cli_refuses_a_scene_that_does_not_exist(tmp_path, capsys):
    checkpoint = tmp_path / "m.pt"
    assert (
        main(
            [
                "train",
                "neurorule-scenes",
                "--variant",
                "A",
                "--scenes",
                "20",
                "5",
                "5",
                "5",
                "--epochs",
                "1",
                "--checkpoint",
                str(checkpoint),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(["explain", "neurorule-scenes", "--checkpoint", str(checkpoint), "--scene", "7"]) == 2
    )
    assert "scene 7 does not exist: the test split has 5 scenes" in capsys.readouterr().err
    assert main(["train", "neurorule-scenes", "--max-length", "5", "--no-progress"]) == 2
    assert "L <= 4" in capsys.readouterr().err


def test_without_given_categories_the_model_reads_them_from_pixels_only():
    from nesy_models.neurorule.scenes.config import SceneConfig, build_scene_model

    scenes = generate_scenes(4, seed=0)
    model = build_scene_model(SceneConfig(categories_given=False)).eval()
    images, boxes, categories, counts = (torch.as_tensor(a) for a in scenes.arrays()[:4])
    with torch.no_grad():
        given = model(images, boxes, categories, counts)
        other = model(images, boxes, (categories + 1) % len(CATEGORIES), counts)
    torch.testing.assert_close(given.logits, other.logits)
    torch.testing.assert_close(given.unary, other.unary)


@pytest.mark.parametrize(("lam", "epochs", "best"), [(0.0, 3, 3), (0.1, 2, 2)])
def test_every_variant_picks_its_epoch_after_the_warmup(splits, lam, epochs, best):
    """The model kept is trained through the warm-up whatever Omega's weight (the ablation's
    variants compared on one schedule), and a run shorter than the warm-up keeps its last
    epoch, not the untrained model."""
    config = SceneConfig(
        lam=lam, warmup=3, epochs=epochs, patience=1, rules=2, length=2, scenes=(60, 20, 20, 20)
    )
    report = train_scenes(config, splits)
    assert report["best_epoch"] == best and report["epochs_run"] == epochs
