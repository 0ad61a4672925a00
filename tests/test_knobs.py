"""Paper C's pieces: the user split, the ranking metrics and the steering mix (its TF-IDF maps are
in test_interpret.py)."""

from dataclasses import replace

import numpy as np
import page_reference  # tests/page_reference.py
import pytest
import torch

from recsae_lite import knobs
from recsae_lite.data import DataError, UserSplit, load_dataset, make_dataset, user_split
from recsae_lite.interventions import Spliced, feature_edit
from recsae_lite.models.base import Recommender, make_batch
from recsae_lite.models.elsa import ELSA, ELSAConfig
from recsae_lite.sae import FitConfig, fit
from recsae_lite.train import evaluate, recommend, train


def test_user_split_follows_the_protocol():
    d = load_dataset("synthetic", seed=0, n_users=200)
    split = user_split(d, min_positives=5, seed=42)
    sizes = {k: len(v) for k, v in split.users.items()}
    assert sizes == {"train": 160, "valid": 20, "test": 20}
    everyone = np.concatenate(list(split.users.values()))
    assert len(np.unique(everyone)) == 200  # no user in two parts
    sequences = d.sequences()
    for stage in ("valid", "test"):
        for user, shown, held in zip(split.users[stage], split.inputs[stage],
                                     split.targets[stage], strict=True):  # fmt: skip
            assert not set(shown) & set(held)
            assert sorted([*shown, *held]) == sorted(sequences[user])  # nothing lost
            assert len(held) == np.ceil(0.2 * len(sequences[user]))
    assert user_split(d, seed=42).users["test"].tolist() == split.users["test"].tolist()
    assert user_split(d, seed=1).users["test"].tolist() != split.users["test"].tolist()


def test_user_split_is_paper_c_split_on_a_worked_example():
    # users 1-10 have 5+ positives (ratings >= 4), user 11 four: dropped. Paper C's code numbers
    # users and items as they first occur in its ratings file, sorted by user, then item: users
    # 1..10 in order; items 20, 30, 40, 50, 60 (user 1's) get columns 0-4, then 10 and 70 (first
    # in user 7's row) columns 5 and 6, so user 7's row, in column order, is 20 30 40 50 60 10 70
    common = [20, 30, 40, 50, 60]
    rows = {u: common for u in range(1, 11)} | {7: [10, *common, 70], 11: [10, 20, 30, 40]}
    user = [u for u, items in rows.items() for _ in items] + [4, 4]
    item = [i for items in rows.values() for i in items] + [80, 10]
    rating = [5.0] * (len(user) - 2) + [3.0, 2.0]  # user 4's 80 and 10: not positives
    ids = [10, 20, 30, 40, 50, 60, 70, 80]
    d = make_dataset("tiny", "a list", user=user, item=item, timestamp=-np.arange(len(user)),
                     rating=rating, item_ids=ids, titles=[str(i) for i in ids],
                     genres=np.zeros((8, 1), bool), genre_names=["g"])  # fmt: skip
    state = np.random.get_state()
    try:  # paper C: np.random.seed(42), then np.random.permutation of the 10 users
        np.random.seed(42)
        order = np.random.permutation(10)
        assert order.tolist() == [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]
        # cut at int(-(0.1 + 0.1) * 10) = -2 and int(-0.1 * 10) = -1: 8 / 1 / 1 users; then the
        # test user's 7 items hold out ceil(0.2 * 7) = 2: a permutation of 2 True among 7 flags
        test_flags = np.random.permutation(np.arange(7) < 2)
        valid_flags = np.random.permutation(np.arange(5) < 1)  # then user 4: ceil(0.2 * 5) = 1
    finally:
        np.random.set_state(state)
    split = user_split(d)
    raw = {stage: d.user_ids[users].tolist() for stage, users in split.users.items()}
    assert raw == {"train": [9, 2, 6, 1, 8, 3, 10, 5], "valid": [4], "test": [7]}
    in_columns = np.array([20, 30, 40, 50, 60, 10, 70])  # user 7's row in paper C's columns
    assert d.item_ids[split.targets["test"][0]].tolist() == sorted(in_columns[test_flags])
    assert d.item_ids[split.inputs["test"][0]].tolist() == sorted(in_columns[~test_flags])
    assert d.item_ids[split.targets["valid"][0]].tolist() == list(np.array(common)[valid_flags])
    # numpy 1.x and 2.x draw these flags as [F T T F F F F] and [F F T F F]: items 30 and 40
    # held out (by ascending id it would be 20 and 30), and user 4's 40
    assert test_flags.tolist() == [False, True, True, False, False, False, False]


def test_user_split_on_ml100k_has_paper_c_users():
    # paper C's code on ML-100K (../shared/PEERS.md): 938 users with 5+ ratings >= 4, cut at
    # int(-0.2 * 938) = -187 and int(-0.1 * 938) = -93; 56 of the 93 test users steerable by its
    # rule over the 19 genres
    d = load_dataset("ml-100k")
    split = user_split(d)
    assert {k: len(v) for k, v in split.users.items()} == {"train": 751, "valid": 94, "test": 93}
    pairs = knobs.desired_concepts(split, d.genres)
    assert sum(len(rows) for _, rows in pairs) == 56


def test_desired_concepts_and_the_steering_scores_on_a_hand_made_example():
    # 6 items, concepts a (items 0, 1, 2), b (items 2, 3), c (item 4); item 5 in no concept, and
    # no user of the split has item 4
    concepts = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], bool)
    inputs = [np.array([0, 1]), np.array([0, 3]), np.array([2, 3])]
    targets = [np.array([2, 3]), np.array([1]), np.array([5])]
    split = UserSplit({"train": np.array([0]), "valid": np.array([1]), "test": np.array([2, 3, 4])},
                      [np.array([0, 5])], {"valid": [np.array([0])], "test": inputs},
                      {"valid": [np.array([1])], "test": targets})  # fmt: skip
    # target minus input counts, 0 at least: user 0 a 1-2 -> 0, b 2-0 = 2; user 1 a 1-1 = 0,
    # b 0-1 -> 0: not steerable; user 2 item 5 has no concept: not steerable
    pairs = knobs.desired_concepts(split, concepts)
    assert [(c, rows.tolist()) for c, rows in pairs] == [(1, [0])]
    # paper C's segment of b: its items 2 and 3, both listed; c's item 4 is in no row: empty
    assert knobs.segment(split, concepts, 1).tolist() == [0, 0, 1, 1, 0, 0]
    assert not knobs.segment(split, concepts, 2).any()
    # user 0 is shown 0 and 1 (masked); a model ranking 5 4 3 2 1 0 lists 5, 4, 3, 2: personal
    # NDCG@4 (paper C's K is 20; this catalogue has 6 items), targets 2 and 3 at ranks 4 and 3,
    # = (1/log2 4 + 1/log2 5) / (1 + 1/log2 3)
    model = FixedScores(torch.tensor([0.0, 1, 2, 3, 4, 5]))
    rows = np.array([0])
    personal = evaluate(model, split, "test", (4,), rows=rows)["ndcg@4"]
    assert personal == pytest.approx((1 / 2 + 1 / np.log2(5)) / (1 + 1 / np.log2(3)))
    # segment b = {2, 3}: the same two hits, the same ideal
    segment = evaluate(
        model, split, "test", (4,), rows=rows, targets=knobs.segment(split, concepts, 1)
    )
    assert segment["ndcg@4"] == pytest.approx(personal)
    # segment a = {0, 1, 2}: 0 and 1 are masked but count in the ideal of 3 hits; 2 at rank 4
    a = evaluate(model, split, "test", (4,), rows=rows, targets=knobs.segment(split, concepts, 0))
    assert a["ndcg@4"] == pytest.approx((1 / np.log2(5)) / (1 + 1 / np.log2(3) + 1 / 2))


def test_user_split_keeps_positive_ratings_only():
    d = load_dataset("synthetic", seed=0, n_users=60)
    d.interactions["rating"] = np.where(d.interactions["item"] % 2 == 0, 5.0, 1.0)
    split = user_split(d)
    for items in split.train:
        assert (items % 2 == 0).all()
    with pytest.raises(DataError, match="lower min_positives"):
        user_split(d, min_positives=10_000)


def test_evaluation_of_held_out_sets_on_a_hand_made_example():
    # one test user shown item 0 (masked), asked for items 2 and 4; the model ranks by item code
    split = UserSplit({"train": np.array([0]), "valid": np.array([1]), "test": np.array([2])},
                      [np.array([0, 1])], {"valid": [np.array([0])], "test": [np.array([0])]},
                      {"valid": [np.array([1])], "test": [np.array([2, 4])]})  # fmt: skip
    model = FixedScores(torch.tensor([5.0, 4, 3, 2, 1]))
    result = evaluate(model, split, "test", ks=(2,))  # top 2: items 1, 2
    assert result["recall@2"] == pytest.approx(1 / 2)  # 1 hit of min(2, 2) targets
    ideal = 1 + 1 / np.log2(3)
    assert result["ndcg@2"] == pytest.approx((1 / np.log2(3)) / ideal)
    segment = np.array([False, True, True, True, False])  # every item of a concept
    assert evaluate(model, split, "test", ks=(2,), targets=segment)["ndcg@2"] == 1.0


class FixedScores(Recommender):
    def __init__(self, scores):
        super().__init__()
        self.n_items, self.config = len(scores), None
        self.register_buffer("fixed", scores)

    def hidden(self, batch, layer=None):
        return self.fixed.expand(len(batch), -1)

    def scores_from_hidden(self, h, batch, layer=None):
        return h


def test_steering_with_alpha_zero_gives_the_lists_with_the_sae():
    dataset = load_dataset("synthetic", seed=3, n_users=60, n_items=30, seq_len=(6, 12))
    split = user_split(dataset)
    model = ELSA(ELSAConfig(n_items=30, hidden_size=8)).eval()
    settings = FitConfig(max_steps=20, batch_size=64)
    sae = fit(
        knobs.views(model, split, 3, 0.8), knobs.sae_config(8, 16, 4), settings, progress=False
    )
    rows = np.arange(len(split.users["test"]))
    plain = recommend(Spliced(model, sae), split, rows)
    steered = Spliced(model, feature_edit(sae, 2, 0.0, "mix", error_term=False))
    assert np.array_equal(recommend(steered, split, rows), plain)
    pushed = Spliced(model, feature_edit(sae, 2, 0.5, "mix", error_term=False))
    assert not np.array_equal(recommend(pushed, split, rows), plain)


def test_elsa_trains_with_the_one_training_loop_on_the_user_split():
    dataset = load_dataset("synthetic", seed=3, n_users=60, n_items=30, seq_len=(6, 12))
    split = user_split(dataset)
    torch.manual_seed(0)
    model = ELSA(ELSAConfig(n_items=30, hidden_size=8))
    config = replace(knobs.TRAIN_ELSA, epochs=3)
    history = train(model, split, config, progress=False)
    assert len(history.valid_ndcg) == 3
    assert history.valid_ndcg[history.best_epoch - 1] == max(history.valid_ndcg)
    assert evaluate(model, split, "valid", (20,))["ndcg@20"] == pytest.approx(
        max(history.valid_ndcg)
    )


def test_views_are_random_subsets_of_the_training_rows_drawn_one_view_at_a_time():
    dataset = load_dataset("synthetic", seed=3, n_users=60, n_items=30, seq_len=(6, 12))
    split = user_split(dataset)
    model = ELSA(ELSAConfig(n_items=30, hidden_size=8)).eval()
    n, keep, seed = 4, 0.7, 5
    batch = make_batch(split.users["train"], split.train, model.n_items)
    rows = model.interactions(batch)
    # the definition: n copies of the rows, each entry kept when one uniform draw is below keep
    g = torch.Generator().manual_seed(seed)
    copies = rows.repeat(n, 1)
    expected = (copies * (torch.rand(copies.shape, generator=g) < keep)) @ model.item_embeddings()
    views = knobs.views(model, split, n, keep, seed)
    assert views.shape == (n * len(rows), 8)
    torch.testing.assert_close(views, expected)
    assert torch.equal(knobs.views(model, split, 1, keep), rows @ model.item_embeddings())


def test_the_mixer_page_shows_the_python_paths_lists():
    # chapter 8's mixer: its page mixes the user's exported code (float16 decoder and item
    # embeddings) as feature_edit(..., "mix", error_term=False) and ELSA do
    from recsae_lite import widgets

    dataset = load_dataset("synthetic", seed=3, n_users=60, n_items=30, seq_len=(6, 12))
    split = user_split(dataset)
    torch.manual_seed(0)
    model = ELSA(ELSAConfig(n_items=30, hidden_size=8)).eval()
    settings = FitConfig(max_steps=20, batch_size=64)
    sae = fit(
        knobs.views(model, split, 3, 0.8), knobs.sae_config(8, 16, 4), settings, progress=False
    )
    rows = [0, 2, 4]
    concepts = {"A": [1, 2, 3], "B": [7]}
    html = widgets.equalizer(model, sae, split, dataset, concepts, None, rows, mode="mix").data
    shown = page_reference.page_data(html)
    assert shown["concepts"] == concepts and len(shown["codes"]) == len(rows)
    for place, mixed, alpha in [(0, [1, 2, 3], 0.0), (1, [1, 2, 3], 0.5), (2, [7], 1.0)]:
        knob = Spliced(model, feature_edit(sae, mixed, alpha, "mix", error_term=False))
        titles = [dataset.item_titles[i] for i in recommend(knob, split, rows[place])[0]]
        scores, bound = page_reference.steered(shown, place, None, alpha, mixed)
        assert not page_reference.disagreements(shown, titles, scores, bound), (place, alpha)
