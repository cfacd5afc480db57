"Impact designs on the real synth → ingest path (the `tiny_demo` warehouse, and the 0.01 demo when it exists), against truth.json."
import json, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
from famdoc_lab import impact as I
from famdoc_lab.config import UserError
from famdoc_lab.warehouse import open_warehouse

DEMO = Path(__file__).parents[1]/"data"/"demo"


@pytest.fixture(scope="module")
def tiny(tiny_demo):
    "(warehouse, truth, clinic-month panel, persons, person-period panel) of the tiny demo."
    wh = open_warehouse(tiny_demo/"wh"); truth = json.loads((tiny_demo/"truth.json").read_text())
    cm = I.clinic_month_panel(wh, "2024"); pers, pp = I.person_period_panel(wh, "2024")
    return wh, truth, cm, pers, pp


def test_first_logins_are_truths(tiny):
    "Every program clinic's first-login month (cohort g) is the generator's first login."
    wh, truth, cm, *_ = tiny
    fl = truth["effects"]["platform"]["first_login"]
    g = cm.groupby("clinic_id").g.first()
    want = pd.Series({c: float(I.month_index(d)[0]) if d else np.nan for c, d in fl.items()}).reindex(g.index)
    assert len(g) == len(fl) - cm.attrs["dropped"]
    np.testing.assert_array_equal(g.values, want.values)


def test_clinic_month_counts_match_raw_events(tiny):
    "Follow-up counts and the 12-month P4P patient denominators equal a count made directly from p4p_enrolments."
    wh, truth, cm, *_ = tiny
    ev = wh.sql("SELECT clinic_id, person_id, event, event_date FROM p4p_enrolments")
    ev["t"] = pd.to_datetime(ev.event_date).values.astype("datetime64[M]").astype(np.int64)
    row = cm.sample(5, random_state=1)
    for _, r in row.iterrows():
        e = ev[ev.clinic_id == r.clinic_id]
        assert r.fu == ((e.t == r.t) & (e.event == "followup")).sum()
        assert r.p4p_patients == e[(e.t >= r.t - 12) & (e.t < r.t)].person_id.nunique()
    assert cm.groupby("clinic_id").t.nunique().eq(cm.t.nunique()).all()          # balanced


def test_person_time_and_events_match_truth(tiny):
    "Member person-years and ACSC admissions on member time in 2024 are the generator's; the naive ratio is truth's naive ratio."
    wh, truth, cm, pers, pp = tiny
    att, naive = truth["effects"]["membership"]["att_2024"], truth["effects"]["membership"]["naive_2024"]
    y24 = pp[pp.period == "2024"]
    assert y24[y24.member == 1].pt.sum() == pytest.approx(att["member_person_years"], rel=1e-3)
    assert y24[y24.member == 1].acsc.sum() == att["realised_events_with"]
    assert y24[y24.never].pt.sum() == pytest.approx(naive["non_member_person_years"], rel=5e-3)
    nv = I.naive_ratio(pp, "acsc", "2024").iloc[0]
    assert nv.estimate == pytest.approx(naive["rate_ratio"], abs=.02)
    assert set(pers.grp) <= {"never", "new", "continuing", "left", "later"} and pers.treated.sum() > 100


def test_membership_estimates_cover_truth(tiny):
    "PSM + DiD on the ingested tiny demo: balance after matching, the injected ACSC rate ratio 0.8 inside the CI, ED (no effect) too."
    wh, truth, cm, pers, pp = tiny
    rr = truth["effects"]["membership"]["acsc_rate_ratio"]
    res = I.estimate("membership_acsc", {"persons": pers, "panel": pp})
    r = res.row("member")
    assert r.ci_low < rr < r.ci_high and r.scale == "ratio", r
    assert res.details["balance"].smd_after.abs().max() < .1
    assert res.details["balance"].smd_before.abs().max() > res.details["balance"].smd_after.abs().max()
    ed = I.estimate("membership_ed", {"persons": pers, "panel": pp}).row("member")
    assert ed.ci_low < 1 < ed.ci_high


def test_platform_effect_tiny(tiny):
    "At scale 0.001 only the shifted design has comparison clinics after the effect starts; its relative ATT covers +10 pp on 0.70 (+14.3%)."
    wh, truth, cm, *_ = tiny
    want = truth["effects"]["platform"]["p4p_followup_pp"]/truth["targets"]["p4p_followup_base"]
    res = I.estimate("platform_followup_shifted", cm)
    r = res.row("ATT relative"); assert r.ci_low < want < r.ci_high, r
    assert res.details["pretrend"]["p"] > .01 and (res.details["cells"].n_control >= 2).all()
    with pytest.raises(UserError, match="event time"): I.estimate("platform_followup", cm)


def test_impact_summary_tiny(tiny):
    "One row per summary spec; estimable rows have CIs around the estimate, the others say why (few comparison clinics at this scale)."
    wh, *_ = tiny
    s = I.impact_summary(wh, "2024")
    assert list(s.spec) == list(I.SUMMARY) and {"estimate", "ci_low", "ci_high", "p", "n", "naive_estimate", "note"} <= set(s.columns)
    ok = s[s.note.isna()]
    assert (ok.ci_low <= ok.estimate).all() and (ok.estimate <= ok.ci_high).all()
    assert set(ok.spec) >= {"platform_followup_shifted", "membership_acsc", "membership_ed", "membership_cost", "national_followup_its"}
    assert s.loc[s.note.notna(), "note"].str.contains("event time").all()


@pytest.mark.skipif(not (DEMO/"wh").exists(), reason="the 0.01 demo (make demo) is not built")
def test_demo_estimates_near_truth():
    "On the 0.01 demo: the platform ATT, as a share of the counterfactual, covers truth's +10 pp on a 70% base; ACSC covers 0.8."
    truth = json.loads((DEMO/"truth.json").read_text()); eff = truth["effects"]
    wh = open_warehouse(DEMO/"wh"); cm = I.clinic_month_panel(wh, "2024")
    want = eff["platform"]["p4p_followup_pp"]/truth["targets"]["p4p_followup_base"]
    for name in ("platform_followup", "platform_followup_shifted"):
        rel = I.estimate(name, cm).row("ATT relative")
        assert rel.ci_low < want < rel.ci_high, (name, rel)
    pers, pp = I.person_period_panel(wh, "2024")
    r = I.estimate("membership_acsc", {"persons": pers, "panel": pp}).row("member")
    assert r.ci_low < eff["membership"]["acsc_rate_ratio"] < r.ci_high, r


def test_bad_input_one_line_errors(tiny):
    "Bad specs and data give one-line UserErrors."
    wh, truth, cm, pers, pp = tiny
    with pytest.raises(UserError, match="unknown impact spec"): I.estimate("nope", cm)
    with pytest.raises(UserError, match="psm_did needs data"): I.estimate("membership_acsc", cm)
    with pytest.raises(UserError, match="lacks column"): I.estimate("platform_followup", cm.drop(columns="fu_rate"))
    with pytest.raises(UserError, match="not balanced"): I.estimate("platform_followup", cm.iloc[5:])
    with pytest.raises(UserError, match="before the period"): I.person_period_panel(wh, "2030")
    with pytest.raises(UserError, match="no warehouse"): I.impact_summary("/nonexistent/wh")
    with pytest.raises(UserError, match="propensity model"):
        I.estimate({"base": "membership_acsc", "propensity": "treated ~ no_such_column"}, {"persons": pers, "panel": pp})


def test_specs_file_is_valid_and_every_design_dispatches():
    "The specs file validates; every design it names is one the dispatcher runs."
    specs = I.load_specs()
    assert set(s["design"] for s in specs.values()) <= set(I.DESIGNS) and set(I.SUMMARY) <= set(specs)
    assert specs["membership_ed"]["exact"] == specs["membership_acsc"]["exact"]      # inherited from its base


def test_no_runner_dashboard_survey_imports():
    "famdoc_lab.impact stands alone: importing it loads none of runner, dashboard, survey."
    code = "import sys, famdoc_lab.impact; bad = [m for m in ('runner', 'dashboard', 'survey') if 'famdoc_lab.' + m in sys.modules]; assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)
