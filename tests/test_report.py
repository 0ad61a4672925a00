"""The reproduction report (chapter 10): every claim names the result file it is read from, its
verdict follows its rule, and a result file names the device its work ran on."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from recsae_lite import report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def test_every_claim_names_a_result_file_that_a_benchmark_writes():
    assert report.REPOSITORY_RESULTS == RESULTS  # what load() reads by default
    table = report.claims(report.load())
    assert len(table) == len(report.CLAIMS)
    for row in table.to_dict("records"):
        path = ROOT / row["source"]
        assert path.parent == RESULTS and path.suffix == ".json", row["claim"]
        script = ROOT / "benchmarks" / f"{path.stem.removesuffix('-full')}.py"
        assert script.exists(), f"{row['claim']}: no benchmark writes {path.name}"
        if path.exists():
            assert row["holds"] in ("yes", "no"), row["claim"]
        else:
            assert (row["ours"], row["holds"]) == ("not measured yet", "—"), row["claim"]


def elsa_results(drop_k16: float, drop_k64: float) -> dict:
    quality = []
    for seed, base in enumerate([0.30, 0.32]):
        quality.append({"seed": seed, "sae": "none", "ndcg@20": base})
        for sae, drop in (("k16", drop_k16), ("k64", drop_k64)):
            quality.append({"seed": seed, "sae": sae, "views": 50, "ndcg@20": base * (1 - drop)})
    return {"elsa_knobs": {"quality": quality}}


def test_a_verdict_follows_its_rule():
    (measure,) = [c[5] for c in report.CLAIMS if c[1].startswith("Inserting the SAE costs")]
    text, holds = measure(elsa_results(0.07, 0.02))
    assert holds and text == "NDCG@20 lost: 7.0% at k = 16, 2.0% at k = 64"
    assert not measure(elsa_results(0.20, 0.02))[1]  # costs far more than the paper's
    assert not measure(elsa_results(0.07, 0.05))[1]


def test_a_claim_without_its_file_is_not_measured_yet():
    table = report.claims({})
    assert set(table["ours"]) == {"not measured yet"} and set(table["holds"]) == {"—"}


def test_a_missing_results_folder_says_where_they_come_from(tmp_path):
    with pytest.raises(FileNotFoundError, match="set RESULTS in the parameters cell"):
        report.load(tmp_path / "nowhere")


def test_every_peer_figure_cited_is_in_the_peers_file_with_its_source():
    results = report.load()
    peers = results["peers"]
    for name, source in peers["sources"].items():
        assert source["kind"] in ("published", "measured"), name
        assert source.get("citation") or source.get("repository"), name
        assert source["data"] and source["split"] and source["settings"], name
        if source["kind"] == "measured":  # the code run: its commit or version, or why not
            assert (
                source.get("commit")
                or source.get("version")
                or "not recorded" in source["repository"]
            ), name
    ids = [f["id"] for f in peers["figures"]]
    assert len(set(ids)) == len(ids) and all(
        f["source"] in peers["sources"] for f in peers["figures"]
    )
    cited = {c[2][0] for c in report.CLAIMS if isinstance(c[2], tuple)}
    assert cited | set(report.COUNTERPARTS.values()) <= set(ids)
    table = report.claims(results)
    assert set(table["cites"]) - {""} == {f"peers.json: {c}" for c in cited}
    # without the peers file, a claim that cites it is not measured
    alone = report.claims({k: v for k, v in results.items() if k != "peers"})
    assert set(alone.loc[alone["cites"] != "", "holds"]) == {"—"}


def test_a_result_file_names_the_device_its_work_ran_on(tmp_path, device):
    spec = importlib.util.spec_from_file_location("common", ROOT / "benchmarks" / "common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    model, x = torch.nn.Linear(2, 2).to(device), torch.zeros(3, device=device)
    head = {"benchmark": "b", "profile": "ci", "seed": 0}
    common.write_report(tmp_path / "b.json", head, common.devices_of(model, x))
    written = json.loads((tmp_path / "b.json").read_text())
    assert written["machine"]["ran_on"] == [str(x.device)]  # "cpu", or "cuda:0": not the flag
    assert (device.type == "cuda") == ("peak_gpu_memory_mb" in written)
    with pytest.raises(ValueError, match="the devices its work ran on"):
        common.write_report(tmp_path / "b.json", head, set())
