"Benchmarks run end to end at a tiny scale and the pandas peer agrees with the indicator suite."
import json, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from famdoc_lab.synth import synth
from famdoc_lab.ingest import ingest
from famdoc_lab.warehouse import open_warehouse
from famdoc_lab.indicators import compute_indicators
from famdoc_lab.bench import peer_indicators, PEER_IDS

EXE = Path(sys.executable).with_name("famdoc-lab")


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    d = tmp_path_factory.mktemp("benchwh")
    ingest(synth(scale=0.001, seed=11, out=d, progress=False), d / "wh", key_file=d / "k.key", progress=False)
    return d / "wh"


def test_peer_matches_suite(wh):
    suite = compute_indicators(open_warehouse(wh), ids=PEER_IDS, level="clinic", period="2024", suppress=False)
    suite = suite.pivot(index="unit_id", columns="indicator_id", values="rate")
    peer = peer_indicators(wh)
    both = suite.join(peer.add_suffix("_peer"), how="inner")
    assert len(both) >= 5
    for i in PEER_IDS:
        np.testing.assert_allclose(both[i].astype(float), both[f"{i}_peer"].astype(float), rtol=1e-9, err_msg=i)


@pytest.mark.slow
def test_bench_cli_writes_records(tmp_path):
    r = subprocess.run([str(EXE), "bench", "--scale", "0.0005", "--repeats", "1", "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    names = {p.stem for p in tmp_path.glob("*.json")}
    assert {"synth_0.0005", "ingest_0.0005", "facts_0.0005", "indicators_suite_0.0005", "indicators_suite_raw_0.0005",
            "indicators_floor_0.0005", "indicators_peer3_0.0005", "indicators_summary_0.0005"} <= names
    assert json.loads((tmp_path / "facts_0.0005.json").read_text())["rows"] > 0
    rec = json.loads((tmp_path / "ingest_0.0005.json").read_text())
    assert rec["rows"] > 0 and rec["wall_s_median"] > 0 and rec["peak_rss_mb_median"] > 50


def test_bench_lists_record(wh, tmp_path):
    from famdoc_lab.bench import bench_lists, biggest_clinic
    prep, rec = bench_lists(wh, 0.001, out=tmp_path, repeats=1)
    assert prep["stage"] == "lists_prepare" and prep["wall_s_median"] > 0 and (tmp_path / "lists_prepare_0.001.json").exists()
    assert rec["stage"] == "lists" and rec["clinic_id"] == biggest_clinic(wh)
    assert rec["wall_s_median"] > 0 and rec["list_rows"]["health"] > 0
    assert (tmp_path / "lists_0.001.json").exists()
