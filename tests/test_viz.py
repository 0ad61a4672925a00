"""The shared figure builders: one trace per line, bar group and panel, in the table's order, with
the same colour for the same line in every panel."""

import pandas as pd

from recsae_lite import viz


def test_grouped_bars_draw_a_panel_per_value_with_one_colour_per_bar():
    table = pd.DataFrame({"device": list("aaab"), "variant": list("xyxx"),
                          "shape": ["s", "s", "t", "t"], "ratio": [1.0, 2, 3, 4]})  # fmt: skip
    fig = viz.grouped_bars(table, "variant", "shape", "ratio", "t", line=(1.0, "c"), panel="device")
    assert [(t.name, t.xaxis, list(t.y)) for t in fig.data] == [
        ("s", "x", [1.0, 2.0]), ("t", "x", [3.0]), ("t", "x2", [4.0])]  # fmt: skip
    assert fig.data[1].marker.color == fig.data[2].marker.color != fig.data[0].marker.color
    assert [t.showlegend for t in fig.data] == [True, True, False]  # "t" once in the legend
    assert [s.yref for s in fig.layout.shapes] == ["y", "y2"]  # the line in every panel


def test_metric_lines_draw_each_level_in_its_metrics_panel():
    table = pd.DataFrame({"k": [1, 2, 1, 2], "model": list("aabb"), "rbo": [0.5, 0.6, 0.7, 0.8],
                          "tau": [0.1, 0.2, 0.3, 0.4]})  # fmt: skip
    fig = viz.metric_lines(table, "k", ["rbo", "tau"], "model", "t", log_x=True,
                           levels={"tau": (0.7, "goal")})  # fmt: skip
    assert [(s.yref, s.y0) for s in fig.layout.shapes] == [("y2", 0.7)]
    assert fig.layout.xaxis.type == fig.layout.xaxis2.type == "log"


def test_tradeoff_draws_a_line_per_group_in_table_order():
    table = pd.DataFrame({"knob": list("bbaa"), "ndcg": [0.3, 0.2, 0.4, 0.1],
                          "share": [0.1, 0.2, 0.3, 0.4], "alpha": [0, 0.1, 0, 0.1]})  # fmt: skip
    fig = viz.tradeoff(table, "ndcg", "share", "knob", "alpha", "t")
    assert [(t.name, list(t.x), list(t.text)) for t in fig.data] == [
        ("b", [0.3, 0.2], [0, 0.1]), ("a", [0.4, 0.1], [0, 0.1])]  # fmt: skip
    labelled = viz.tradeoff(table, "ndcg", "share", "knob", "alpha", "t", show_labels=True)
    assert "text" not in fig.data[0].mode and "text" in labelled.data[0].mode


def test_fvu_vs_l0_keeps_the_variants_order_and_sorts_each_line_by_l0():
    table = pd.DataFrame({"variant": ["relu", "relu", "topk", "topk"], "l0": [30, 10, 16, 4],
                          "fvu": [0.1, 0.3, 0.2, 0.4], "label": list("abcd")})  # fmt: skip
    fig = viz.fvu_vs_l0(table)
    assert [(t.name, list(t.x)) for t in fig.data] == [("relu", [10, 30]), ("topk", [4, 16])]
