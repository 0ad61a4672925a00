"""Checks for the exercises at the end of chapters 2-9, in the style of ARENA's in-notebook tests.

Each check takes what the learner wrote (a function), runs it on small inputs it builds itself, and
compares the result with the library's own tested implementation. When they differ, it runs the
usual mistakes on the same inputs and names the one the answer matches:

    exercises.check_fvu(my_fvu)
    # Exercise 3.1 passed: FVU is a ratio of sums about the mean.

Exercise 9.2's answer is random, and any order of draws is right: its check tests the properties
of the answer on a large matrix instead (shares, where swapped labels land, the seed).

A wrong answer raises `ExerciseError` (an AssertionError) whose message names the likely mistake.
Every check is deterministic and takes well under a second on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import features, hierarchy, knobs, recovery, steer
from .data import Split
from .metrics import RankingMetrics, mask_seen, purity, rbo, sae_metrics, top_k
from .models.base import make_batch
from .models.pop import PopConfig, Popularity
from .models.sasrec import SASRec, SASRecConfig
from .sae import SAE, SAEConfig


class ExerciseError(AssertionError):
    """An exercise's answer is wrong; the message says what was expected and the likely mistake."""


# -- judging an answer ---------------------------------------------------------------------------


def _array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
    if isinstance(value, (tuple, list)):
        value = [_array(v) for v in value]
    return np.asarray(value, dtype=np.float64)


def _same(a, b) -> bool:
    a, b = _array(a), _array(b)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)


def _judge(exercise: str, got, expected, mistakes: dict[str, object], success: str) -> None:
    """Pass when `got` matches `expected`; else raise, naming the first mistake whose answer
    (a value of `mistakes`; None for one that gives NaN or inf) `got` matches."""
    if _same(got, expected):
        print(f"Exercise {exercise} passed: {success}")
        return
    got_array, want = _array(got), _array(expected)
    if got_array.shape != want.shape:
        raise ExerciseError(
            f"Exercise {exercise}: your answer has shape {got_array.shape}, expected {want.shape}"
        )
    if not np.isfinite(got_array).all() and np.isfinite(want).all():
        mistake = next((m for m, wrong in mistakes.items() if wrong is None), None)
        raise ExerciseError(
            f"Exercise {exercise}: your answer holds NaN or inf. {mistake or 'Look for a 0 / 0.'}"
        )
    for mistake, wrong in mistakes.items():
        if wrong is not None and _same(got, wrong):
            raise ExerciseError(f"Exercise {exercise}: {mistake}")
    gap = np.nanmax(np.abs(got_array - want))
    raise ExerciseError(
        f"Exercise {exercise}: your answer differs from the library's by up to {gap:.3g}, and "
        f"matches none of the usual mistakes; compare it with the chapter's text step by step."
    )


def _randn(*shape, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _tiny_sae(variant="topk", d_in=8, d_sae=32, k=4, groups=(), seed=0) -> tuple[SAE, torch.Tensor]:
    """An untrained SAE with non-trivial input scaling and biases, and data x (200, d_in) for it."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        sae = SAE(SAEConfig(d_in, d_sae, variant, k=k, groups=groups))
    x = _randn(200, d_in, seed=seed) * torch.linspace(0.5, 3.0, d_in) + 2.0  # off-centre
    sae.fit_normalisation(x)
    with torch.no_grad():
        sae.b_dec.copy_(0.3 * _randn(d_in, seed=seed + 1))
        sae.b_enc.copy_(0.5 * _randn(d_sae, seed=seed + 2))
    return sae.eval(), x


def _tiny_sasrec(n_items=30, d=8, seed=0, dropout=0.1) -> SASRec:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        config = SASRecConfig(n_items, hidden_size=d, n_layers=1, dropout=dropout, max_len=10)
        return SASRec(config).eval()


def _tiny_split(n_users=12, n_items=30, seed=0) -> Split:
    """Leave-one-out histories of 4-8 distinct items per user (the last two: valid, test)."""
    rng = np.random.default_rng(seed)
    sequences = [rng.choice(n_items, rng.integers(6, 11), replace=False) for _ in range(n_users)]
    return Split(
        users=np.arange(n_users),
        train=[s[:-2] for s in sequences],
        valid=np.array([s[-2] for s in sequences]),
        test=np.array([s[-1] for s in sequences]),
        n_dropped=0,
    )


# -- chapter 2: base recommenders ----------------------------------------------------------------


def check_popularity(fn) -> None:
    """Chapter 2, exercise 2.1: fn(split, n_items) -> (n_items,) the popularity model's counts."""
    split = Split(
        users=np.arange(4),
        train=[np.array([0, 1, 1, 2]), np.array([2, 3]), np.array([2]), np.array([4, 2, 0])],
        valid=np.array([5, 5, 5, 3]),
        test=np.array([6, 6, 1, 5]),
        n_dropped=0,
    )
    n_items = 8
    expected = Popularity(PopConfig(n_items), split.train).counts

    def count(histories):
        return np.bincount(np.concatenate(histories), minlength=n_items)

    mistakes = {
        "you counted the validation items too (split.history('test')): the popularity model "
        "learns from split.train only.": count(split.history("test")),
        "you counted the held-out test items: that leaks the answer into the model; count "
        "split.train only.": count([*split.history("test"), split.test]),
        "you counted each item once per user: count every interaction, repeats included.": count(
            [np.unique(h) for h in split.train]
        ),
    }
    _judge("2.1", fn(split, n_items), expected, mistakes, "every training interaction counted.")


def _ndcg(scores, history, targets, k, mask=True, strict=False, inclusive=False) -> float:
    """NDCG@k of one target per user, and the usual mistakes when the flags are turned on."""
    pad = scores.shape[1]
    scores = mask_seen(scores, history, pad) if mask else scores
    target = scores.gather(1, targets[:, None])
    ranks = (scores > target).sum(1) if strict else (scores >= target).sum(1) - 1
    hit = ranks <= k if inclusive else ranks < k
    return (hit / torch.log2(ranks + 2.0)).mean().item()


def check_ndcg(fn) -> None:
    """Chapter 2, exercise 2.2: fn(scores, history, targets, k) -> mean NDCG@k, seen items masked
    (history: (B, L) item codes padded with n_items), ties counted against the target."""
    n_items, k = 12, 3
    scores = torch.randint(0, 6, (40, n_items), generator=torch.Generator().manual_seed(0)).float()
    history = torch.full((40, 4), n_items)  # left-padded with n_items
    targets = torch.zeros(40, dtype=torch.long)
    rng = np.random.default_rng(0)
    for row in range(40):
        items = rng.choice(n_items, 4, replace=False)
        targets[row] = int(items[0])
        seen = items[1 : 1 + rng.integers(1, 4)]
        history[row, 4 - len(seen) :] = torch.as_tensor(seen)
        scores[row, seen] += 3.0  # seen items score high: masking them matters
        if row % 8 == 0:
            scores[row, targets[row]] = 20.0  # a target ranked first
    metrics = RankingMetrics(k, n_items)
    metrics.add(mask_seen(scores, history, n_items), targets)
    expected = metrics.result()[f"ndcg@{k}"]
    args = (scores, history, targets, k)
    mistakes = {
        "did you mask the items each user has seen? Set their scores to -inf "
        "(recsae_lite.metrics.mask_seen) before ranking.": _ndcg(*args, mask=False),
        "ties: an item scored equal to the target counts as ranked above it (rank = number of "
        "other items with score >= the target's).": _ndcg(*args, strict=True),
        "the top K are the 0-based ranks 0..K-1: a hit is rank < K.": _ndcg(*args, inclusive=True),
        "with 0-based ranks the gain of a hit is 1 / log2(rank + 2): rank 0 gains 1.": None,
    }
    _judge("2.2", fn(*args), expected, mistakes, "NDCG@K with seen items masked, ties against.")


def _diversity(top, genres, pairs="upper", divide="pairs", similarity=False) -> float:
    G = genres[top].float()  # (B, k, n_genres)
    inter = G @ G.transpose(1, 2)
    sizes = G.sum(2)
    union = sizes[:, :, None] + sizes[:, None, :] - inter
    jaccard = inter / (union if similarity is None else union.clamp(min=1))
    value = jaccard if similarity else 1 - jaccard
    k = top.shape[1]
    value = value.triu(diagonal=1) if pairs == "upper" else value
    count = k * (k - 1) / 2 if divide == "pairs" else k * k
    return (value.sum((1, 2)) / count).mean().item()


def check_diversity(fn) -> None:
    """Chapter 2, exercise 2.3: fn(top, genres) -> the mean over users of the mean genre
    dissimilarity (1 - Jaccard) of the pairs in each top list; top: (B, k) item codes, genres:
    (n_items, n_genres) bool."""
    n_items, k = 10, 4
    genres = torch.rand(n_items, 4, generator=torch.Generator().manual_seed(1)) < 0.5
    genres[:2] = False  # two items without genres
    genres[2:, 0] |= ~genres[2:].any(1)  # every other item has one at least
    scores = _randn(6, n_items, seed=2)
    scores[0, :2] += 10.0  # the first user's list holds both items without genres
    top = top_k(scores, k)
    metrics = RankingMetrics(k, n_items, genres=genres)
    metrics.add(scores, top[:, 0])
    expected = metrics.result()[f"diversity@{k}"]
    mistakes = {
        "did you pair each item with itself too? Average over the k (k - 1) / 2 pairs i < j.": (
            _diversity(top, genres, pairs="all", divide="square")
        ),
        "divide the sum over pairs i < j by their number, k (k - 1) / 2, not by k * k.": (
            _diversity(top, genres, divide="square")
        ),
        "diversity is the dissimilarity, 1 - Jaccard, not the Jaccard similarity.": (
            _diversity(top, genres, similarity=True)
        ),
        "two items without genres have an empty union: count their similarity as 0 (clamp the "
        "union to at least 1).": None,
    }
    _judge("2.3", fn(top, genres), expected, mistakes, "mean pairwise genre dissimilarity.")


# -- chapter 3: training SAEs --------------------------------------------------------------------


def check_fvu(fn) -> None:
    """Chapter 3, exercise 3.1: fn(x, x_hat) -> the fraction of variance unexplained."""
    sae, x = _tiny_sae()
    with torch.no_grad():
        x_hat = sae(x)
    expected = sae_metrics(sae, x)["fvu"]
    error = (x - x_hat).pow(2)
    about_mean = (x - x.mean(0)).pow(2)
    mistakes = {
        "FVU divides by the variance about the mean, sum ||x - mean(x)||^2, not about zero "
        "(sum ||x||^2).": error.sum() / x.pow(2).sum(),
        "FVU is one ratio of sums over the whole set, not the mean of per-sample ratios.": (
            error.sum(1) / about_mean.sum(1)
        ).mean(),
        "FVU is one ratio of sums over every dimension, not the mean of per-dimension ratios.": (
            error.sum(0) / about_mean.sum(0)
        ).mean(),
        "that is the fraction of variance explained, 1 - FVU.": 1 - expected,
    }
    _judge("3.1", fn(x, x_hat), expected, mistakes, "FVU is a ratio of sums about the mean.")
    if not _same(fn(x, x.mean(0).expand_as(x)), 1.0) or not _same(fn(x, x), 0.0):
        raise ExerciseError("Exercise 3.1: the mean predictor must give 1 and x itself 0.")


def check_sparsity(fn) -> None:
    """Chapter 3, exercise 3.2: fn(z) -> (l0, dead_fraction) of codes z (N, d_sae)."""
    sae, x = _tiny_sae("relu")
    with torch.no_grad():
        sae.b_enc[:6] = -100.0  # six latents that can never fire
        z = sae.encode(x)
    stats = sae_metrics(sae, x)
    expected = (stats["l0"], stats["dead_fraction"])
    active = z > 0
    mistakes = {
        "a latent is dead when it fires on no sample at all, (z > 0).any(0) is False; not the "
        "share of zero entries of z.": (stats["l0"], (~active).float().mean()),
        "L0 is the number of active latents per sample: divide by the number of samples.": (
            active.sum(),
            stats["dead_fraction"],
        ),
        "L0 counts active latents per sample (sum over dim 1), then averages over samples; you "
        "averaged over latents.": (active.sum(0).float().mean(), stats["dead_fraction"]),
    }
    _judge("3.2", fn(z), expected, mistakes, "L0 per sample, and latents that never fire.")


def check_topk_encode(fn) -> None:
    """Chapter 3, exercise 3.3: fn(sae, x) -> the codes of a TopK SAE, z (B, d_sae)."""
    sae, x = _tiny_sae("topk", d_in=8, d_sae=16, k=6)
    with torch.no_grad():
        sae.b_enc.sub_(0.8)  # some of the k largest pre-activations are negative
        expected = sae.encode(x)
        x_norm = sae.normalise(x)
        pre = sae.pre_acts(x_norm)

        def keep(values, index, relu=True):
            kept = values.gather(1, index)
            return torch.zeros_like(values).scatter(1, index, F.relu(kept) if relu else kept)

        k = sae.config.k
        raw = sae.pre_acts(x)  # no standardisation
        no_b_dec = x_norm @ sae.W_enc + sae.b_enc
        mistakes = {
            "did you standardise x first? sae.normalise(x): the SAE stores its input mean and "
            "scale.": keep(raw, raw.topk(k, dim=1).indices),
            "subtract b_dec before the encoder: (x_norm - b_dec) W_enc + b_enc.": keep(
                no_b_dec, no_b_dec.topk(k, dim=1).indices
            ),
            "a kept latent whose pre-activation is negative must be 0: apply ReLU to the k kept "
            "values.": keep(pre, pre.topk(k, dim=1).indices, relu=False),
            "keep the k largest pre-activations, not the k largest in absolute value.": keep(
                pre, pre.abs().topk(k, dim=1).indices
            ),
            "keep only the k largest pre-activations of each sample, and zero the rest.": F.relu(
                pre
            ),
        }
    _judge("3.3", fn(sae, x), expected, mistakes, "standardise, encode, keep the top k, ReLU.")


# -- chapter 4: what features mean ---------------------------------------------------------------


def check_item_features(fn) -> None:
    """Chapter 4, exercise 4.1: fn(acts, items, top, min_items) -> (U,) bool, True for the units
    with fewer than min_items distinct items among their top positive positions."""
    rng = np.random.default_rng(0)
    n, top, min_items = 80, 10, 4
    items = rng.integers(0, 30, n)
    items[:12] = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]
    acts = torch.zeros(n, 4)
    acts[:12, 0] = torch.linspace(1, 2, 12)  # fires on two films: an item feature
    acts[:, 1] = torch.as_tensor(rng.random(n), dtype=torch.float32)  # broad
    acts[40:43, 2] = 1.0  # positive on three positions only
    acts[:, 3] = -torch.as_tensor(rng.random(n), dtype=torch.float32)
    acts[:12, 3] = 1.0  # ten top positions, two films
    tops = features.top_items(acts, items, top)
    expected = np.array([len(set(t)) < min_items for t in tops])
    all_tops = [items[i] for i in acts.topk(top, dim=0).indices.T.numpy()]
    mistakes = {
        "count distinct items (len(set(...))), not positions: a feature that fires on one film "
        "at many positions is an item feature.": np.array([len(t) < min_items for t in tops]),
        "only the unit's positive positions count among its top ones.": np.array(
            [len(set(t)) < min_items for t in all_tops]
        ),
        "True marks an item feature: fewer than min_items distinct items.": ~expected,
    }
    got = fn(acts, items, top, min_items)
    _judge("4.1", got, expected, mistakes, "distinct items among the top positive positions.")


def check_genre_score(fn) -> None:
    """Chapter 4, exercise 4.2: fn(acts, labels, top) -> the precision above chance of one unit
    (acts: (N,)) for one genre (labels: (N,) bool)."""
    rng = np.random.default_rng(1)
    n, top = 200, 20
    labels = rng.random(n) < 0.3
    units = [
        torch.as_tensor(rng.random(n) + labels, dtype=torch.float32),  # about the genre
        torch.as_tensor(rng.random(n), dtype=torch.float32),  # chance
        torch.as_tensor(np.where(np.arange(n) < 12, labels + 1.0, -1.0)),
    ]  # 12 positives
    expected = [features.genre_scores(u[:, None].float(), labels[:, None], top, 1)[0, 0]
                for u in units]  # fmt: skip
    b = labels.mean()

    def precision(u, positive=True):
        order = u.topk(top).indices.numpy()
        kept = order[u.numpy()[order] > 0] if positive else order
        return labels[kept].mean()

    mistakes = {
        "subtract the base rate b, the share of all positions with the genre: (p - b) / (1 - b)."
        : [precision(u) for u in units],
        "divide p - b by 1 - b, so that 1 means every top position has the genre.": [
            precision(u) - b for u in units
        ],
        "only the unit's positive positions among its top ones count: p is the share of those.": [
            (precision(u, False) - b) / (1 - b) for u in units
        ],
    }  # fmt: skip
    got = [fn(u, labels, top) for u in units]
    _judge("4.2", got, expected, mistakes, "precision above chance of the top positions.")


def check_feature_effect(fn) -> None:
    """Chapter 4, exercise 4.3: fn(model, sae, j) -> (n_items,) the change of every item's score
    when feature j's decoder direction is added to a state."""
    model = _tiny_sasrec()
    sae, _ = _tiny_sae(d_in=8, d_sae=32)
    j = 5
    with torch.no_grad():
        h = _randn(1, 8, seed=3)
        direction = sae.W_dec[j] * sae.input_scale
        expected = (model.scores_from_hidden(h + direction, None)
                    - model.scores_from_hidden(h, None))[0]  # fmt: skip
        one_hot = torch.zeros(1, sae.config.d_sae)
        one_hot[0, j] = 1.0
        mistakes = {
            "W_dec is in the SAE's normalised units: multiply the row by sae.input_scale.": (
                model.scores_from_hidden(sae.W_dec[j : j + 1], None)[0]
            ),
            "sae.decode(e_j) adds the decoder bias and the input mean: the direction alone is "
            "W_dec[j] * input_scale (or decode(e_j) - decode(0)).": (
                model.scores_from_hidden(sae.decode(one_hot), None)[0]
            ),
            "use the decoder row as it is (times input_scale), not normalised to unit length.": (
                model.scores_from_hidden(steer.sae_direction(sae, j)[None], None)[0]
            ),
        }
        got = fn(model, sae, j)
    _judge("4.3", got, expected, mistakes, "the decoder direction through the frozen model.")


# -- chapter 5: steering SASRec ------------------------------------------------------------------


def _edit_mistakes(sae, h, j, z_new) -> dict[str, torch.Tensor]:
    """The two classic ways to get a feature edit wrong, for codes changed to z_new."""
    z = sae.encode(h)
    decoded = sae.decode(z_new)
    return {
        "you decoded the edited code, which replaces h by the SAE's reconstruction: add only the "
        "change, h + (z' - z) W_dec * input_scale, so that the error term stays.": decoded,
        "W_dec is in the SAE's normalised units: multiply the change by sae.input_scale.": (
            h + (z_new - z)[:, j : j + 1] * sae.W_dec[j]
        ),
    }


def _judge_edit(exercise, got, expected, mistakes, success, unchanged, h, what) -> None:
    """`_judge` for an edit, which must also leave h exactly as it was when it changes nothing
    (`unchanged`: the learner's edit of h by a no-op, described by `what`)."""
    if _same(got, expected) and not _same(unchanged, h):
        raise ExerciseError(
            f"Exercise {exercise}: {what} must leave h exactly as it was (the SAE's error term is "
            f"kept): add only the change (z' - z) W_dec * input_scale to h; do not decode z'."
        )
    _judge(exercise, got, expected, mistakes, success)


def check_add_edit(fn) -> None:
    """Chapter 5, exercise 5.1: fn(sae, h, j, v) -> h' with v added to feature j's activation,
    keeping the SAE's error term."""
    sae, x = _tiny_sae()
    h, j, v = x[:10], 3, 1.5
    with torch.no_grad():
        expected = steer.feature_edit(sae, {j: v}, "add")(h)
        z_new = sae.encode(h)
        z_new[:, j] += v
        mistakes = _edit_mistakes(sae, h, j, z_new)
        got, unchanged = fn(sae, h, j, v), fn(sae, h, j, 0.0)
    _judge_edit(
        "5.1", got, expected, mistakes, "strength 0 is the model.", unchanged, h, "adding 0"
    )


def check_scale_edit(fn) -> None:
    """Chapter 5, exercise 5.2: fn(sae, h, j, factor) -> h' with feature j's activation
    multiplied by factor, keeping the SAE's error term."""
    sae, x = _tiny_sae()
    h, factor = x[:20], 3.0
    with torch.no_grad():
        z = sae.encode(h)
        j = int((z > 0).sum(0).argmax())  # the feature that fires on most of these states
        expected = steer.feature_edit(sae, {j: factor}, "scale")(h)
        z_new = z.clone()
        z_new[:, j] *= factor
        mistakes = _edit_mistakes(sae, h, j, z_new)
        mistakes["scaling changes z_j by z_j * factor - z_j, which differs from row to row: "
                 "encode h first; do not add factor * W_dec[j]."] = (
            h + factor * sae.W_dec[j] * sae.input_scale)  # fmt: skip
        got, unchanged = fn(sae, h, j, factor), fn(sae, h, j, 1.0)
    _judge_edit("5.2", got, expected, mistakes, "each state's own z_j scaled.", unchanged, h,
                "scaling by 1")  # fmt: skip


def check_genre_share(fn) -> None:
    """Chapter 5, exercise 5.3: fn(model, split, rows, edit, in_genre, k) -> the mean share of
    the k recommendations of the split's rows (test histories, seen items masked, edit inside
    the model) that are in the genre (in_genre: (n_items,) bool)."""
    # in training mode, as zoo models are, with a dropout that changes the lists when left on
    model, split = _tiny_sasrec(dropout=0.5).train(), _tiny_split()
    rows, k = np.arange(12), 5
    in_genre = np.arange(30) % 3 == 0
    direction = F.normalize(model.item_embeddings().detach()[in_genre].mean(0), dim=0)
    edit = steer.direction_edit(direction, 2.0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        got, again = (fn(model, split, rows, edit, in_genre, k) for _ in range(2))
    if not _same(got, again):
        raise ExerciseError(
            "Exercise 5.3: your answer changes from one call to the next: score in eval mode "
            "(Spliced(model, edit).eval(), or model.eval()), so that dropout is off."
        )
    expected = in_genre[steer.recommend(model, split, rows, edit, k)].mean()  # sets eval mode
    with torch.no_grad():
        histories = split.history("test")
        batch = make_batch(split.users[rows], [histories[r] for r in rows], model.n_items)
        edited = model.scores_from_hidden(edit(model.hidden(batch)), batch)
        unmasked = top_k(edited, k).numpy()
        unedited = steer.recommend(model, split, rows, None, k)
        valid_batch = make_batch(split.users[rows], [split.train[r] for r in rows], model.n_items)
        valid = model.scores_from_hidden(edit(model.hidden(valid_batch)), valid_batch)
        valid_top = top_k(mask_seen(valid, valid_batch.history, model.n_items), k).numpy()
    mistakes = {
        "did you mask the items each user has seen (recsae_lite.metrics.mask_seen)?": (
            in_genre[unmasked].mean()
        ),
        "the edit must act inside the model: steer.recommend(model, split, rows, edit, k), or "
        "scores_from_hidden(edit(hidden(batch)), batch).": in_genre[unedited].mean(),
        "rank after the test history, split.history('test') (training items + the validation "
        "item), as the chapter does.": in_genre[valid_top].mean(),
    }
    _judge("5.3", got, expected, mistakes, "the genre's share of the steered lists.")


# -- chapter 6: two-tower models -----------------------------------------------------------------


def check_purity(fn) -> None:
    """Chapter 6, exercise 6.1: fn(acts, concepts, k) -> (U, C) semantic purity@k of each unit
    (column of acts (n_items, U)) for each concept (column of concepts (n_items, C), bool)."""
    acts = F.relu(_randn(50, 6, seed=4))  # many items at 0 for each unit
    concepts = (_randn(50, 3, seed=5) > 0.3).numpy()
    k = 5
    expected = purity(acts, concepts, k)
    c = torch.as_tensor(concepts, dtype=torch.float32)
    fired = (acts > 0).float()
    bottom = acts.topk(k, dim=0, largest=False).indices.T  # (U, k)
    mistakes = {
        "take each unit's k *most* activated items (topk along the items, largest=True).": (
            c[bottom].mean(1)
        ),
        "purity reads only the unit's k most activated items, not every item it fires on.": (
            (fired.T @ c) / fired.sum(0)[:, None]
        ),
    }
    _judge("6.1", fn(acts, concepts, k), expected, mistakes, "the share of the top k with it.")


def check_overwrite(fn) -> None:
    """Chapter 6, exercise 6.2: fn(sae, u, neuron, value) -> u' with the neuron of each code set
    to value (z_n <- v), keeping the SAE's error term."""
    sae, x = _tiny_sae()
    u = x[:10]
    with torch.no_grad():
        z = sae.encode(u)
        n = int((z > 0).sum(0).argmax())
        value = 2.0
        expected = steer.feature_edit(sae, {n: value}, "set")(u)
        z_new = z.clone()
        z_new[:, n] = value
        mistakes = _edit_mistakes(sae, u, n, z_new)
        mistakes["setting z_n <- v adds (v - z_n) W_dec[n], not v W_dec[n]: subtract the "
                 "current activation."] = u + value * sae.W_dec[n] * sae.input_scale  # fmt: skip
        got, unchanged = fn(sae, u, n, value), fn(sae, u[:1], n, float(z[0, n]))
    _judge_edit("6.2", got, expected, mistakes, "z_n set, the error term kept.", unchanged, u[:1],
                "setting z_n to its current value")  # fmt: skip


def check_rbo(fn) -> None:
    """Chapter 6, exercise 6.3: fn(a, b, p) -> the extrapolated rank-biased overlap of two top
    lists of the same length."""
    rng = np.random.default_rng(6)
    base = list(rng.permutation(40)[:10])
    pairs = [
        (base, base),
        (base, list(range(100, 110))),
        (base, base[::-1]),
        (base, base[:5] + list(range(100, 105))),
        (base, list(rng.permutation(base))),
    ]
    p = 0.9  # fmt: skip
    expected = [rbo(a, b, p) for a, b in pairs]

    def parts(a, b):
        """Per depth d: the overlap of the two prefixes of length d."""
        return np.array([len(set(a[:d]) & set(b[:d])) for d in range(1, len(a) + 1)])

    def truncated(a, b):
        overlap = parts(a, b)
        depths = np.arange(1, len(a) + 1)
        return (1 - p) / p * (overlap / depths * p**depths).sum()

    mistakes = {
        "RBO of two identical lists must be 1: add the extrapolation term overlap_k / k * p^k "
        "(Webber et al. 2010, eq. 32) to (1 - p) / p * sum_d p^d overlap_d / d.": [
            truncated(a, b) for a, b in pairs
        ],
        "weigh depth d by p^d: a plain average of the overlaps at each depth weighs the bottom "
        "of the lists as much as the top.": [
            (parts(a, b) / np.arange(1, len(a) + 1)).mean() for a, b in pairs
        ],
        "that is the overlap of the whole lists; RBO looks at every depth, the top first.": [
            len(set(a) & set(b)) / len(a) for a, b in pairs
        ],
    }
    got = [fn(a, b, p) for a, b in pairs]
    _judge("6.3", got, expected, mistakes, "rank-biased overlap, extrapolated.")


# -- chapter 7: Matryoshka hierarchies -----------------------------------------------------------


def _firing_codes(seed: int = 7) -> torch.Tensor:
    """(60, 8) codes whose firing counts all differ, with magnitudes that fall as counts rise."""
    rng = np.random.default_rng(seed)
    counts = rng.permutation([4, 8, 13, 19, 24, 30, 37, 45])
    codes = np.zeros((60, 8), dtype=np.float32)
    for j, c in enumerate(counts):
        codes[rng.choice(60, c, replace=False), j] = 50.0 / c
    return torch.as_tensor(codes)


def check_frequency_groups(fn) -> None:
    """Chapter 7, exercise 7.1: fn(codes, sizes) -> (d_sae,) the group of each feature, the most
    frequently firing features in the first group."""
    codes, sizes = _firing_codes(), (2, 2, 4)
    expected = hierarchy.frequency_groups(codes, sizes)
    by_rate = np.argsort(-(codes > 0).sum(0).numpy(), kind="stable")
    by_total = np.argsort(-codes.sum(0).numpy(), kind="stable")

    def groups(order):
        out = np.empty(len(order), dtype=int)
        out[order] = hierarchy.group_of(sizes)
        return out

    mistakes = {
        "the most frequently firing features come first, not the rarest.": groups(by_rate[::-1]),
        "order by how often a feature fires, (codes > 0).sum(0), not by its total activation.": (
            groups(by_total)
        ),
        "order the features by firing frequency before giving out the groups; these are the "
        "groups of the features in index order.": hierarchy.group_of(sizes),
        "groups[feature] is the group of that feature: assign groups[order] = group_of(sizes), "
        "not groups = group_of(sizes)[order].": hierarchy.group_of(sizes)[by_rate],
    }
    _judge("7.1", fn(codes, sizes), expected, mistakes, "groups by firing frequency.")


def check_tree(fn) -> None:
    """Chapter 7, exercise 7.2: fn(codes, groups) -> (d_sae,) the parent of each feature (-1 for
    none): the earlier-group feature it fires together with on the most samples."""
    codes = _firing_codes()
    codes[:, 7] = 0.0  # a feature that never fires: a root
    codes[codes[:, 0] > 0, 6] = 0.0
    codes[codes[:, 6] > 0, 0] = 0.0  # ... and one that never fires with the first group
    codes[:20, 5] = 5.0  # a strong group-2 feature, so that magnitudes and counts disagree
    groups = np.array([0, 0, 1, 1, 1, 2, 2, 2])
    expected = hierarchy.tree(codes, groups)
    fired = (codes > 0).float()

    def parents(together, earlier_only=True, roots=True):
        g = torch.as_tensor(groups)
        allowed = g[None, :] < g[:, None] if earlier_only else ~torch.eye(len(g), dtype=bool)
        best, parent = torch.where(allowed, together, -1.0).max(1)
        return torch.where(best > 0, parent, -1) if roots else parent

    mistakes = {
        "a parent must come from an earlier group (first-group features are roots, -1).": (
            parents(fired.T @ fired, earlier_only=False)
        ),
        "count the samples where both fire, (codes > 0) as 0/1, not the product of their "
        "activations.": parents(codes.T @ codes),
        "a feature that never fires together with an earlier one is a root: its parent is -1.": (
            parents(fired.T @ fired, roots=False)
        ),
    }
    _judge("7.2", fn(codes, groups), expected, mistakes, "parents from co-firing counts.")


def check_matryoshka_loss(fn) -> None:
    """Chapter 7, exercise 7.3: fn(sae, z, x_norm) -> the Matryoshka reconstruction loss of codes
    z (B, d_sae) for standardised inputs x_norm (B, d_in), summed over the nested prefixes."""
    sae, x = _tiny_sae("matryoshka", d_in=8, d_sae=24, k=4, groups=(4, 8, 12))
    x = x[:64]
    with torch.no_grad():
        sae.train()
        out = sae.losses(x)
        sae.eval()
        rows, cols, values = out["codes"]
        z = torch.zeros(len(x), sae.config.d_sae).index_put_((rows, cols), values)
        x_norm = sae.normalise(x)
        expected = out["mse"]
        ends = np.cumsum(sae.config.groups)
        starts = ends - np.array(sae.config.groups)

        def error(part, bias=True, per="sample"):
            e = (part + (sae.b_dec if bias else 0) - x_norm).pow(2)
            return e.sum(-1).mean() if per == "sample" else e.mean()

        prefixes = [z[:, :end] @ sae.W_dec[:end] for end in ends]
        alone = [z[:, s:e] @ sae.W_dec[s:e] for s, e in zip(starts, ends, strict=True)]
        mistakes = {
            "sum the error of every prefix (the first group, the first two, ..., all), not only "
            "the full reconstruction.": error(prefixes[-1]),
            "prefix g decodes groups 0..g together, not group g alone.": sum(map(error, alone)),
            "sum over the prefixes, do not average them.": sum(map(error, prefixes)) / len(ends),
            "every prefix's reconstruction adds the decoder bias b_dec.": sum(
                error(p, bias=False) for p in prefixes
            ),
            "sum the squared error over the d_in dimensions, then average over samples.": sum(
                error(p, per="element") for p in prefixes
            ),
        }
        got = fn(sae, z, x_norm)
    _judge("7.3", got, expected, mistakes, "every prefix reconstructs x on its own.")


# -- chapter 8: knobs inside ELSA ----------------------------------------------------------------


def check_mix(fn) -> None:
    """Chapter 8, exercise 8.1: fn(z, neuron, alpha) -> paper C's mix
    z' = (1 - alpha) z + alpha ||z||_1 e_neuron."""
    z = F.relu(_randn(6, 20, seed=8) - 0.8)  # sparse, non-negative codes
    neuron, alpha = 4, 0.3
    if not _same(fn(z, neuron, 0.0), z):
        raise ExerciseError("Exercise 8.1: alpha = 0 must leave the code as it was.")
    expected = knobs.mix(z, neuron, alpha)
    e = F.one_hot(torch.tensor(neuron), z.shape[1]).float()
    l1, l2 = z.abs().sum(1, keepdim=True), z.norm(dim=1, keepdim=True)
    mistakes = {
        "the push is alpha ||z||_1 e_n, the L1 norm (the sum of the activations), which the mix "
        "keeps; not the L2 norm.": (1 - alpha) * z + alpha * l2 * e,
        "mix, do not add: (1 - alpha) z + alpha ||z||_1 e_n; without the (1 - alpha) the total "
        "activation grows.": z + alpha * l1 * e,
        "scale the one-hot by the code's L1 norm: alpha ||z||_1 e_n, not alpha e_n.": (
            (1 - alpha) * z + alpha * e
        ),
    }
    _judge("8.1", fn(z, neuron, alpha), expected, mistakes, "the L1 norm of the code is kept.")


def check_tfidf(fn) -> None:
    """Chapter 8, exercise 8.2: fn(counts) -> TF-IDF of a (documents, terms) matrix."""
    counts = F.relu(_randn(5, 7, seed=9)) * 3
    counts[:, 0] = 1.0  # a term in every document: its idf is 0
    counts[3] = 0.0  # an empty document (a neuron that never fires)
    expected = knobs.tfidf(counts)
    tf = counts / counts.sum(1, keepdim=True).clamp_min(1e-12)
    df = (counts > 0).sum(0)
    idf = torch.log(len(counts) / df)
    mistakes = {
        "tf is a term's share of its document: divide each row by its sum.": counts * idf,
        "the document frequency counts the documents where the term occurs, (counts > 0).sum(0), "
        "not its total count.": tf * torch.log(len(counts) / counts.sum(0)),
        "use idf = log(n_documents / df) without smoothing.": (
            tf * torch.log(len(counts) / (1 + df))
        ),
        "idf is log(n_documents / df), not log(df / n_documents).": (
            tf * torch.log(df / len(counts))
        ),
        "an empty document (a row of zeros: a neuron that never fires) gives 0 / 0: clamp the "
        "row sums to a tiny positive number (its tf is then 0).": None,
    }
    _judge("8.2", fn(counts), expected, mistakes, "term share times inverse document frequency.")


def check_best_characterizes(fn) -> None:
    """Chapter 8, exercise 8.3: fn(activity, fires, min_items) -> (C,) each concept's
    best-characterizing neuron (TF-IDF with neurons as documents), leaving out neurons that fire
    on fewer than min_items items."""
    activity = F.relu(_randn(4, 12, seed=12))  # a seed whose best neurons have no ties
    activity[:, 0] = 0.0
    activity[1, 0] = 5.0  # a neuron of a few films, all one concept's: TF-IDF's favourite
    fires = torch.tensor([2, 30, 25, 40, 22, 31, 27, 45, 33, 21, 29, 35])
    min_items = 20
    expected = knobs.mappings(activity, fires, n=1, min_items=min_items)["best characterizes"][:, 0]
    rare = fires < min_items
    mistakes = {
        "neurons are the documents and concepts the terms: tfidf(activity.T).T (the other way "
        "round is the 'most unique' mapping).": knobs.mappings(activity, fires, 1, min_items)[
            "most unique"
        ][:, 0],
        "leave out the neurons that fire on fewer than min_items items: they are about those "
        "films, and TF-IDF favours them.": knobs.tfidf(activity.T).T.argmax(1),
        "weigh the activity with TF-IDF before taking the best neuron.": activity.masked_fill(
            rare, -1
        ).argmax(1),
    }
    got = fn(activity, fires, min_items)
    _judge("8.3", got, expected, mistakes, "TF-IDF over neurons, rare neurons left out.")


# -- chapter 9: the answer key -------------------------------------------------------------------


def check_precision_recall(fn) -> None:
    """Chapter 9, exercise 9.1: fn(acts, has) -> (precision, recall) of one feature as a detector
    of one concept over the samples; acts: (N,) the feature's activations (it fires where > 0),
    has: (N,) bool, which samples carry the concept."""
    codes = F.relu(_randn(80, 4, seed=13) - 0.3)  # many exact zeros
    codes[:, 3] = 0.0  # a feature that never fires: one concept must be matched to it
    noise = _randn(80, 4, seed=14)
    concepts = (codes[:, [1, 2, 0, 3]] + 0.6 * noise > 0.5).numpy()  # (80, 4) bool
    pairs = recovery.match(codes, concepts)
    expected = pairs[["precision", "recall"]].to_numpy()
    acts = codes.numpy()[:, pairs["feature"]]  # (N, C) the activations of each concept's feature
    truth = concepts.astype(float)
    fired = (acts > 0).astype(float)

    def ratio(top, bottom):
        return top / np.maximum(bottom, 1e-12)

    hits = (fired * truth).sum(0)
    weighted = (acts * truth).sum(0)
    mistakes = {
        "precision and recall are swapped: precision divides the hits by the feature's firings, "
        "recall by the concept's samples.": expected[:, ::-1],
        "divide the hits by the feature's firings (precision) and by the concept's samples "
        "(recall), not by the number of samples.": np.stack([hits / len(acts)] * 2, 1),
        "a feature fires where its activation is > 0: a zero is no firing.": np.stack(
            [truth.mean(0), np.ones(len(hits))], 1
        ),
        "count the firings (acts > 0) as 0/1; do not weigh them by the activation.": np.stack(
            [ratio(weighted, acts.sum(0)), ratio(weighted, truth.sum(0))], 1
        ),
        "a feature that never fires has no firings: its precision is 0 / 0; count it as 0 "
        "(divide by at least 1), as recovery.match does.": None,
    }
    got = [fn(codes[:, j], concepts[:, c]) for c, j in enumerate(pairs["feature"])]
    _judge("9.1", got, expected, mistakes, "precision over firings, recall over the concept.")


def _moved(concepts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_items,) per item: the true labels that are gone, and the wrong ones that appeared."""
    return (concepts & ~labels).sum(1), (labels & ~concepts).sum(1)


def check_noisy_labels(fn) -> None:
    """Chapter 9, exercise 9.2: fn(concepts, drop, swap, seed) -> (n_items, C) bool tags: each
    true label dropped with probability drop, or else (never both) moved with probability swap
    to a concept the item neither has nor was already given. Any order of random draws is right,
    so this checks properties on a large matrix, not `recovery.noisy_labels` draw by draw."""
    n, n_concepts, tol = 8_000, 6, 0.02  # 24,000 labels: a share's std is at most 0.0033
    rng = np.random.default_rng(15)
    concepts = np.zeros((n, n_concepts), dtype=bool)
    concepts[np.arange(n)[:, None], rng.random((n, n_concepts)).argsort(1)[:, :3]] = True
    truth = concepts.copy()
    n_labels = truth.sum()

    def fail(message):
        raise ExerciseError(f"Exercise 9.2: {message}")

    def tags(drop, swap, seed=0):
        labels = np.asarray(fn(concepts, drop, swap, seed))
        if not np.array_equal(concepts, truth):
            fail("your function changed the matrix it was given: the truth must stay as it was; "
                 "work on a copy (np.array(concepts, dtype=bool)).")  # fmt: skip
        if labels.shape != truth.shape or not np.isin(labels, (0, 1)).all():
            fail(f"return a bool matrix of the shape of concepts, {truth.shape}; yours has shape "
                 f"{labels.shape}.")  # fmt: skip
        return labels.astype(bool)

    def shares(labels):
        gone, wrong = _moved(truth, labels)
        return gone.sum() / n_labels, wrong.sum() / n_labels

    if not np.array_equal(tags(0.0, 0.0), truth):
        fail("with drop = swap = 0 the tags must be the truth itself.")
    both = tags(0.3, 0.2)
    if not np.array_equal(both, tags(0.3, 0.2)):
        fail("the same seed must give the same tags: draw from np.random.default_rng(seed).")
    if np.array_equal(both, tags(0.3, 0.2, seed=1)):
        fail("another seed must give other tags: pass seed to np.random.default_rng.")
    dropped, wrong = shares(tags(0.3, 0.0))
    if wrong > 0:
        fail("with swap = 0 no wrong label may appear: did you exchange drop and swap?")
    if abs(dropped - 0.3) > tol:
        fail(f"with drop = 0.3 and swap = 0 you dropped {dropped:.3f} of the true labels.")
    only_swaps = tags(0.0, 0.3)
    for labels in (only_swaps, both):
        gone, added = _moved(truth, labels)
        if (added > gone).any():
            fail("a swap moves a label: the true one goes when the wrong one comes; some items "
                 "got more wrong labels than they lost true ones.")  # fmt: skip
    gone, added = _moved(truth, only_swaps)
    if (added < gone).any():
        fail("with drop = 0 every label that goes is swapped, so it must land on a concept the "
             "item neither has nor was already given (choose among ~concepts[item] & "
             "~labels[item]): some of yours did not.")  # fmt: skip
    swapped, _ = shares(only_swaps)
    if abs(swapped - 0.3) > tol:
        fail(f"with drop = 0 and swap = 0.3 you swapped {swapped:.3f} of the true labels.")
    gone, moved = shares(both)
    if abs(gone - 0.5) > tol:
        fail(f"a label is dropped with probability drop or else swapped with probability swap, "
             f"never both: one draw u per label, dropped if u < drop, swapped if drop <= u < "
             f"drop + swap. With 0.3 and 0.2, {gone:.3f} of the true labels went instead of "
             f"0.5.")  # fmt: skip
    if abs(moved - 0.2) > tol:
        fail(f"with drop = 0.3 and swap = 0.2, {moved:.3f} of the labels moved to a wrong "
             f"concept instead of 0.2.")  # fmt: skip
    print("Exercise 9.2 passed: dropped or else swapped, each swap to a concept the item lacks.")


def _greedy(f1: np.ndarray, by_value: bool) -> np.ndarray:
    """One-to-one by greedy choices: concept by concept, or the largest free pair first."""
    f1, chosen = f1.copy(), np.full(len(f1), -1)
    for concept in range(len(f1)):
        if by_value:
            concept, feature = np.unravel_index(f1.argmax(), f1.shape)
        else:
            feature = f1[concept].argmax()
        chosen[concept] = feature
        f1[:, feature] = -np.inf
        f1[concept] = -np.inf
    return chosen


def check_matching(fn) -> None:
    """Chapter 9, exercise 9.3: fn(f1) -> (C,) the feature of each concept in the one-to-one
    matching of largest total F1, for f1 (C, d_sae) with C <= d_sae."""
    trap = np.array([[0.9, 0.8, 0.1, 0.0], [0.85, 0.2, 0.1, 0.05], [0.3, 0.7, 0.6, 0.1]])
    codes = F.relu(_randn(60, 6, seed=16))
    concepts = (codes[:, [2, 0, 0, 5]] + _randn(60, 4, seed=17) > 0.6).numpy()
    cases = [(trap, recovery.assignment(-trap)),
             (hierarchy.concept_f1(codes, concepts).numpy(),
              recovery.match(codes, concepts)["feature"].to_numpy())]  # fmt: skip
    for f1, expected in cases:
        got = np.asarray(fn(f1))
        n_concepts, n_features = f1.shape
        if got.shape != (n_concepts,):
            raise ExerciseError(
                f"Exercise 9.3: return one feature per concept, shape ({n_concepts},); yours has "
                f"shape {got.shape}."
            )
        if not np.isin(got, np.arange(n_features)).all():
            raise ExerciseError(f"Exercise 9.3: features are 0..{n_features - 1}; you gave {got}.")
        got = got.astype(int)
        if len(set(got)) < n_concepts:
            raise ExerciseError(
                "Exercise 9.3: two concepts got the same feature (is it each concept's argmax?): "
                "the matching is one-to-one, each feature for one concept at most."
            )
        rows = np.arange(n_concepts)
        total, best = f1[rows, got].sum(), f1[rows, expected].sum()
        if total < best - 1e-6:
            if np.array_equal(got, recovery.assignment(f1)):
                raise ExerciseError(
                    "Exercise 9.3: recovery.assignment finds the least total cost: pass -f1 to "
                    "get the largest total F1."
                )
            greedy = any(np.array_equal(got, _greedy(f1, v)) for v in (False, True))
            raise ExerciseError(
                f"Exercise 9.3: your matching's total F1 is {total:.3f}, the best one's "
                f"{best:.3f}. "
                + ("A greedy choice (each concept, or the largest F1 first, takes its best free "
                   "feature) can take a pair that costs more later: compare whole one-to-one "
                   "assignments." if greedy else "Compare whole one-to-one assignments.")
            )  # fmt: skip
    print("Exercise 9.3 passed: the one-to-one matching of largest total F1.")
