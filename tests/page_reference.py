"""What the equalizer's page must show, computed in numpy from the numbers the page carries
(tests/test_widgets.py and tests/test_browser.py): the reference the browser's lists are held to,
and the float16 error bound within which they may differ from the Python path's.

The page computes in float64 from float16 numbers, as this module does; the Python path
(`widgets.steered_list`) computes in float32 from the exact ones. Each float16 number x is
x (1 + e) with |e| <= 2^-11, so an item's score sum_i h'_i E_ji moves by at most
2^-11 sum_i (|h_i| + sum_j |v_j D_ji| + |h'_i|) |E_ji| (to first order): two items whose scores
are closer than the sum of their bounds may swap, and no others.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np

ROUNDING = 2.0**-11  # float16's unit roundoff
SLACK = 1.01  # second-order terms and float32's own rounding in the Python path


def page_data(html: str) -> dict:
    """The numbers a component's HTML output carries."""
    found = re.search(r"<script type='application/json'>(.*?)</script>", html, re.S)
    return json.loads(found.group(1))


def halves(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float64)


def steered(data: dict, r: int, values: dict | None = None, alpha=0.0, mixed=()):
    """(scores (n_items,), bound (n_items,)) of row r (an index into the page's users) with
    features added `values` {feature: amount} ("add") or mixed at alpha ("mix"), seen items at
    -inf."""
    d = data["d"]
    E = halves(data["embeddings"]).reshape(-1, d)
    D = halves(data["decoder"]).reshape(-1, d)
    std, mean = data["std"][r], data["mean"][r]
    if data["mode"] == "add":
        h = halves(data["states"]).reshape(-1, d)[r].copy()
        moved = np.abs(h)
        for j, v in (values or {}).items():
            h += v * std * D[j]
            moved += np.abs(v * std * D[j])
    else:
        features, acts = data["codes"][r]
        code = np.zeros(len(D))
        code[features] = (1 - alpha) * np.asarray(acts)
        code[list(mixed)] += alpha * np.abs(acts).sum() / max(len(mixed), 1)
        h = std * (code @ D + np.asarray(data["offset"])) + mean
        moved = std * (np.abs(code) @ np.abs(D))
    scores = E @ h
    bound = SLACK * ROUNDING * (np.abs(E) @ (moved + np.abs(h)))
    scores[data["seen"][r]] = -np.inf
    return scores, bound


def top10(scores: np.ndarray) -> list[int]:
    """The page's order: highest score first, ties by the lower item."""
    return np.lexsort((np.arange(len(scores)), -scores))[:10].tolist()


def disagreements(data: dict, titles: list[str], scores, bound) -> list[str]:
    """Where a list of titles (the Python path's) differs from the float16 top 10 by more than
    the float16 rounding allows: at each rank where they differ, the two items' float16 scores
    must be within their bounds (an item of a repeated title: the one nearest the rank)."""
    page = top10(scores)
    problems = []
    for rank, (title, item) in enumerate(zip(titles, page, strict=True)):
        if data["titles"][item] == title:
            continue
        same = [i for i, t in enumerate(data["titles"]) if t == title]
        other = min(same, key=lambda i: abs(scores[i] - scores[item]))
        if abs(scores[other] - scores[item]) > bound[other] + bound[item]:
            problems.append(
                f"rank {rank + 1}: {title!r} (score {scores[other]:.5f} +- {bound[other]:.1e}) "
                f"against {data['titles'][item]!r} ({scores[item]:.5f} +- {bound[item]:.1e})"
            )
    return problems
