"Member lists (famdoc_lab.lists): hand-computed cases on a tiny warehouse, and invariants on a tiny synthetic one."
from datetime import date, timedelta
import re
import pandas as pd
import pytest
from famdoc_lab.lists import member_list, roc, load_intervals, UnknownClinic, _tiny_lists_warehouse
from famdoc_lab.config import UserError
from famdoc_lab.warehouse import Warehouse
from famdoc_lab.schema import P4P_PROGRAMS

AS_OF = date(2024, 12, 31)


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    return _tiny_lists_warehouse(tmp_path_factory.mktemp("lists") / "wh")


@pytest.fixture(scope="module")
def demo(tiny_demo):
    wh = Warehouse(tiny_demo / "wh")
    clinic = wh.sql("SELECT clinic_id FROM program_members WHERE plan_year = 2024 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").clinic_id[0]
    lists = {k: member_list(wh, clinic, k, AS_OF) for k in ("enrol", "followup", "health")}
    yield wh, clinic, lists
    wh.close()


def test_roc_dates():
    assert roc(date(2024, 12, 20)) == "1131220" and roc("2024-12-20", display=True) == "113/12/20"
    assert roc(date(1999, 1, 2)) == "0880102" and roc(None) is None


# --- hand-computed (see the table in nbs/14_lists.ipynb) ---------------------------------------

def test_eligible_not_enrolled_listed_with_reason(hand):
    en = member_list(hand, "c1", "enrol", AS_OF)
    assert en[["person_id", "program", "status"]].values.tolist() == [["p2", "dm", "not_enrolled"], ["p3", "dm", "lapsed"]]
    assert "within 90 days and a DM drug (ATC A10)" in en.reason_en[0] and en.reason_en[0].endswith("not enrolled")
    assert "no follow-up in 12 months (last 2023-06-01)" in en.reason_en[1]
    assert en.reason_zh[1] == "符合糖尿病P4P收案條件，收案已中斷：12個月內無追蹤（最近一次 112/06/01）"


def test_overdue_followup(hand):
    fu = member_list(hand, "c1", "followup", AS_OF).set_index("person_id")
    # DM: follow-up 2024-05-01 + 91 days = due 2024-07-31; + 30 days' grace → overdue from 2024-08-31
    assert fu.loc["p1", "next_due"] == date(2024, 7, 31) and fu.loc["p1", "overdue"] and fu.loc["p1", "days_overdue"] == 123
    # early CKD: enrolled 2024-10-01, first follow-up from +90 days, due +182 days
    assert (fu.loc["p4", "next_earliest"], fu.loc["p4", "next_due"], fu.loc["p4", "overdue"]) == (date(2024, 12, 30), date(2025, 4, 1), False)
    assert "p3" not in fu.index                                   # lapsed: on the enrolment list instead


def test_latest_lab_and_flags(hand):
    h = member_list(hand, "c1", "health", AS_OF).set_index("person_id")
    assert (h.loc["p1", "hba1c"], h.loc["p1", "hba1c_date"], h.loc["p1", "hba1c_date_roc"]) == (7.4, date(2024, 11, 1), "1131101")
    assert h.loc["p1", "hba1c_high"] and not h.loc["p1", "ldl_high"] and h.loc["p3", "egfr_high"]
    assert h.loc["p1", "bp_high"] and not h.loc["p2", "bp_high"]    # 135/78 at 64 high; 135/85 at 74 within 140/90


def test_preventive_due(hand):
    h = member_list(hand, "c1", "health", AS_OF).set_index("person_id")
    assert h.loc["p1", "pap_due"] and h.loc["p1", "pap_last"] == date(2020, 1, 1)  # Pap 2020: older than 3 years
    assert not h.loc["p1", "mammo_due"] and h.loc["p1", "fit_due"]
    assert not h.loc["p2", "pap_eligible"] and h.loc["p2", "hbv_hcv_due"] and not h.loc["p2", "flu_due"]


def test_errors(hand):
    with pytest.raises(UnknownClinic, match="unknown clinic 'zz'"): member_list(hand, "zz", "enrol")
    with pytest.raises(UserError, match="unknown list"): member_list(hand, "c1", "nope")
    assert isinstance(UnknownClinic("x"), UserError)


def test_zh_headers(hand):
    cols = set(member_list(hand, "c1", "health", AS_OF, zh=True).columns)
    assert {"個案代碼(假名化)", "糖尿病", "醣化血色素", "醣化血色素日期(民國)", "子宮頸抹片應執行"} <= cols


# --- invariants on a tiny synthetic warehouse ---------------------------------------------------

def test_person_ids_are_keyed_hashes(demo):
    wh, _, lists = demo
    known = set(wh.table("persons", "person_id").person_id)
    for df in lists.values():
        assert df.person_id.map(lambda s: bool(re.fullmatch(r"[A-Za-z0-9._]{12}", s))).all()
        assert set(df.person_id) <= known


def test_enrol_list_is_eligible_and_not_enrolled(demo):
    wh, clinic, lists = demo
    en = lists["enrol"]
    assert len(en) and set(en.program) <= set(P4P_PROGRAMS) and not en.duplicated(["person_id", "program"]).any()
    recent = wh.sql(f"SELECT DISTINCT person_id, program FROM p4p_enrolments WHERE event_date BETWEEN DATE '2024-01-01' AND DATE '{AS_OF}'")
    assert en.merge(recent, on=["person_id", "program"]).empty            # nobody with an event in the 12 months
    assert (en.member | (en.visits_here_12m > 0)).all()                   # the clinic's own patients only
    assert (en.status == "lapsed").eq(en.last_p4p_date.notna()).all()


def test_followup_list_consistent_with_intervals(demo):
    _, _, lists = demo
    fu, iv = lists["followup"], load_intervals()
    assert len(fu) and not fu.duplicated(["person_id", "program"]).any()
    grace = iv.groupby("program").grace_days.max()
    due = pd.to_datetime(fu.next_due)
    late = (pd.Timestamp(AS_OF) - due).dt.days - fu.program.map(grace)
    assert (fu.overdue == (late > 0)).all() and (fu.days_overdue == late.clip(lower=0)).all()
    assert (pd.to_datetime(fu.next_earliest) <= due).all()
    assert fu.next_due_roc.eq(fu.next_due.map(roc)).all()


def test_health_list_is_the_roster_with_latest_labs(demo):
    wh, clinic, lists = demo
    h = lists["health"].set_index("person_id")
    roster = wh.sql(f"SELECT DISTINCT person_id FROM program_members WHERE clinic_id = '{clinic}' AND plan_year = 2024 "
                    f"AND start_date <= DATE '{AS_OF}' AND (end_date IS NULL OR end_date >= DATE '2024-01-01')")
    assert set(h.index) == set(roster.person_id)
    lab = wh.sql(f"SELECT person_id, arg_max(value, test_date) AS v, max(test_date) AS d FROM labs WHERE test = 'hba1c' "
                 f"AND test_date <= DATE '{AS_OF}' GROUP BY 1").set_index("person_id")
    got = h.hba1c.dropna()
    assert len(got) and (lab.loc[got.index, "v"].to_numpy() == got.to_numpy()).all()
    assert h.hba1c_high.dropna().astype(bool).eq(h.hba1c.dropna() > 7).all()
    for s in ("adult_check", "pap", "fit", "mammo", "flu", "hbv_hcv"):
        assert not (h[f"{s}_due"] & ~h[f"{s}_eligible"]).any()
    assert (h[["visits_12m", "ed_visits_12m", "admissions_12m"]] >= 0).all().all()


# --- the prepared per-clinic slice gives the same lists as the raw tables --------------------------

def _same_lists(wh, clinics, dates):
    "Lists of `clinics` at `dates` from the raw tables, then from the prepared slice: identical."
    from famdoc_lab.lists import member_lists, prepare_lists, _prepared
    for d in dates:
        assert _prepared(wh, d) is None
        raw = {c: member_lists(wh, c, as_of=d) for c in clinics}
        folder = prepare_lists(wh, d)
        assert _prepared(wh, d) == folder and prepare_lists(wh, d) == folder          # built once
        for c in clinics:
            got = member_lists(wh, c, as_of=d)
            for k in raw[c]: pd.testing.assert_frame_equal(raw[c][k], got[k], obj=f"{c} {k} {d}")
    return folder


def test_prepared_slice_same_lists_hand(tmp_path):
    from famdoc_lab.cohorts import write_rows
    w = _tiny_lists_warehouse(tmp_path / "wh")
    write_rows(w, "clinics", [dict(clinic_id=c, group_id="g1", region_id=1) for c in ("c1", "c2", "c3")])   # c3: nobody
    with Warehouse(w) as wh:
        folder = _same_lists(wh, ["c1", "c2", "c3"], [AS_OF, date(2024, 8, 15), date(2024, 3, 31)])
        with pytest.raises(UnknownClinic): member_list(wh, "zz", "enrol", AS_OF)
    assert folder.parent.parent == w / "derived"


def test_prepared_slice_same_lists_demo(tiny_demo, tmp_path):
    import shutil
    w = shutil.copytree(tiny_demo / "wh", tmp_path / "wh")
    with Warehouse(w) as wh:
        n = wh.sql("SELECT clinic_id, count(*) AS n FROM program_members WHERE plan_year = 2024 GROUP BY 1 ORDER BY 2 DESC, 1")
        visitor_only = wh.sql("SELECT DISTINCT hosp_id FROM visits WHERE hosp_id IN (SELECT clinic_id FROM clinics) AND hosp_id NOT IN "
                              "(SELECT clinic_id FROM program_members) LIMIT 1").hosp_id.tolist()
        clinics = [*n.clinic_id[:3], n.clinic_id.iloc[-1], *visitor_only]
        _same_lists(wh, clinics, [AS_OF, date(2024, 6, 30)])
        # new data: a new key, so the lists fall back to the raw tables until prepared again
        from famdoc_lab.lists import _prepared
        from famdoc_lab.warehouse import write_table
        write_table(w, "deaths", wh.table("deaths"))
        wh.refresh()
        assert _prepared(wh, AS_OF) is None and len(member_list(wh, clinics[0], "health", AS_OF))
