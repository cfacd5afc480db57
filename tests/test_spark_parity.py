"DuckDB vs Spark (local mode): the same cohort and indicator definitions give the same results on demo data."
import os
import numpy as np, pandas as pd, pytest
from famdoc_lab.synth import synth
from famdoc_lab.ingest import ingest
from famdoc_lab.warehouse import open_warehouse, Warehouse
from famdoc_lab.spark import SparkWarehouse, get_spark
from famdoc_lab.cohorts import cohort_ids, build_cohort, Context
from famdoc_lab.indicators import compute_indicators, INDICATORS

pytestmark = [pytest.mark.slow,  # ~2-5 min: a JVM, every cohort and the indicator suite twice on both engines
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")]  # results come back via Arrow, not toPandas

# Indicators that cannot run on Spark, with the reason. Empty: VC-AE's GLM is fitted in pandas on rows
# fetched from the backend and written back with `con.register`, so it runs on both (see nbs/15_spark.ipynb).
EXCLUDED = {}

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    "A tiny synthetic warehouse (scale 0.001, seed 5), built once."
    tmp = tmp_path_factory.mktemp("spark_parity")
    ingest(synth(scale=0.001, seed=5, out=tmp, progress=False), tmp/"wh", key_file=tmp/"k.key", progress=False)
    return tmp/"wh"

@pytest.fixture(scope="module")
def whs(demo):
    "(DuckDB warehouse, Spark warehouse) over the same folder; one SparkSession for the module."
    dw, sw = open_warehouse(demo), open_warehouse(demo, backend="spark")
    yield dw, sw
    dw.close(); sw.close()

def test_backend_switch(demo, whs, monkeypatch):
    dw, sw = whs
    assert isinstance(dw, Warehouse) and isinstance(sw, SparkWarehouse)
    monkeypatch.setenv("FAMDOC_BACKEND", "spark")
    w = open_warehouse(demo)
    assert isinstance(w, SparkWarehouse) and w.con.spark is get_spark()  # the shared session
    assert w.tables == dw.tables and w.count("visits") == dw.count("visits")

def test_cohorts(whs):
    "Every registered cohort: same members (with index date and attribution) and the same attrition table."
    dw, sw = whs
    with Context(dw, "2024") as cd, Context(sw, "2024") as cs:
        for cid in cohort_ids():
            (md, ad), (ms, as_) = build_cohort(dw, cid, ctx=cd), build_cohort(sw, cid, ctx=cs)
            assert set(ms.person_id) == set(md.person_id), cid
            pd.testing.assert_frame_equal(ms, md, obj=f"members of {cid}")
            pd.testing.assert_frame_equal(as_, ad, obj=f"attrition of {cid}")
    assert sw.con.temp == set(sw.tables)  # the contexts dropped their temp views

def _sorted(df): return df.sort_values(["indicator_id", "unit_id"]).reset_index(drop=True)

@pytest.mark.parametrize("level", ["clinic", "region"])
def test_indicators(whs, level):
    "The whole indicator suite for 2024: identical numerators, denominators, suppression; rates etc. to 1e-9."
    dw, sw = whs
    ids = [d["id"] for d in INDICATORS if d["id"] not in EXCLUDED]
    d, s = (_sorted(compute_indicators(w, ids=ids, level=level, period="2024")) for w in (dw, sw))
    assert len(d) > 0 and set(d.indicator_id) <= set(ids)  # indicators with no denominator anywhere (e.g. an empty P4P cohort) have no rows
    pd.testing.assert_frame_equal(s[["unit_type", "unit_id", "period", "indicator_id", "suppressed"]],
                                  d[["unit_type", "unit_id", "period", "indicator_id", "suppressed"]])
    mean = d.indicator_id.map(lambda i: next(x["unit"] for x in INDICATORS if x["id"] == i)) == "mean"
    pd.testing.assert_series_equal(s.denominator, d.denominator, check_exact=True)
    pd.testing.assert_series_equal(s.numerator[~mean], d.numerator[~mean], check_exact=True)  # counts: exact
    for c in ["numerator", "rate", "ci_low", "ci_high", "benchmark_region", "benchmark_nation", "z", "lo95", "hi95", "lo998", "hi998", "shrunk"]:
        np.testing.assert_allclose(s[c].to_numpy(float), d[c].to_numpy(float), rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=c)
