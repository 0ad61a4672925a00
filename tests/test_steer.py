"""Collected positions, the interventions (edits, the spliced model), sweeps, the equalizer, and
the chapter 4-5 figures."""

from __future__ import annotations

import copy

import numpy as np
import page_reference  # tests/page_reference.py
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F

from recsae_lite import features, steer, viz, widgets, zoo
from recsae_lite.activations import collect
from recsae_lite.data import leave_one_out, load_dataset
from recsae_lite.interventions import Spliced, direction_edit, feature_edit
from recsae_lite.metrics import RankingMetrics
from recsae_lite.models.base import make_batch
from recsae_lite.sae import SAE, FitConfig, SAEConfig
from recsae_lite.train import recommend


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    dataset = load_dataset("synthetic", seed=1, n_users=60, n_items=50, seq_len=(5, 25))
    return dataset, leave_one_out(dataset)


@pytest.fixture(scope="module")
def model(data):
    torch.manual_seed(0)
    return zoo.build("sasrec", *data, hidden_size=8, max_len=20).eval()


def genre_sae(model, dataset, genre: int) -> SAE:
    """A TopK SAE (identity normalisation) whose feature 0 points where genre `genre`'s items
    score highest: the mean of their output embeddings, less the mean of all."""
    torch.manual_seed(0)
    sae = SAE(SAEConfig(d_in=8, d_sae=16, variant="topk", k=2)).eval()
    emb = model.item_embeddings().detach()
    mask = torch.as_tensor(dataset.genres[:, genre])
    with torch.no_grad():
        sae.W_dec[0] = F.normalize(emb[mask].mean(0) - emb.mean(0), dim=0)
    return sae


# ------------------------------------------------------------------------------------------------
# positions


def test_position_index_and_next_items_match_collect(data, model):
    dataset, split = data
    _, items = collect(model, split, "train", "all", items=True)
    rows, within = features.position_index(split, model.config.max_len)
    assert len(rows) == len(items)
    assert all(split.train[r][t] == i for r, t, i in zip(rows, within, items.tolist(), strict=True))
    following = features.next_items(split, model.config.max_len)
    for r, t, nxt in zip(rows, within, following, strict=True):
        expected = split.train[r][t + 1] if t + 1 < len(split.train[r]) else split.valid[r]
        assert nxt == expected


# ------------------------------------------------------------------------------------------------
# steering


def test_edits_that_change_nothing_leave_the_scores_exactly(data, model, device):
    dataset, split = data
    model = copy.deepcopy(model).to(device)  # a copy: .to() moves the module-scoped model itself
    sae = genre_sae(model, dataset, 0).to(device)
    rows = np.arange(len(split.users))
    h = collect(model, split, "test")[rows]
    for edit in [feature_edit(sae, [0, 3], 0.0, "add"),
                 feature_edit(sae, 0, 1.0, "scale"),
                 feature_edit(sae, [0, 5], 0.0, "mix"),
                 direction_edit(torch.randn(8), 0.0)]:  # fmt: skip
        assert torch.equal(edit(h), h)
        batch = make_batch(split.users, split.history("test"), model.n_items).to(device)
        assert torch.equal(Spliced(model, edit).scores(batch), model.scores(batch))
        plain = recommend(model, split, rows)
        assert np.array_equal(recommend(Spliced(model, edit, cache=True), split, rows), plain)


def test_set_and_scale_change_the_code_by_the_right_amount(data, model, device):
    dataset, split = data
    model = copy.deepcopy(model).to(device)
    sae = genre_sae(model, dataset, 0).to(device)
    h = collect(model, split, "test")[:10]
    z = sae.encode(h)[:, 0]
    moved = feature_edit(sae, 0, 2.5, "set")(h) - h
    assert torch.allclose(moved, (2.5 - z)[:, None] * sae.W_dec[0].detach(), atol=1e-6)
    doubled = feature_edit(sae, 0, 2.0, "scale")(h) - h
    assert torch.allclose(doubled, z[:, None] * sae.W_dec[0].detach(), atol=1e-6)


def test_mix_moves_a_share_of_the_code_onto_the_features(data, model):
    # paper C: z' = (1 - a) z + a ||z||_1 e, e spread evenly; decoded without the error term
    dataset, split = data
    sae = genre_sae(model, dataset, 0)
    h = collect(model, split, "test")[:10]
    z = sae.encode(h)
    mixed = feature_edit(sae, [0, 1], 0.4, "mix", error_term=False)(h)
    expected = 0.6 * z
    expected[:, [0, 1]] += 0.4 * z.sum(1, keepdim=True) / 2
    assert torch.allclose(mixed, sae.decode(expected), atol=1e-5)
    assert torch.allclose(expected.sum(1), z.sum(1), atol=1e-5)  # the L1 norm is kept
    with pytest.raises(ValueError, match="one alpha in \\[0, 1\\]"):
        feature_edit(sae, [0, 1], [0.1, 0.2], "mix")


def test_bad_edits_are_refused(data, model):
    sae = genre_sae(model, data[0], 0)
    with pytest.raises(ValueError, match="features \\[16\\] do not exist"):
        feature_edit(sae, 16, 1.0)
    with pytest.raises(ValueError, match="mode must be one of"):
        feature_edit(sae, 0, 1.0, "double")


def test_raising_a_genre_feature_raises_that_genres_share(data, model, device):
    dataset, split = data
    genre = 0
    model = copy.deepcopy(model).to(device)
    sae = genre_sae(model, dataset, genre).to(device)
    rows = np.arange(len(split.users))
    edits = {s: feature_edit(sae, 0, s) for s in (0.0, 1.0, 3.0, 10.0)}
    table = steer.sweep(model, split, rows, edits, dataset, dataset.genres[:, genre])
    shares = table["share"].to_numpy()
    assert (np.diff(shares) >= 0).all() and shares[-1] > shares[0] + 0.2
    # the same numbers as the plain path: the model spliced with the edit, evaluated directly
    top = recommend(Spliced(model, edits[3.0]), split, rows)
    assert dataset.genres[top, genre].mean() == pytest.approx(table["share"].iloc[2], abs=1e-6)


def test_share_metric_counts_the_lists_inside_the_set():
    metrics = RankingMetrics(k=2, n_items=4, share_of=torch.tensor([True, False, False, True]))
    metrics.add(torch.tensor([[4.0, 3, 2, 1], [1.0, 2, 3, 4]]), torch.tensor([0, 1]))
    assert metrics.result()["share@2"] == pytest.approx((0.5 + 0.5) / 2)
    with pytest.raises(ValueError, match="share_of has shape"):
        RankingMetrics(k=2, n_items=4, share_of=torch.ones(3))


def test_moderate_takes_the_strongest_push_within_the_ndcg_budget():
    rows = []
    for users, ndcgs in (("validation", [0.2, 0.19, 0.17]), ("test", [0.3, 0.29, 0.2])):
        for s, ndcg, share in zip([0.0, 1.0, 2.0], ndcgs, [0.1, 0.3, 0.6], strict=True):
            rows.append({"method": "SAE", "genre": "A", "users": users, "strength": s,
                         "ndcg": ndcg, "share": share})  # fmt: skip
    result = steer.moderate(pd.DataFrame(rows), max_drop=0.1).set_index("users")
    assert result.loc["test", "strength"] == 1.0  # 0.19 >= 0.18; 0.17 is not
    assert result.loc["test", "share x"] == pytest.approx(3.0)
    assert result.loc["test", "ndcg change"] == pytest.approx(0.29 / 0.3 - 1)


def test_adding_to_a_feature_moves_the_state_by_its_scaled_decoder_row(data, model):
    # the equalizer's page relies on it: with the error term, "add" moves h by v W_dec[j] times
    # the input scale (and each state's std when the SAE standardises each vector)
    dataset, split = data
    h = collect(model, split, "test")[:6]
    for each in (False, True):
        sae = SAE(SAEConfig(d_in=8, d_sae=16, variant="topk", k=2, standardise_each=each))
        sae.fit_normalisation(h * 3 + 1)  # input_scale and input_mean away from 1 and 0
        std = h.std(-1, keepdim=True) if each else 1.0
        with torch.no_grad():
            moved = feature_edit(sae, [3, 5], [1.5, -0.5])(h) - h
        expected = (1.5 * sae.W_dec[3] - 0.5 * sae.W_dec[5]).detach() * sae.input_scale * std
        assert torch.allclose(moved, expected, atol=1e-5)


def test_a_relative_push_is_measured_in_the_states_own_norm():
    h, d = torch.tensor([[3.0, 4.0], [0.0, 1.0]]), torch.tensor([1.0, 0.0])
    pushed = direction_edit(d, 0.5, relative=True)(h)  # norms 5 and 1: pushes 2.5 and 0.5
    assert torch.allclose(pushed, torch.tensor([[5.5, 4.0], [0.5, 1.0]]))
    assert torch.allclose(direction_edit(d, 0.5)(h), h + torch.tensor([0.5, 0.0]))


def test_output_effect_is_the_concepts_share_among_the_items_raised_most(data, model):
    dataset, split = data
    directions = F.normalize(torch.randn(6, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    with torch.no_grad():
        raised = (directions @ model.item_embeddings().T).numpy()  # a linear head: d E^T
    top = np.argsort(-raised, axis=1)[:, :5]
    # concept 0: direction 0's five most raised items; concept 1: every item; concept 2: none
    concepts = np.zeros((model.n_items, 3), dtype=bool)
    concepts[top[0], 0], concepts[:, 1] = True, True
    shares = steer.output_effect(model, directions, concepts, top=5)
    assert shares[0, 0] == 1.0 and (shares[:, 1] == 1).all() and (shares[:, 2] == 0).all()
    expected = concepts[top, 0].mean(1)  # how many of each direction's top 5 are direction 0's
    assert np.allclose(shares[:, 0], expected)
    # a linear head raises the same items from any state: real states give the same shares
    batch = make_batch(split.users, split.history("test"), model.n_items)
    assert np.allclose(steer.output_effect(model, directions, concepts, batch, top=5), shares)


def test_output_effect_through_an_earlier_layer_averages_over_the_states(data, model):
    dataset, split = data
    earlier = Spliced(model, layer=1)
    direction = F.normalize(torch.randn(1, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    batch = make_batch(split.users[:10], split.history("test")[:10], model.n_items)
    with torch.no_grad():
        h = model.hidden(batch, 1)
        change = model.scores_from_hidden(h + 2 * direction, batch, 1) - model.scores_from_hidden(
            h, batch, 1
        )
    top = change.mean(0).topk(4).indices.numpy()
    shares = steer.output_effect(earlier, direction, dataset.genres, batch, top=4, strength=2.0)
    assert np.allclose(shares[0], dataset.genres[top].mean(0))


def test_assign_features_gives_no_feature_to_two_concepts():
    # feature 0 is the best of both concepts; concept 1 holds it more strongly and takes it
    shares = np.array([[0.6, 0.9], [0.5, 0.1], [0.0, 0.2]])
    assert steer.assign_features(shares).tolist() == [1, 0]
    # the largest share goes first, whichever concept it belongs to
    assert steer.assign_features(np.array([[0.9, 0.8], [0.1, 0.7]])).tolist() == [0, 1]


def test_the_equalizer_page_shows_the_python_paths_lists(data, model):
    dataset, split = data
    sae = genre_sae(model, dataset, 0)
    sae.fit_normalisation(collect(model, split, "test") * 2)  # an input scale that is not 1
    unit = {j: 0.5 + j / 10 for j in range(16)}
    rows = [0, 3, 7]
    shown = page_reference.page_data(
        widgets.equalizer(model, sae, split, dataset, {"A": 0, "B": [1, 2]}, unit, rows).data
    )
    assert shown["users"] == split.users[rows].tolist() and shown["concepts"]["B"] == [1, 2]
    # slider positions (genre A, genre B, free feature, its strength): B moves two features
    for n, (a, b, free, s) in enumerate([(0, 0, 0, 0), (3, 0, 0, 0), (0, 2, 9, -1), (1, 1, 4, 2)]):
        values = {0: a * unit[0], 1: b * unit[1], 2: b * unit[2]}
        values[free] = values.get(free, 0.0) + s * unit[free]
        r = n % len(rows)
        titles = widgets.steered_list(model, sae, split, dataset, rows[r], values)["title"]
        scores, bound = page_reference.steered(shown, r, values)
        assert not page_reference.disagreements(shown, list(titles), scores, bound)
    with pytest.raises(ValueError, match="mode is 'add'"):
        widgets.equalizer(model, sae, split, dataset, {"A": 0}, None, rows)


def test_static_equalizer_tables_are_the_steered_lists(data, model):
    dataset, split = data
    sae = genre_sae(model, dataset, 0)
    frames = widgets.static_equalizer(model, sae, split, dataset, 0, 0, 2.0, [0.0, 1.5])
    for s, table in frames.items():
        expected = widgets.steered_list(model, sae, split, dataset, 0, {0: 2.0 * s})
        pd.testing.assert_frame_equal(table, expected)
    fig = viz.steering_frames(frames, "t")
    assert [t.type for t in fig.data] == ["table", "table"]
    assert len(fig.layout.sliders[0].steps) == 2


# ------------------------------------------------------------------------------------------------
# figures on tiny input


def test_chapter_figures_have_the_expected_traces(data):
    dataset, split = data
    scores = np.array([[0.1, 0.8], [0.9, np.nan], [0.3, 0.1]])
    fig = viz.association_heatmaps({"a": (scores, ["x", "y", "z"]), "b": (scores[:2], ["x", "y"])},
                                   ["G1", "G2"])  # fmt: skip
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert [t.yaxis for t in fig.data] == ["y", "y2"]  # one panel each, stacked
    assert list(fig.data[0].x) == ["1", "2", "0"]  # by best genre (G1: 0.9, 0.3; G2: 0.8)
    fig = viz.best_score_distributions({"a": scores.max(1), "b": [0.1]}, 0.5)
    assert [t.type for t in fig.data] == ["scatter", "scatter"]
    items = np.array([0, 1, 2, 3, 1, 0])
    card = features.feature_card(
        0, torch.tensor([0.0, 2.0, 1.0, 0.0, 3.0, 0.5]), items,
        (np.zeros(6, dtype=int), np.array([0, 1, 2, 3, 1, 0])), split, dataset,
        np.linspace(-1, 1, dataset.n_items), top=4, show=3,
    )  # fmt: skip
    assert card.firing_rate == pytest.approx(4 / 6)
    assert list(card.top_contexts["activation"]) == [3.0, 2.0, 1.0]
    # the atlas of that one feature: its dashboard and profiles, as numbers for the page
    effects = np.linspace(-1, 1, dataset.n_items)[None]  # the last items are raised most
    scores = np.array([[0.5, np.nan]])  # its genre scores, for two genres; NaN: too rare
    html = widgets.atlas(dataset, [card], [items[[1, 4, 2, 5]]], scores, dataset.genre_names[:2],
                         effects, np.array([True]), top=5, show=[0]).data  # fmt: skip
    atlas = page_reference.page_data(html)
    (entry,) = atlas["features"]
    assert atlas["open"] == [0] and entry["label"] == card.title and entry["item"]
    assert entry["input"] == [0.5, 0.0] and sum(entry["histogram"]) == 4
    raised = dataset.genres[-5:].mean(0)  # each genre's share of the 5 films raised most
    assert entry["output"] == pytest.approx(raised.round(2).tolist())
    head, texts, rows = entry["contexts"]
    assert head == list(card.top_contexts.columns) and len(rows) == 3
    assert [row[0] for row in rows] == [3.0, 2.0, 1.0] and texts == [False, True, True, True]
    films = [atlas["strings"][i] for i in entry["top_items"]]  # items 1, 1, 2, 0: 1 first
    assert films[0] == dataset.item_titles[1]
    assert sorted(films) == sorted(dataset.item_titles[i] for i in (0, 1, 2))
    table = pd.DataFrame({"method": ["SAE", "SAE", "probe", "probe"], "genre": ["A"] * 4,
                          "strength": [0, 1, 0, 1], "share": [0.1, 0.3, 0.1, 0.2],
                          "ndcg": [0.2, 0.19, 0.2, 0.18]})  # fmt: skip
    fig = viz.steering_curves(table, ["share", "ndcg"])
    assert len(fig.data) == 4 and isinstance(fig, go.Figure)
    html = viz.sortable_table(pd.DataFrame({"f": [1, 2], "label": ["</script>", "x"]})).data
    shown = page_reference.page_data(html)  # the page writes each cell as text
    assert shown["columns"] == ["f", "label"]
    assert shown["rows"] == [["1", "</script>"], ["2", "x"]]
    # a cell's text cannot end the script that carries it: two scripts, two ends
    assert "recsaeLite.sortable(" in html and html.count("</script>") == 2


# ------------------------------------------------------------------------------------------------
# the SAE cache


def test_zoo_sae_trains_once_then_loads(data, model, tmp_path, monkeypatch):
    monkeypatch.setenv("RECSAE_ZOO", str(tmp_path))
    dataset, split = data
    trained = zoo.Trained(model, None, dataset, split, tmp_path / "sasrec-x.safetensors", True)
    config = SAEConfig(d_in=8, d_sae=16, variant="topk", k=2)
    train_config = FitConfig(max_steps=3, batch_size=32, eval_every=1)
    first, x = zoo.sae(trained, config, train_config, progress=False)
    again, _ = zoo.sae(trained, config, train_config, progress=False)
    assert torch.equal(first.W_dec, again.W_dec) and x.shape[1] == 8
    (folder,) = (tmp_path / "sae").iterdir()
    (folder / "sae.safetensors").write_bytes(b"not weights")
    with pytest.warns(UserWarning, match="retraining: the SAE"):
        retrained, _ = zoo.sae(trained, config, train_config, progress=False)
    assert torch.equal(retrained.W_dec, first.W_dec)  # same seed, same SAE
    other, _ = zoo.sae(trained, config, FitConfig(max_steps=4, batch_size=32), progress=False)
    assert len(list((tmp_path / "sae").iterdir())) == 2 and other is not None
