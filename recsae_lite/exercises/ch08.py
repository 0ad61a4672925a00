"""Chapter 8's exercise checks (no need to read): paper C's mix, TF-IDF, the best neuron."""

import torch
import torch.nn.functional as F

from .. import knobs
from ..interventions import edit_code
from ._common import fail, judge, randn, same

__all__ = ["check_mix", "check_tfidf", "check_best_characterizes"]


def check_mix(fn) -> None:
    """Chapter 8, exercise 8.1: fn(z, neuron, alpha) -> paper C's mix
    z' = (1 - alpha) z + alpha ||z||_1 e_neuron."""
    z = F.relu(randn(6, 20, seed=8) - 0.8)  # sparse, non-negative codes
    neuron, alpha = 4, 0.3
    if not same(fn(z, neuron, 0.0), z):
        fail("8.1", "alpha = 0 must leave the code as it was.")
    expected = edit_code(z, neuron, alpha, "mix")
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
    judge("8.1", fn(z, neuron, alpha), expected, mistakes, "the L1 norm of the code is kept.")


def check_tfidf(fn) -> None:
    """Chapter 8, exercise 8.2: fn(counts) -> TF-IDF of a (documents, terms) matrix."""
    counts = F.relu(randn(5, 7, seed=9)) * 3
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
    judge("8.2", fn(counts), expected, mistakes, "term share times inverse document frequency.")


def check_best_characterizes(fn) -> None:
    """Chapter 8, exercise 8.3: fn(activity, fires, min_items) -> (C,) each concept's
    best-characterizing neuron (TF-IDF with neurons as documents), leaving out neurons that fire
    on fewer than min_items items."""
    activity = F.relu(randn(4, 12, seed=12))  # a seed whose best neurons have no ties
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
    judge("8.3", got, expected, mistakes, "TF-IDF over neurons, rare neurons left out.")
