"""The chapters' exercises: each check passes on the chapter's own solution and names the mistake
in an obviously wrong answer.

The solutions are read from the chapters (the code cells tagged "solution"), not copied here, so
the solution a teacher finds in the notebook is the one tested. They run in a namespace made of the
chapter's own imports, as they would in the notebook.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recsae_lite import exercises, interpret, recovery
from recsae_lite.exercises import ExerciseError
from recsae_lite.interventions import feature_edit
from recsae_lite.metrics import mask_seen, rbo_truncated
from recsae_lite.models import make_batch

BOOK = Path(__file__).resolve().parent.parent / "book"

# check -> (chapter, the name of the solution's function)
SOLUTIONS = {
    "check_popularity": ("02_base_models", "my_popularity"),
    "check_ndcg": ("02_base_models", "my_ndcg"),
    "check_diversity": ("02_base_models", "my_diversity"),
    "check_fvu": ("03_training_saes", "my_fvu"),
    "check_sparsity": ("03_training_saes", "my_sparsity"),
    "check_topk_encode": ("03_training_saes", "my_topk_encode"),
    "check_item_features": ("04_sasrec_features", "my_item_features"),
    "check_genre_score": ("04_sasrec_features", "my_genre_score"),
    "check_feature_effect": ("04_sasrec_features", "my_feature_effect"),
    "check_add_edit": ("05_steering_sasrec", "my_add_edit"),
    "check_scale_edit": ("05_steering_sasrec", "my_scale_edit"),
    "check_genre_share": ("05_steering_sasrec", "my_genre_share"),
    "check_purity": ("06_two_tower_concepts", "my_purity"),
    "check_overwrite": ("06_two_tower_concepts", "my_overwrite"),
    "check_rbo": ("06_two_tower_concepts", "my_rbo"),
    "check_frequency_groups": ("07_matryoshka_hierarchies", "my_frequency_groups"),
    "check_tree": ("07_matryoshka_hierarchies", "my_tree"),
    "check_matryoshka_loss": ("07_matryoshka_hierarchies", "my_matryoshka_loss"),
    "check_mix": ("08_knobs_in_elsa", "my_mix"),
    "check_tfidf": ("08_knobs_in_elsa", "my_tfidf"),
    "check_best_characterizes": ("08_knobs_in_elsa", "my_best_characterizes"),
    "check_precision_recall": ("09_ground_truth", "my_precision_recall"),
    "check_noisy_labels": ("09_ground_truth", "my_noisy_labels"),
    "check_matching": ("09_ground_truth", "my_match"),
}


def chapter_solutions(stem: str) -> dict:
    """The namespace left by the chapter's imports and its solution cells."""
    cells = [c for c in jupytext.read(BOOK / f"{stem}.py").cells if c.cell_type == "code"]
    imports = [
        ast.unparse(node)
        for cell in cells
        for node in ast.parse(cell.source).body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    namespace: dict = {}
    exec("\n".join(imports), namespace)
    solutions = [c for c in cells if "solution" in c.metadata.get("tags", [])]
    assert solutions, f"book/{stem}.py has no solution cells"
    for cell in solutions:
        assert "hide-input" in cell.metadata["tags"], "solutions are hidden behind a toggle"
        exec(cell.source, namespace)
    return namespace


@pytest.fixture(scope="module")
def solutions() -> dict[str, dict]:
    return {stem: chapter_solutions(stem) for stem in {c for c, _ in SOLUTIONS.values()}}


def test_every_check_has_a_solution_and_a_wrong_answer():
    checks = {name for name in dir(exercises) if name.startswith("check_")}
    assert checks == set(SOLUTIONS) == {name for name, _, _ in WRONG}


@pytest.mark.parametrize("check", sorted(SOLUTIONS))
def test_the_chapters_solution_passes(check, solutions, capsys):
    stem, name = SOLUTIONS[check]
    getattr(exercises, check)(solutions[stem][name])
    assert "passed" in capsys.readouterr().out


def test_every_chapter_with_a_solution_calls_its_checks():
    for check, (stem, name) in SOLUTIONS.items():
        source = (BOOK / f"{stem}.py").read_text(encoding="utf-8")
        assert f"exercises.{check}({name})" in source, f"{stem} does not call {check}({name})"


# -- obviously wrong answers, each with the mistake its check must name ----------------------------


def _popularity_with_validation(split, n_items):
    return np.bincount(np.concatenate(split.history("test")), minlength=n_items)


def _ndcg_unmasked(scores, history, targets, k):
    target = scores.gather(1, targets[:, None])
    ranks = (scores >= target).sum(1) - 1
    return (torch.where(ranks < k, 1 / torch.log2(ranks + 2.0), 0.0)).mean().item()


def _ndcg_log_rank_plus_one(scores, history, targets, k):
    target = scores.gather(1, targets[:, None])
    ranks = (scores >= target).sum(1) - 1
    return (torch.where(ranks < k, 1 / torch.log2(ranks + 1.0), 0.0)).mean().item()


def _diversity_with_self_pairs(top, genres):
    g = genres[top].float()
    inter = g @ g.transpose(1, 2)
    union = g.sum(2)[:, :, None] + g.sum(2)[:, None, :] - inter
    return (1 - inter / union.clamp(min=1)).mean().item()


def _fvu_about_zero(x, x_hat):
    return ((x - x_hat).pow(2).sum() / x.pow(2).sum()).item()


def _sparsity_dead_entries(z):
    return (z > 0).sum(1).float().mean().item(), (z == 0).float().mean().item()


def _topk_unnormalised(sae, x):
    pre = sae.pre_acts(x)
    values, index = pre.topk(sae.config.k, dim=1)
    return torch.zeros_like(pre).scatter(1, index, F.relu(values))


def _item_features_positions(acts, items, top, min_items):
    return np.array([len(t) < min_items for t in interpret.top_items(acts, items, top)])


def _genre_precision_only(acts, labels, top):
    order = acts.topk(top).indices
    order = order[acts[order] > 0].numpy()
    return labels[order].mean()


def _feature_effect_no_scale(model, sae, j):
    return model.scores_from_hidden(sae.W_dec[j][None], None)[0]


def _add_by_decoding(sae, h, j, v):
    z = sae.encode(h)
    z[:, j] += v
    return sae.decode(z)


def _right_except_at_zero(sae, h, j, v):
    return feature_edit(sae, j, v, "add")(h) if v else sae(h)


def _scale_by_adding(sae, h, j, factor):
    return h + factor * sae.W_dec[j] * sae.input_scale


def _genre_share_unmasked(model, split, rows, edit, in_genre, k):
    histories = split.history("test")
    batch = make_batch(split.users[rows], [histories[r] for r in rows], model.n_items)
    with torch.no_grad():
        scores = model.eval().scores_from_hidden(edit(model.hidden(batch)), batch)
    return np.asarray(in_genre)[scores.topk(k, dim=1).indices.numpy()].mean()


def _genre_share_with_dropout(model, split, rows, edit, in_genre, k):
    histories = split.history("test")
    batch = make_batch(split.users[rows], [histories[r] for r in rows], model.n_items)
    with torch.no_grad():  # the model stays in training mode: dropout is on
        scores = mask_seen(model.scores_from_hidden(edit(model.hidden(batch)), batch),
                                     batch.history, model.n_items)  # fmt: skip
    return np.asarray(in_genre)[scores.topk(k, dim=1).indices.numpy()].mean()


def _purity_bottom(acts, concepts, k):
    bottom = torch.as_tensor(acts).topk(k, dim=0, largest=False).indices.T.numpy()
    return np.asarray(concepts)[bottom].mean(1)


def _overwrite_without_subtracting(sae, u, neuron, value):
    return u + value * sae.W_dec[neuron] * sae.input_scale


def _groups_rarest_first(codes, sizes):
    order = np.argsort((codes > 0).sum(0).numpy(), kind="stable")
    groups = np.empty(codes.shape[1], dtype=int)
    groups[order] = np.repeat(np.arange(len(sizes)), sizes)
    return groups


def _tree_any_group(codes, groups):
    fired = (codes > 0).float()
    together = (fired.T @ fired).fill_diagonal_(-1.0)
    best, parent = together.max(1)
    return torch.where(best > 0, parent, -1).numpy()


def _matryoshka_full_only(sae, z, x_norm):
    return (z @ sae.W_dec + sae.b_dec - x_norm).pow(2).sum(-1).mean()


def _mix_l2(z, neuron, alpha):
    e = F.one_hot(torch.tensor(neuron), z.shape[1]).float()
    return (1 - alpha) * z + alpha * z.norm(dim=1, keepdim=True) * e


def _tfidf_by_rows(counts):
    tf = counts / counts.sum(1, keepdim=True).clamp_min(1e-12)
    return tf * (torch.log((counts.shape[1] + 1) / ((counts > 0).sum(1, keepdim=True) + 1)) + 1)


def _tfidf_unclamped(counts):
    tf = counts / counts.sum(0, keepdim=True)
    return tf * (torch.log((counts.shape[1] + 1) / ((counts > 0).sum(1, keepdim=True) + 1)) + 1)


def _best_characterizes_keeping_rare(activity, fires, min_items):
    return interpret.tfidf(activity.T).T.argmax(1)


def _precision_recall_swapped(acts, has):
    hits = ((np.asarray(acts) > 0) & has).sum()
    return hits / max(has.sum(), 1), hits / max((np.asarray(acts) > 0).sum(), 1)


def _precision_recall_over_samples(acts, has):
    hits = ((np.asarray(acts) > 0) & has).sum()
    return hits / len(has), hits / len(has)


def _precision_recall_unguarded(acts, has):
    fires = np.asarray(acts) > 0
    with np.errstate(invalid="ignore"):
        return (fires & has).sum() / fires.sum(), (fires & has).sum() / has.sum()


def _noisy_drop_and_swap_exchanged(concepts, drop, swap, seed):
    return recovery.noisy_labels(concepts, swap, drop, seed)


def _noisy_drop_and_swap_independent(concepts, drop, swap, seed):
    rng = np.random.default_rng(seed)
    labels = np.array(concepts, dtype=bool)
    items, columns = np.nonzero(labels)
    dropped, swapped = rng.random(len(items)) < drop, rng.random(len(items)) < swap
    labels[items[dropped | swapped], columns[dropped | swapped]] = False
    for item in items[swapped]:  # a label can be dropped and swapped at once
        labels[item, rng.choice(np.flatnonzero(~concepts[item] & ~labels[item]))] = True
    return labels


def _noisy_swap_to_any_concept(concepts, drop, swap, seed):
    rng = np.random.default_rng(seed)
    labels = np.array(concepts, dtype=bool)
    items, columns = np.nonzero(labels)
    u = rng.random(len(items))
    labels[items[u < drop + swap], columns[u < drop + swap]] = False
    for item in items[(u >= drop) & (u < drop + swap)]:
        labels[item, rng.integers(concepts.shape[1])] = True  # maybe one the item has
    return labels


def _noisy_in_place(concepts, drop, swap, seed):
    items, columns = np.nonzero(concepts)
    gone = np.random.default_rng(seed).random(len(items)) < drop
    concepts[items[gone], columns[gone]] = False
    return concepts


def _match_argmax(f1):
    return np.asarray(f1).argmax(1)


def _match_greedy(f1):
    f1, chosen = np.array(f1, dtype=float), []
    for row in f1:  # each concept in turn takes its best free feature
        row[chosen] = -np.inf
        chosen.append(int(row.argmax()))
    return np.array(chosen)


WRONG = [
    ("check_popularity", _popularity_with_validation, "validation items"),
    ("check_ndcg", _ndcg_unmasked, "mask the items each user has seen"),
    ("check_ndcg", _ndcg_log_rank_plus_one, r"NaN or inf.*log2\(rank \+ 2\)"),
    ("check_diversity", _diversity_with_self_pairs, "pair each item with itself"),
    ("check_fvu", _fvu_about_zero, "variance about the mean"),
    ("check_sparsity", _sparsity_dead_entries, "fires on no sample"),
    ("check_topk_encode", _topk_unnormalised, "standardise x first"),
    ("check_item_features", _item_features_positions, "count distinct items"),
    ("check_genre_score", _genre_precision_only, "subtract the base rate"),
    ("check_feature_effect", _feature_effect_no_scale, "input_scale"),
    ("check_add_edit", _add_by_decoding, "decoded the edited code"),
    ("check_add_edit", _right_except_at_zero, "adding 0 must leave h exactly"),
    ("check_scale_edit", _scale_by_adding, "differs from row to row"),
    ("check_genre_share", _genre_share_unmasked, "mask the items each user has seen"),
    ("check_genre_share", _genre_share_with_dropout, "eval mode"),
    ("check_purity", _purity_bottom, r"\*most\* activated"),
    ("check_overwrite", _overwrite_without_subtracting, r"adds \(v - z_n\) W_dec\[n\]"),
    ("check_rbo", rbo_truncated, "extrapolation term"),
    ("check_frequency_groups", _groups_rarest_first, "not the rarest"),
    ("check_tree", _tree_any_group, "earlier group"),
    ("check_matryoshka_loss", _matryoshka_full_only, "every prefix"),
    ("check_mix", _mix_l2, "L1 norm"),
    ("check_tfidf", _tfidf_by_rows, "share of its document"),
    ("check_tfidf", _tfidf_unclamped, "empty document"),
    ("check_best_characterizes", _best_characterizes_keeping_rare, "fewer than min_items"),
    ("check_precision_recall", _precision_recall_swapped, "swapped"),
    ("check_precision_recall", _precision_recall_over_samples, "not by the number of samples"),
    ("check_precision_recall", _precision_recall_unguarded, r"NaN or inf.*never fires"),
    ("check_noisy_labels", _noisy_drop_and_swap_exchanged, "exchange drop and swap"),
    ("check_noisy_labels", _noisy_drop_and_swap_independent, "never both"),
    ("check_noisy_labels", _noisy_swap_to_any_concept, "neither has nor was already given"),
    ("check_noisy_labels", _noisy_in_place, "changed the matrix it was given"),
    ("check_matching", _match_argmax, "same feature"),
    ("check_matching", _match_greedy, "greedy choice"),
]


@pytest.mark.parametrize(
    ("check", "wrong", "mistake"), WRONG, ids=lambda v: getattr(v, "__name__", None)
)
def test_a_wrong_answer_fails_naming_the_mistake(check, wrong, mistake):
    with pytest.raises(ExerciseError, match=mistake):
        getattr(exercises, check)(wrong)


def test_an_unknown_mistake_says_how_far_off_it_is():
    with pytest.raises(ExerciseError, match="differs from the library's by up to"):
        exercises.check_fvu(lambda x, x_hat: 0.5)
    with pytest.raises(ExerciseError, match="shape"):
        exercises.check_purity(lambda acts, concepts, k: np.zeros((3, 6)))


def test_the_noisy_labels_check_passes_the_library(capsys):
    # 9.2 tests properties, not draws: recovery.noisy_labels itself must have them
    exercises.check_noisy_labels(recovery.noisy_labels)
    assert "passed" in capsys.readouterr().out
