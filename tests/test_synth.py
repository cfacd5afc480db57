"""Calibration, truth and determinism of the synthetic generator (`famdoc_lab.synth`).

One scale-0.01 population is generated per session (~30 s); every tolerance is written beside its assertion."""
import hashlib, json
from pathlib import Path
import numpy as np, pandas as pd, pyarrow.parquet as pq, pytest
from famdoc_lab.schema import SOURCES, match_source
from famdoc_lab.synth import synth, TARGETS, EFFECTS, _CP950

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth001")
    raw = synth(0.01, seed=7, out=str(out), progress=False)
    return raw, json.loads((out/"truth.json").read_text(encoding="utf-8"))

def read(raw, source, columns=None):
    "All files of `source` as one string DataFrame."
    dfs = []
    for f in sorted(raw.iterdir()):
        s = match_source(f.name)
        if s is None or s.name != source: continue
        if f.suffix == ".parquet": dfs.append(pq.read_table(f, columns=columns).to_pandas())
        else: dfs.append(pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[""], usecols=columns,
                                     encoding="cp950" if source in _CP950 else "utf-8"))
    return pd.concat(dfs, ignore_index=True)

@pytest.fixture(scope="module")
def people(run):
    raw, _ = run
    en = read(raw, "H_NHI_ENROL", ["ID", "ID_BIRTH_Y", "PREM_YM"]).dropna()
    en = en[en.ID_BIRTH_Y.str.fullmatch(r"\d{4}")]
    en = en.assign(age=2024 - en.ID_BIRTH_Y.astype(int)).drop_duplicates("ID").set_index("ID")
    ros = read(raw, "fd_roster", ["ID", "PLAN_YEAR"])
    m24 = set(ros.ID[ros.PLAN_YEAR == "2024"]); ever = set(ros.ID)
    en["m24"] = en.index.isin(m24); en["never"] = ~en.index.isin(ever)
    return en

def test_files_match_sources(run):
    raw, truth = run
    names = [f.name for f in raw.iterdir()]
    assert sorted(names) == truth["files"]
    got = {match_source(n).name for n in names}
    assert got == set(SOURCES)                      # every source present
    for n in names:
        f, s = raw/n, match_source(n)
        cols = pq.read_schema(f).names if f.suffix == ".parquet" else list(pd.read_csv(f, nrows=0, encoding="cp950" if s.name in _CP950 else "utf-8").columns)
        assert cols == s.columns, n
    assert any(n.endswith(".parquet") for n in names)   # auto: Parquet for big claims above scale 0.005

def test_members_per_clinic_and_age(run, people):
    _, truth = run; c = truth["counts"]
    assert abs(c["members_by_year"]["2024"]/c["clinics"] - 1130)/1130 < .20          # ±20%
    assert c["groups"] == 6 and c["clinics"] == 55
    share65 = (people.age[people.m24] >= 65).mean()
    assert abs(share65 - TARGETS["share_65plus_members"]) < .07                        # ±7 pp

def test_prevalence_by_age(run, people):
    raw, _ = run
    v = read(raw, "H_NHI_OPDTE", ["ID", "ICD9CM_CODE", "ICD9CM_CODE1"])
    dx = pd.concat([v[["ID", "ICD9CM_CODE"]].set_axis(["ID", "dx"], axis=1), v[["ID", "ICD9CM_CODE1"]].set_axis(["ID", "dx"], axis=1)])
    htn, dm = set(dx.ID[dx.dx == "I10"]), set(dx.ID[dx.dx.str.startswith("E11", na=False)])
    band = pd.cut(people.age, [19, 39, 64, 200], labels=["20-39", "40-64", "65+"])
    for cond, ids in (("htn", htn), ("dm", dm)):
        got = people.index.isin(ids)
        for b, target in TARGETS["prevalence_by_age"][cond].items():
            assert abs(got[band == b].mean() - target) < .07, (cond, b)                  # ±7 pp (claims-based)

def test_utilisation_rates(run):
    raw, truth = run; py = truth["counts"]["person_years"]
    v = read(raw, "H_NHI_OPDTE", ["APPL_TYPE", "CASE_TYPE"])
    orig = v[v.APPL_TYPE == "1"]
    assert abs(len(orig)/py - TARGETS["visits_py"])/TARGETS["visits_py"] < .15          # ±15%
    assert abs((orig.CASE_TYPE == "02").sum()/py - TARGETS["ed_py"])/TARGETS["ed_py"] < .15   # ±15%
    a = read(raw, "H_NHI_IPDTE", ["APPL_TYPE"])
    assert abs((a.APPL_TYPE == "1").sum()/py - TARGETS["admissions_py"])/TARGETS["admissions_py"] < .20  # ±20%
    supp = (v.APPL_TYPE == "2").mean()
    assert .005 < supp < .03                                                            # 0.5-3% supplementary

def test_preventive_uptake(run, people):
    raw, _ = run
    ad = read(raw, "H_BHP_ADULT", ["ID", "FIRST_DIAG_DATE"]).dropna()
    got = people.index.isin(ad.ID[ad.FIRST_DIAG_DATE.str[:4] == "2024"])
    e65 = people.age >= 65
    qm, qn = TARGETS["uptake"]["adult_check"]
    assert abs(got[e65 & people.m24].mean() - qm) < .06                                 # ±6 pp
    assert abs(got[e65 & people.never].mean() - qn) < .06                               # ±6 pp
    ccs = read(raw, "H_BHP_CCS", ["SICKID", "CHECKDATE"]).dropna()
    fit = people.index.isin(ccs.SICKID[ccs.CHECKDATE.str[:4].isin(["2023", "2024"])])
    e = (people.age >= 51) & (people.age <= 74)
    qm, qn = TARGETS["uptake"]["fit"]
    assert abs(fit[e & people.m24].mean() - qm) < .06 and abs(fit[e & people.never].mean() - qn) < .06   # ±6 pp each

def test_hba1c_control_and_flu(run, people):
    raw, _ = run
    lab = read(raw, "lab_results", ["ID", "TEST_DATE", "TEST_ITEM", "RESULT_VALUE"]).dropna()
    a = lab[(lab.TEST_ITEM == "hba1c") & lab.TEST_DATE.str.startswith("113/")]
    last = a.sort_values("TEST_DATE").groupby("ID").RESULT_VALUE.last().astype(float)
    assert abs((last <= 7).mean() - TARGETS["hba1c_control"]) < .08                    # ±8 pp
    vx = read(raw, "vaccinations", ["ID", "VACCINE", "SEASON"])
    flu = set(vx.ID[(vx.VACCINE == "flu") & (vx.SEASON == "2024-25")])
    o65 = people[(people.age >= 66) & ~people.PREM_YM.isna()]
    assert abs(o65.index.isin(flu).mean() - .50) < .07                                 # ~50% ±7 pp

def test_acsc_by_membership_from_claims(run, people):
    "2024 ACSC admissions per 1,000 persons from the raw files: 2024 roster members vs never-members (DOMAIN §5)."
    raw, truth = run
    a = read(raw, "H_NHI_IPDTE", ["ID", "IN_DATE", "ICD9CM_CODE", "APPL_TYPE"]).dropna()
    a = a[(a.APPL_TYPE == "1") & a.IN_DATE.str.startswith("2024")]
    en = read(raw, "H_NHI_ENROL", ["ID", "PREM_YM"]).dropna()
    alive = people[people.index.isin(en.ID[en.PREM_YM.str.startswith("2024")])]    # insured in 2024
    rate = {}
    for cat, pat in (("copd_asthma", r"J4[45]"), ("dm", r"E1[0-4]")):
        ids = a.ID[a.ICD9CM_CODE.str.match(pat)]
        n = ids[ids.isin(alive.index)].value_counts().reindex(alive.index, fill_value=0)
        rate[cat] = {w: 1000*n[alive[c]].sum()/alive[c].sum() for w, c in (("members", "m24"), ("non_members", "never"))}
        for who, (lo, hi) in TARGETS["acsc_2024_per_1000"][cat].items():
            assert lo*.85 <= rate[cat][who] <= hi*1.1, (cat, who, rate[cat][who])    # per person not per person-year: -15%/+10%
    r = (rate["copd_asthma"]["members"] + rate["dm"]["members"])/(rate["copd_asthma"]["non_members"] + rate["dm"]["non_members"])
    assert EFFECTS["acsc_rr"] + .02 < r < .97                                        # naive ratio between truth and null

def test_bad_rows_match_truth(run, people):
    raw, truth = run; br = truth["bad_rows"]
    v = read(raw, "H_NHI_OPDTE")
    orig = v[v.APPL_TYPE == "1"]
    assert (v.CASE_TYPE == "ZZ").sum() == br["visits"]["unknown code"]
    assert (v.DRUG_DAYS == "abc").sum() == br["visits"]["bad type"]
    assert (v.DRUG_DAYS == "999").sum() == br["visits"]["out of range"]
    assert (v.FUNC_DATE == "20241341").sum() == br["visits"]["bad date"]
    assert v.ID.isna().sum() == br["visits"]["missing value"]
    assert (v.ID.notna() & ~v.ID.isin(people.index)).sum() == br["visits"]["orphan reference"]
    assert orig.duplicated().sum() == br["visits"]["duplicate key"]
    lab = read(raw, "lab_results")
    assert (lab.TEST_ITEM == "xyz").sum() == br["labs"]["unknown code"]
    assert lab.RESULT_VALUE.isna().sum() == br["labs"]["missing value"]
    assert ((lab.TEST_ITEM == "hba1c") & (lab.RESULT_VALUE == "45")).sum() == br["labs"]["out of range"]
    assert lab.duplicated().sum() == br["labs"]["duplicate key"]
    sv = read(raw, "survey_responses")
    assert sv.ROLE.isna().sum() == br["survey_responses"]["missing value"]
    assert (sv.Q1_1 == "7").sum() == br["survey_responses"]["out of range"]
    assert sv.duplicated().sum() == br["survey_responses"]["duplicate key"]
    o = read(raw, "H_NHI_OPDTO", ["FEE_YM", "HOSP_ID", "APPL_DATE", "CASE_TYPE", "SEQ_NO", "APPL_TYPE", "ORDER_CODE"])
    keys = set(map(tuple, v[["FEE_YM", "HOSP_ID", "APPL_DATE", "CASE_TYPE", "SEQ_NO", "APPL_TYPE"]].to_numpy()))
    orphan = ~pd.Series(list(map(tuple, o[["FEE_YM", "HOSP_ID", "APPL_DATE", "CASE_TYPE", "SEQ_NO", "APPL_TYPE"]].to_numpy()))).isin(keys)
    assert orphan.sum() == br["orders"]["orphan reference"]
    assert o.ORDER_CODE.isna().sum() == br["orders"]["missing value"]
    for table in ("visits", "orders", "admissions", "enrolment", "program_members", "labs", "vaccinations", "preventive",
                  "platform_events", "survey_responses"):
        assert all(n >= 2 for n in br[table].values()), table                          # ≥ 2 of each kind

def test_supplementary_claims_share_key(run):
    raw, _ = run
    v = read(raw, "H_NHI_OPDTE", ["FEE_YM", "HOSP_ID", "CASE_TYPE", "SEQ_NO", "ID", "FUNC_DATE", "APPL_TYPE", "APPL_DATE"])
    s, o = v[v.APPL_TYPE == "2"], v[v.APPL_TYPE == "1"].drop_duplicates()
    m = s.merge(o, on=["FEE_YM", "HOSP_ID", "CASE_TYPE", "SEQ_NO"], suffixes=("", "_o"))
    assert len(m) == len(s)                                          # every supplement has its original
    assert (m.ID == m.ID_o).all() and (m.FUNC_DATE == m.FUNC_DATE_o).all() and (m.APPL_DATE > m.APPL_DATE_o).all()
    good = o[o.CASE_TYPE != "ZZ"]
    assert not good.duplicated(["FEE_YM", "HOSP_ID", "CASE_TYPE", "SEQ_NO"]).sum() > good.duplicated().sum()

def test_truth_effects(run):
    _, truth = run; m = truth["effects"]["membership"]; att = m["att_2024"]
    assert att["acsc_per_1000_py_with"]/att["acsc_per_1000_py_without"] == pytest.approx(EFFECTS["acsc_rr"], abs=1e-9)
    assert att["realised_events_with"]/att["realised_events_without"] == pytest.approx(EFFECTS["acsc_rr"], abs=.05)   # ±0.05 sampling
    assert att["att_per_1000_py"] < 0
    nv = m["naive_2024"]                   # sicker candidates enrolled: the naive ratio is biased toward the null
    assert EFFECTS["acsc_rr"] + .02 < nv["expected_rate_ratio"] < .95                # expected ≈ 0.86; person sampling SE ≈ 0.02
    assert EFFECTS["acsc_rr"] - .05 < nv["rate_ratio"] < .95                          # realised, ~7,000 events: SE ≈ 0.02
    for cat, key in (("copd", "copd_asthma"), ("dm", "dm")):
        got, want = nv["by_category"][cat], TARGETS["acsc_2024_per_1000"][key]
        for who in ("members", "non_members"):
            lo, hi = want[who]
            tol = 3 if cat == "copd" else 1.5                                        # ≈ 2 SE at scale 0.01 (events + persons)
            assert lo - tol <= got[who] <= hi + tol, (cat, who, got[who])           # DOMAIN range ± tol per 1,000
        assert got["members"] < got["non_members"]                                  # members look better, as in DOMAIN §5
    pv = m["preventive_2024"]
    for s in ("adult_check_65", "pap", "fit", "flu65"):
        assert pv[s]["att"] == pytest.approx(EFFECTS["preventive_pp"], abs=1e-6), s   # exact in expectation
    for s in ("adult_check_65", "flu65"):
        assert pv[s]["naive_gap"] > pv[s]["att"] + .03, s                            # naive gap well above the truth (29, 13 vs 8 pp)
    assert all(d["naive_gap"] > 0 for d in pv.values())                              # FIT/Pap/... gaps are 5-12 pp by design
    assert pv["adult_check_65"]["naive_gap"] > .2                                   # 49% vs 19%
    p = truth["effects"]["platform"]
    assert p["p4p_followup_pp"] == EFFECTS["platform_fu_pp"] and p["lag_months"] == 2
    assert len(p["first_login"]) == truth["counts"]["clinics"]

def _digest(raw):
    return {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in sorted(Path(raw).iterdir())}

def test_determinism(tmp_path):
    a = _digest(synth(0.0005, seed=3, out=str(tmp_path/"a"), progress=False))
    b = _digest(synth(0.0005, seed=3, out=str(tmp_path/"b"), progress=False))
    c = _digest(synth(0.0005, seed=4, out=str(tmp_path/"c"), progress=False))
    assert a == b
    assert a.keys() == c.keys() and all(a[k] != c[k] for k in a if not k.startswith(("fd_groups",)))

def test_parquet_forced(tmp_path):
    raw = synth(0.0005, seed=3, out=str(tmp_path), fmt="parquet", progress=False)
    pqs = [f for f in raw.iterdir() if f.suffix == ".parquet"]
    assert pqs and all(str(t) == "string" for f in pqs for t in pq.read_schema(f).types)

def test_workers_do_not_change_files(tmp_path):
    "Two chunks (scale 0.005) in 1 vs 2 processes: identical files and truth (per-chunk seeds, part files)."
    a, b = (synth(0.005, seed=3, out=str(tmp_path/d), fmt="parquet", progress=False, workers=w) for d, w in (("w1", 1), ("w2", 2)))
    assert _digest(a) == _digest(b) and any("_p0001" in k for k in _digest(a))
    assert (a.parent/"truth.json").read_bytes() == (b.parent/"truth.json").read_bytes()
