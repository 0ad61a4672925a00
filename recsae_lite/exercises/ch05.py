"""Chapter 5's exercise checks (no need to read): adding and scaling a feature, genre shares."""

import numpy as np
import torch
import torch.nn.functional as F

from ..data import Split
from ..interventions import Spliced, direction_edit
from ..metrics import mask_seen, top_k
from ..models.base import make_batch
from ..train import recommend
from ._common import fail, judge, judge_edit, same, tiny_sae, tiny_sasrec

__all__ = ["check_add_edit", "check_scale_edit", "check_genre_share"]


def _tiny_split(n_users=12, n_items=30, seed=0) -> Split:
    """Leave-one-out histories of 4-8 distinct items per user (the last two: valid, test)."""
    rng = np.random.default_rng(seed)
    sequences = [rng.choice(n_items, rng.integers(6, 11), replace=False) for _ in range(n_users)]
    valid, test = np.array([s[-2:] for s in sequences]).T
    return Split(np.arange(n_users), [s[:-2] for s in sequences], valid, test, n_dropped=0)


def check_add_edit(fn) -> None:
    """Exercise 5.1: fn(sae, h, j, v) -> h' with v added to feature j, the error term kept."""
    sae, x = tiny_sae()
    h = x[:10]
    judge_edit("5.1", fn, sae, h, 3, 1.5, "add", (h, 0.0, "adding 0"), "strength 0 is the model.")


def check_scale_edit(fn) -> None:
    """Exercise 5.2: fn(sae, h, j, factor) -> h' with feature j scaled, the error term kept."""
    sae, x = tiny_sae()
    h = x[:20]
    j = int((sae.encode(h) > 0).sum(0).argmax())  # the feature that fires on most of these states
    constant = ("scaling changes z_j by z_j * factor - z_j, which differs from row to row: encode "
                "h first; do not add factor * W_dec[j].")  # fmt: skip
    judge_edit("5.2", fn, sae, h, j, 3.0, "scale", (h, 1.0, "scaling by 1"),
               "each state's own z_j scaled.", constant)  # fmt: skip


def check_genre_share(fn) -> None:
    """Exercise 5.3: fn(model, split, rows, edit, in_genre, k) -> the genre's share of the
    steered top k after the rows' test histories."""
    # in training mode, as zoo models are, with a dropout that changes the lists when left on
    model, split = tiny_sasrec(dropout=0.5).train(), _tiny_split()
    rows, k = np.arange(12), 5
    in_genre = np.arange(30) % 3 == 0
    direction = F.normalize(model.item_embeddings().detach()[in_genre].mean(0), dim=0)
    edit = direction_edit(direction, 2.0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        got, again = (fn(model, split, rows, edit, in_genre, k) for _ in range(2))
    if not same(got, again):
        fail("5.3", "your answer changes from one call to the next: score in eval mode "
             "(Spliced(model, edit).eval(), or model.eval()), so that dropout is off.")  # fmt: skip
    expected = in_genre[recommend(Spliced(model, edit), split, rows, k)].mean()  # in eval mode

    @torch.no_grad()
    def share(histories, masked=True, steered=True):
        """The genre's share of the top k after `histories`, as the usual mistakes compute it."""
        batch = make_batch(split.users[rows], [histories[r] for r in rows], model.n_items)
        hidden = model.hidden(batch)
        scores = model.scores_from_hidden(edit(hidden) if steered else hidden, batch)
        scores = mask_seen(scores, batch.history, model.n_items) if masked else scores
        return in_genre[top_k(scores, k).numpy()].mean()

    test = split.history("test")
    mistakes = {
        "did you mask the items each user has seen (recsae_lite.metrics.mask_seen)?": share(
            test, masked=False
        ),
        "the edit must act inside the model: recommend(Spliced(model, edit), split, rows, k), or "
        "scores_from_hidden(edit(hidden(batch)), batch).": share(test, steered=False),
        "rank after the test history, split.history('test') (training items + the validation "
        "item), as the chapter does.": share(split.train),
    }
    judge("5.3", got, expected, mistakes, "the genre's share of the steered lists.")
