"""Chapter 8's exercise checks (no need to read): paper C's mix, TF-IDF, the best feature."""

import torch
import torch.nn.functional as F

from .. import interpret
from ..interventions import edit_code
from ._common import fail, judge, randn, same

__all__ = ["check_mix", "check_tfidf", "check_best_characterizes"]


def check_mix(fn) -> None:
    """Exercise 8.1: fn(z, feature, alpha) -> z' = (1 - alpha) z + alpha ||z||_1 e_feature."""
    z = F.relu(randn(6, 20, seed=8) - 0.8)  # sparse, non-negative codes
    feature, alpha = 4, 0.3
    if not same(fn(z, feature, 0.0), z):
        fail("8.1", "alpha = 0 must leave the code as it was.")
    expected = edit_code(z, feature, alpha, "mix")
    e = F.one_hot(torch.tensor(feature), z.shape[1]).float()
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
    judge("8.1", fn(z, feature, alpha), expected, mistakes, "the L1 norm of the code is kept.")


def check_tfidf(fn) -> None:
    """Exercise 8.2: fn(counts) -> paper C's TF-IDF of a (terms, documents) matrix."""
    counts = F.relu(randn(7, 5, seed=9)) * 3
    counts[0] = 1.0  # a term in every document: its smoothed idf is 1, not 0
    counts[:, 3] = 0.0  # an empty document (a concept no feature is active on)
    expected = interpret.tfidf(counts)
    n_documents = counts.shape[1]
    tf = counts / counts.sum(0, keepdim=True).clamp_min(1e-12)
    df = (counts > 0).sum(1, keepdim=True)
    mistakes = {
        "tf is a term's share of its document: divide each column by its sum, not each row.": (
            counts / counts.sum(1, keepdim=True) * (torch.log((n_documents + 1) / (df + 1)) + 1)
        ),
        "the document frequency counts the documents where the term occurs, (counts > 0).sum(1), "
        "not its total count.": tf
        * (torch.log((n_documents + 1) / (counts.sum(1, keepdim=True) + 1)) + 1),
        "paper C smooths the idf: ln((D + 1) / (df + 1)) + 1, not ln(D / df).": (
            tf * torch.log(n_documents / df)
        ),
        "idf is ln((D + 1) / (df + 1)) + 1: the number of documents over the term's, not the "
        "other way round.": tf * (torch.log((df + 1) / (n_documents + 1)) + 1),
        "an empty document (a column of zeros) gives 0 / 0: clamp the column sums to a tiny "
        "positive number (its tf is then 0).": None,
    }
    judge("8.2", fn(counts), expected, mistakes, "term share times smoothed inverse document "
          "frequency, as paper C computes it.")  # fmt: skip


def check_best_characterizes(fn) -> None:
    """Exercise 8.3: fn(activity, fires, min_items) -> (C,) each concept's best feature."""
    activity = F.relu(randn(4, 12, seed=8))  # a seed with no near-ties, where TF-IDF matters
    activity[:, 0] = 0.0
    activity[1, 0] = 5.0  # a feature of a few films, all one concept's: TF-IDF's favourite
    fires = torch.tensor([2, 30, 25, 40, 22, 31, 27, 45, 33, 21, 29, 35])
    min_items = 20
    expected = interpret.best_characterizes(activity, 1, fires, min_items)[:, 0]
    rare = fires < min_items
    mistakes = {
        "the concepts are the documents and the features the terms: tfidf(activity.T), the best "
        "feature in each concept's column (tfidf(activity) is the 'most unique' map).": (
            interpret.most_unique(activity, 1, fires, min_items)[:, 0]
        ),
        "leave out the features that fire on fewer than min_items items: they are about those "
        "films, and TF-IDF can favour them.": interpret.best_characterizes(activity)[:, 0],
        "weigh the activity with TF-IDF before taking the best feature.": activity.masked_fill(
            rare, -1
        ).argmax(1),
    }
    got = fn(activity, fires, min_items)
    judge("8.3", got, expected, mistakes, "TF-IDF over features, rare features left out.")
