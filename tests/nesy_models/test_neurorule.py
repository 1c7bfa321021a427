"""NeuroRule: the smooth-max chain, a hand-set rule, training on the family tree, the rules it
learns, their ProbLog export, and the refusal of bodies longer than 4."""

import itertools

import numpy as np
import pytest
import torch

from nesy_models.checks import OptionError
from nesy_models.data.kg import load_kg
from nesy_models.neurorule import (
    NeuroRule,
    NeuroRuleConfig,
    NeuroRuleError,
    adjacency,
    chain_log_body,
    explain,
    export_program,
    learned_rules,
    train_neurorule,
)
from nesy_models.neurorule.chain import log_truth
from nesy_models.neurorule.embedding import ComplEx
from nesy_models.neurorule.explain import implied_pairs, rule_confidence, rule_weight
from nesy_models.neurorule.train import ETAS, head_etas, omega, query_loss, ranking_mrr
from nesy_models.tasks.kg_ranking import filter_index


@pytest.fixture(scope="module")
def family():
    return load_kg("family")


def relation_pairs(kg, name: str, triples=None) -> np.ndarray:
    """The (h, t) pairs of relation ``name`` in ``triples`` (default: all known), as bool (E, E)."""
    triples = kg.known_triples() if triples is None else triples
    pairs = np.zeros((kg.num_entities, kg.num_entities), dtype=bool)
    chosen = triples[triples[:, 1] == kg.relations.index(name)]
    pairs[chosen[:, 0], chosen[:, 2]] = True
    return pairs


def brute_force_body(slots: np.ndarray, s: int, o: int, tau: float) -> float:
    """tau * logsumexp over every path s = z1, ..., zk+1 = o of log prod slot_l(z_l, z_l+1) / tau,
    by a loop over the intermediate entities."""
    length, size = slots.shape[0], slots.shape[1]
    logs = []
    for middle in itertools.product(range(size), repeat=length - 1):
        path = (s, *middle, o)
        product = np.prod([slots[i, path[i], path[i + 1]] for i in range(length)])
        logs.append(np.log(product))
    logs = np.array(logs) / tau
    return float(tau * (logs.max() + np.log(np.exp(logs - logs.max()).sum())))


@pytest.mark.parametrize("tau", [1.0, 0.3, 0.05])
def test_smooth_max_chain_equals_the_loop_over_intermediate_entities(tau):
    rng = np.random.default_rng(0)
    slots = rng.uniform(0.01, 1.0, size=(3, 5, 5)) * (rng.random((3, 5, 5)) < 0.7)
    slots[slots == 0] = 1e-9  # false edges, far below every real path
    got = chain_log_body(torch.log(torch.tensor(slots)), tau).numpy()
    for s, o in itertools.product(range(5), repeat=2):
        assert got[s, o] == pytest.approx(brute_force_body(slots, s, o, tau), rel=1e-9, abs=1e-9)


def test_smooth_max_chain_tends_to_the_max_as_tau_goes_to_zero():
    rng = np.random.default_rng(1)
    slots = rng.uniform(0.01, 1.0, size=(3, 6, 6))
    logs = torch.log(torch.tensor(slots))
    hard = np.zeros((6, 6))
    for s, o in itertools.product(range(6), repeat=2):
        hard[s, o] = max(
            slots[0, s, y] * slots[1, y, w] * slots[2, w, o] for y in range(6) for w in range(6)
        )
    gaps = []
    for tau in (0.3, 0.03, 0.003):
        smooth = torch.exp(chain_log_body(logs, tau)).numpy()
        assert np.all(smooth >= hard * (1 - 1e-12))  # a smooth max is at least the max
        assert np.all(smooth <= hard * 36**tau * (1 + 1e-12))  # and within its slack
        gaps.append(np.abs(smooth - hard).max())
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01


def hand_set_grandparent(kg) -> tuple[NeuroRule, torch.Tensor]:
    """A one-rule model whose grandparent rule is parent(X, Y), parent(Y, Z), from all facts."""
    model = NeuroRule(kg.num_entities, kg.num_relations, rules=1, length=2, relations=kg.relations)
    with torch.no_grad():
        model.gamma.zero_()
        model.gamma[kg.relations.index("grandparent"), 0, :, kg.relations.index("parent")] = 60.0
        model.alpha.fill_(1.0)
        model.bias.zero_()
    facts = adjacency(kg.known_triples(), kg.num_entities, kg.num_relations, dtype=torch.float64)
    return model.double(), facts


def test_a_hand_set_rule_scores_exactly_the_grandparent_pairs_highest(family):
    model, facts = hand_set_grandparent(family)
    with torch.no_grad():
        scores = model(facts).logits[family.relations.index("grandparent")].numpy()
    truth = relation_pairs(family, "grandparent")
    assert truth.sum() > 10
    assert scores[truth].min() > 0.99 and scores[~truth].max() < 1e-6
    assert str(learned_rules(model, top=1, heads=["grandparent"])[0]) == (
        "1.00 grandparent(X, Z) :- parent(X, Y), parent(Y, Z)."
    )


def test_explanation_binds_the_parent_and_adds_up_to_the_logit(family):
    model, facts = hand_set_grandparent(family)
    s, o = map(int, np.argwhere(relation_pairs(family, "grandparent"))[0])
    g = family.relations.index("grandparent")
    why = explain(model, facts, (s, g, o), entities=family.entities)
    (chain,) = why.chains
    (middle,) = [step.object for step in chain.steps[:1]]
    y = family.entities.index(middle)
    parent = relation_pairs(family, "parent")
    assert parent[s, y] and parent[y, o]
    assert [step.predicate for step in chain.steps] == ["parent", "parent"]
    assert why.logit == pytest.approx(chain.contribution + why.bias)
    assert chain.contribution == pytest.approx(chain.weight * chain.body)


def test_masked_queries_keep_the_trivial_rule_from_fitting(family):
    """r(X, Y) :- r(X, Y) scores nothing on a query whose edge the step removed."""
    model = NeuroRule(family.num_entities, family.num_relations, rules=1, length=1)
    with torch.no_grad():
        model.gamma.zero_()
        for r in range(family.num_relations):
            model.gamma[r, 0, 0, r] = 60.0
    batch = torch.as_tensor(np.array(family.train[:16]))
    h, q, t = batch.unbind(1)
    facts = adjacency(family.train, family.num_entities, family.num_relations)
    masked = facts.clone()
    masked[q, h, t] = 0.0
    masked[q + family.num_relations, t, h] = 0.0
    with torch.no_grad():
        assert model(facts).bodies[q, 0, h, t].min() > 0.99
        assert model(masked).bodies[q, 0, h, t].max() < 1e-6
        known = torch.zeros(family.num_relations, family.num_entities, family.num_entities)
        loss = query_loss(model(masked).logits, batch, known.bool())
        assert torch.isfinite(loss) and torch.isfinite(omega(model, model(masked).bodies, batch))


def random_ranking_mrr(kg) -> float:
    """The expected filtered MRR of a uniformly random ranking of the test triples."""
    index = filter_index(kg.train, kg.valid, kg.test)
    mrrs = []
    for known in (index.known_tails(kg.test), index.known_heads(kg.test)):
        for answers in known:
            n = kg.num_entities - len(answers) + 1
            mrrs.append(np.sum(1.0 / np.arange(1, n + 1)) / n)
    return float(np.mean(mrrs))


@pytest.fixture(scope="module")
def trained(family):
    torch.set_num_threads(1)
    config = NeuroRuleConfig(epochs=8, lr=0.05, batch_size=32, seed=0)
    return train_neurorule(config, kg=family, return_model=True)


def test_training_on_the_family_tree_ranks_far_above_random(family, trained):
    baseline = random_ranking_mrr(family)
    assert baseline < 0.1
    assert trained["mrr"] > 0.5 and trained["mrr"] > 5 * baseline
    assert trained["hits@10"] >= trained["hits@3"] >= trained["hits@1"] > 0.3
    assert trained["seconds_per_epoch"] > 0 and trained["rules"].count(":-") >= 23


def test_the_top_learned_grandparent_rule_is_a_right_chain(family, trained):
    (rule,) = learned_rules(trained["model"], top=1, heads=["grandparent"])
    implied = implied_pairs(rule, family.train, family.num_entities, family.relations)
    truth = relation_pairs(family, "grandparent")
    assert implied.sum() > 0
    precision = (implied & truth).sum() / implied.sum()
    recall = (implied & truth).sum() / truth.sum()
    assert precision > 0.95 and recall > 0.5, str(rule)
    assert len(rule.body) >= 2  # a chain through an intermediate person, not a copy of a fact


def test_rule_text_and_export_of_a_one_atom_rule(family):
    model = NeuroRule(
        family.num_entities, family.num_relations, rules=1, length=2, relations=family.relations
    )
    with torch.no_grad():
        model.gamma.zero_()
        parent = family.relations.index("parent")
        model.gamma[family.relations.index("child"), 0, 0, family.num_relations + parent] = 60
        model.gamma[family.relations.index("child"), 0, 1, -1] = 60  # identity
        model.alpha.fill_(0.5)
    (rule,) = learned_rules(model, top=1, heads=["child"])
    assert str(rule) == "0.50 child(X, Y) :- parent(Y, X)."
    text = export_program(model, family.train, family.entities, 1, ["child"])
    expected = "child_rule0(X, Y) :- known_parent(Y, X).\n0.5::child(X, Y) :- child_rule0(X, Y)."
    assert expected in text


def test_the_exported_program_parses_and_answers_as_the_rules_imply(family, trained):
    from nesy_compile import compile_program

    model = trained["model"]
    rules = [r for r in learned_rules(model, top=2, heads=["grandparent"]) if r.weight > 0]
    assert rules and all(rel != "grandparent" for r in rules for rel, _ in r.body)
    g = family.relations.index("grandparent")
    test = family.test[family.test[:, 1] == g]
    implied = [implied_pairs(r, family.train, family.num_entities, family.relations) for r in rules]
    supported = [t for t in test if any(pairs[t[0], t[2]] for pairs in implied)]
    unsupported = np.argwhere(~np.logical_or.reduce(implied))[0]
    queries = [supported[0], (unsupported[0], g, unsupported[1])]

    def confidence(rule, weights):
        if weights == "alpha":
            return None
        return rule_confidence(rule, family.train, family.num_entities, family.relations)

    for weights in ("alpha", "confidence"):
        text = export_program(
            model, family.train, family.entities, 2, ["grandparent"], queries, weights
        )
        assert text.count("::grandparent(X, Z) :- grandparent_rule") == len(rules)
        values = list(compile_program(text).conditionals().values())
        p = [rule_weight(r, confidence(r, weights)) for r in rules]
        expected = []
        for h, _, t in queries:  # a noisy-or of the rules whose body holds
            miss = np.prod([1 - q for q, pairs in zip(p, implied, strict=True) if pairs[h, t]])
            expected.append(1 - miss)
        assert expected[0] > 0 and expected[1] == 0
        assert [float(v) for v in values] == pytest.approx(expected, abs=1e-6)


def test_a_body_of_length_five_is_refused_with_a_clear_message():
    with pytest.raises(NeuroRuleError, match=r"L=5 .*at most 4|L=5.*L <= 4"):
        NeuroRule(10, 2, length=5)
    with pytest.raises(OptionError, match=r"L=5 .*at most 4"):
        NeuroRuleConfig(length=5)


def test_forward_chaining_over_two_hops_keeps_the_shapes(family):
    model = NeuroRule(family.num_entities, family.num_relations, rules=2, length=2, hops=2)
    facts = adjacency(family.train, family.num_entities, family.num_relations)
    scores = model(facts)
    e, r = family.num_entities, family.num_relations
    assert scores.logits.shape == (r, e, e) and scores.bodies.shape == (r, 2, e, e)
    assert torch.isfinite(scores.logits).all()
    scores.logits.sum().backward()
    assert torch.isfinite(model.gamma.grad).all() and model.gamma.grad.abs().sum() > 0


def test_mixed_templates_have_every_length_up_to_l_and_shorter_ones_equal_their_chain(family):
    model = NeuroRule(
        family.num_entities, family.num_relations, rules=6, length=3, mixed=True, tau=0.2
    )
    assert model.lengths == (1, 2, 3, 1, 2, 3)
    facts = adjacency(family.train, family.num_entities, family.num_relations)
    beta = model.beta()
    assert torch.all(beta[:, model.fixed, -1] == 1.0)  # unused slots: the identity, for certain
    log_bodies = model.log_bodies(facts)
    slots = torch.einsum("rtlp,pij->rtlij", beta, facts)
    for t, length in enumerate(model.lengths):  # each template: the chain of its own slots
        own = chain_log_body(log_truth(slots[:, t, :length]), model.tau)
        torch.testing.assert_close(log_bodies[:, t], own, rtol=1e-4, atol=1e-4)
    (grad,) = torch.autograd.grad(log_bodies.exp().sum(), model.gamma)
    assert torch.all(grad[:, model.fixed] == 0) and grad[:, ~model.fixed].abs().sum() > 0


def test_mixed_lengths_without_the_identity_are_refused():
    with pytest.raises(NeuroRuleError, match="mixed lengths need the identity"):
        NeuroRule(10, 2, length=2, mixed=True, identity=False)
    with pytest.raises(OptionError, match="mixed lengths need the identity"):
        NeuroRuleConfig(mixed=True, identity=False)


def test_complex_scores_are_the_real_part_of_the_trilinear_product():
    embedding = ComplEx(5, 3, 4).double()
    (er, ei), (wr, wi) = embedding.entity.detach().numpy(), embedding.relation.detach().numpy()
    e, w = er + 1j * ei, wr + 1j * wi
    expected = np.einsum("sk,rk,ok->rso", e, w, e.conj()).real
    with torch.no_grad():
        assert np.allclose(embedding().numpy(), expected)
        batch = torch.tensor([[0, 2, 4], [1, 0, 1]])
        moduli, relations = np.abs(e), np.abs(w)
        n3 = (
            sum(
                (moduli[h] ** 3).sum() + (moduli[t] ** 3).sum() + (relations[r] ** 3).sum()
                for h, r, t in batch.tolist()
            )
            / 2
        )
        assert float(embedding.penalty(batch)) == pytest.approx(n3)


def test_the_embedding_adds_eta_times_its_scores_and_explanations_show_its_share(family):
    model = NeuroRule(family.num_entities, family.num_relations, rules=1, length=2, embedding=4)
    model = model.double()
    facts = adjacency(family.train, family.num_entities, family.num_relations, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(model(facts).logits, model.hop(facts).logits)  # eta starts at 0
        model.eta.copy_(torch.linspace(0.2, 1.4, len(model.eta)))  # a weight per head
        expected = model.hop(facts).logits + model.eta[:, None, None] * model.embedding()
        assert torch.allclose(model(facts).logits, expected)
    s, r, o = map(int, family.test[0])
    why = explain(model, facts, (s, r, o))
    (chain,) = why.chains
    assert why.logit == pytest.approx(float(expected[r, s, o]))
    assert why.logit == pytest.approx(chain.contribution + why.bias + why.embedding)
    assert str(why).endswith("embedding (ComplEx)")


def test_training_with_an_embedding_keeps_the_rules_and_weighs_it_on_validation(family, trained):
    config = NeuroRuleConfig(epochs=8, lr=0.05, batch_size=32, seed=0, embedding=16)
    fitted = train_neurorule(config, kg=family, return_model=True)
    assert fitted["valid_mrr"] == trained["valid_mrr"]  # the same rules, trained first
    assert fitted["rules"] == trained["rules"]
    model = fitted["model"]
    assert list(fitted["eta"]) == list(model.head_names)
    assert set(fitted["eta"].values()) <= set(ETAS)
    assert model.eta.tolist() == list(fitted["eta"].values())
    assert fitted["valid_mrr_with_embedding"] >= fitted["valid_mrr"]  # eta 0 is a candidate
    assert 0 < fitted["embedding_valid_mrr"] <= 1 and fitted["embedding_epochs"] >= 1


def test_each_head_weighs_the_embedding_as_ranks_its_own_validation_triples_best(family):
    generator = torch.Generator().manual_seed(0)
    shape = (family.num_relations, family.num_entities, family.num_entities)
    rules = torch.randn(shape, generator=generator, dtype=torch.float64)
    scores = torch.randn(shape, generator=generator, dtype=torch.float64)
    index = filter_index(family.train, family.valid, family.test)
    valid = np.array(family.valid)
    absent = int(valid[0, 1])  # a head with no validation triples takes the best weight for all
    valid = valid[valid[:, 1] != absent]
    etas = head_etas(rules, scores, range(family.num_relations), valid, index)
    combined = rules + etas[:, None, None] * scores

    def mrr(logits, triples):
        return ranking_mrr(logits, triples, index)

    for relation in np.unique(valid[:, 1]):
        asked = valid[valid[:, 1] == relation]
        assert mrr(combined, asked) == max(mrr(rules + eta * scores, asked) for eta in ETAS)
    for_all = {eta: mrr(rules + eta * scores, valid) for eta in ETAS}
    assert float(etas[absent]) == max(for_all, key=for_all.get)
    assert mrr(combined, valid) >= max(for_all.values())


def test_a_negative_embedding_size_is_refused():
    with pytest.raises(OptionError, match="embedding"):
        NeuroRuleConfig(embedding=-1)


def test_a_checkpoint_keeps_the_embedding_and_its_weight(family, tmp_path):
    from nesy_models.neurorule.checkpoint import load_checkpoint

    config = NeuroRuleConfig(rules=2, length=2, epochs=2, lr=0.05, embedding=8)
    out = train_neurorule(config, family, return_model=True, checkpoint=tmp_path / "run.pt")
    saved = load_checkpoint(tmp_path / "run.pt").model
    facts = adjacency(family.train, family.num_entities, family.num_relations)
    assert saved.embedding is not None and saved.eta.tolist() == list(out["eta"].values())
    with torch.no_grad():
        torch.testing.assert_close(saved(facts).logits, out["model"](facts).logits)
    # a checkpoint saved when one weight served every head loads with it for each
    payload = torch.load(tmp_path / "run.pt", weights_only=True)
    payload["state"]["eta"] = torch.tensor(1.5)
    torch.save(payload, tmp_path / "one.pt")
    assert load_checkpoint(tmp_path / "one.pt").model.eta.tolist() == [1.5] * len(saved.eta)
