"Indicator registry and a medium-size smoke run of the whole suite (schema, ranges, speed)."
import time, shutil
import numpy as np, pandas as pd, pytest
from famdoc_lab.schema import DEFS
from famdoc_lab.cohorts import write_rows, cohort_ids, build_cohort
from famdoc_lab.warehouse import open_warehouse
from famdoc_lab.indicators import INDICATORS, COLUMNS, compute_indicators, load_indicators, indicator_table

def test_registry_valid_and_stable():
    t = indicator_table()
    assert t.id.is_unique and len(load_indicators()) == len(t)
    assert {d["denominator"]["cohort"] for d in INDICATORS} <= set(cohort_ids())

@pytest.fixture(scope="module")
def medium_wh(tmp_path_factory):
    d = tmp_path_factory.mktemp("wh"); rng = np.random.default_rng(1); n, nv = 5000, 60000
    pid = [f"p{i}" for i in range(n)]
    write_rows(d, "persons", pd.DataFrame({"person_id": pid, "sex": rng.choice(["M", "F"], n), "birth_year": rng.integers(1930, 2005, n),
                                           "region_id": rng.integers(1, 7, n)}))
    cl = [f"c{i}" for i in range(40)]
    write_rows(d, "groups", pd.DataFrame({"group_id": [f"g{i}" for i in range(8)], "group_name": "g", "region_id": np.arange(8) % 6 + 1}))
    write_rows(d, "clinics", pd.DataFrame({"clinic_id": cl, "group_id": [f"g{i % 8}" for i in range(40)], "region_id": [i % 8 % 6 + 1 for i in range(40)]}))
    mem = rng.choice(n, 2000, replace=False)
    write_rows(d, "program_members", pd.DataFrame({"person_id": [pid[i] for i in mem], "clinic_id": rng.choice(cl, 2000), "plan_year": 2024,
                                                   "start_date": "2024-01-01", "case_source": "designated"}).assign(
                                                   group_id=lambda x: "g" + (x.clinic_id.str[1:].astype(int) % 8).astype(str)))
    dx = rng.choice(["E119", "I10", "E785", "J449", "N183", "Z000", "J189"], nv)
    dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, nv), unit="D")
    write_rows(d, "visits", pd.DataFrame({"visit_id": [f"v{i}" for i in range(nv)], "person_id": rng.choice(pid, nv), "hosp_id": rng.choice(cl + ["h1"], nv),
                                          "visit_date": dates.strftime("%Y-%m-%d"), "fee_ym": dates.strftime("%Y%m").astype(int),
                                          "case_type": rng.choice(["01", "02", "04"], nv, p=[.8, .05, .15]), "dx1": dx, "points": rng.gamma(2, 300, nv)}))
    nl = 20000
    write_rows(d, "labs", pd.DataFrame({"person_id": rng.choice(pid, nl), "test_date": (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, nl), unit="D")).strftime("%Y-%m-%d"),
                                        "test": rng.choice(["hba1c", "ldl", "sbp", "dbp", "egfr", "uacr"], nl), "value": rng.uniform(5, 150, nl), "source": "lab"}).drop_duplicates(["person_id", "test_date", "test"]))
    return d

def test_full_suite_medium(medium_wh):
    wh = open_warehouse(medium_wh)
    t0 = time.time(); df = compute_indicators(wh, level="clinic", suppress=False); dt = time.time() - t0
    assert list(df.columns) == COLUMNS and set(df.indicator_id) <= {d["id"] for d in INDICATORS} and len(set(df.indicator_id)) > 30
    rates = df[df.indicator_id.map(lambda i: INDICATORS.get(i)["unit"]) == "rate"].dropna(subset=["rate"])
    assert rates.rate.between(0, 1).all() and (rates.ci_low <= rates.rate + 1e-12).all() and (rates.rate <= rates.ci_high + 1e-12).all()
    assert dt < 120, dt
    s = compute_indicators(wh, level="group")
    counts = s[s.indicator_id.map(lambda i: INDICATORS.get(i)["unit"]) != "mean"]   # a mean's numerator is a sum of values
    assert not ((counts.numerator < 3) | (s.denominator < 3)).any(), s[(counts.numerator < 3) | (s.denominator < 3)]
    wh.close()

def test_attrition_consistent(medium_wh):
    with open_warehouse(medium_wh) as wh:
        for c in ("dm", "nonmember_candidates", "mets"):
            m, a = build_cohort(wh, c, "2024")
            assert a.n_after.iloc[-1] == len(m) and ((a.n_before - a.n_removed).iloc[1:] == a.n_after.iloc[1:]).all()

def test_tiny_indicator_warehouse_importable(tmp_path):
    "The exported helper builds its warehouse with the module's own imports (no notebook namespace)."
    from famdoc_lab.indicators import _tiny_indicator_warehouse
    with open_warehouse(_tiny_indicator_warehouse(tmp_path/"wh")) as wh: assert wh.has("p4p_enrolments") and len(wh.table("visits")) > 60

def test_empty_cohort_gives_empty_table(medium_wh):
    with open_warehouse(medium_wh) as wh:
        for level in ("clinic", "nation"):
            df = compute_indicators(wh, ids=["p4p_mets_enrolled"], level=level)
            assert list(df.columns) == COLUMNS

def test_facts_same_as_raw_medium(medium_wh):
    "The person-year facts give the raw tables' numbers on a random warehouse, for every indicator, level and year."
    from famdoc_lab.facts import build_facts, compare_paths
    from famdoc_lab.cohorts import open_facts
    with open_warehouse(medium_wh) as wh:
        build_facts(wh); assert open_facts(wh)["specs"]["attr"] == [2023, 2024]
        assert compare_paths(wh, period="2024") > 0 and compare_paths(wh, period="2023", levels=("clinic",)) > 0

def test_facts_same_as_raw_ingested(tiny_demo):
    "`ingest` builds the facts, and on a synthetic population they give the raw tables' numbers at every level."
    from famdoc_lab.facts import compare_paths
    from famdoc_lab.cohorts import open_facts
    with open_warehouse(tiny_demo / "wh") as wh:
        m = open_facts(wh); assert m is not None and 2024 in m["specs"]["attr"] and sum(m["rows"].values()) > 0
        assert compare_paths(wh, period="2024") > 0
