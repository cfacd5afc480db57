"Survey and incentive: a messy Excel file made here, reliability against pingouin, the ordinal model on simulated data, incentive edge cases, the CLI."
from datetime import datetime
from pathlib import Path
import numpy as np, pandas as pd, pytest

from famdoc_lab.survey import (QCOLS, ITEMS, _example_warehouse, read_survey, load_survey, cronbach_alpha, reliability, item_total,
                               fit_ordinal, survey_summary, usage_summary, likert_plot, theme_tally)
from famdoc_lab.incentive import incentive_status, incentive_amount, payment_roster, regional_summary
from famdoc_lab.warehouse import Warehouse
from famdoc_lab.cli import main


@pytest.fixture(scope="module")
def exw(tmp_path_factory):
    "The example warehouse of 42_survey (8 program clinics c1-c8 in G1/G2, facility f9)."
    return Warehouse(_example_warehouse(tmp_path_factory.mktemp("survey") / "wh"))


SECTIONS = ["(一)院所儀表板-P4P收案追蹤", "(二)院所儀表板-健康管理成效", "(三)院所儀表板-家醫評核指標", "(四)整合照護對象健康管控-P4P收案管理列表",
            "(五)整合照護對象健康管控-P4P追蹤管理列表", "(六)整合照護對象健康管控-個案健康管理列表", "(七)整體家醫大平台使用意見回饋"]
FW = str.maketrans("0123456789-", "０１２３４５６７８９－")


def _messy_xlsx(path) -> Path:
    "A survey workbook as a division might collect it: title row, two-row merged header, blank rows, full-width digits, labels, problems."
    import openpyxl
    wb = openpyxl.Workbook(); ws = wb.active
    head = ["醫事服務機構代號", "醫事服務機構名稱", "社區醫療群代號", "家醫大平台體驗者", "填報時間"]
    sub = [""]*5
    for s in range(1, 8):
        for i in range(1, 4):
            lab = f"{s}-{i}"
            sub.append(lab.translate(FW) if s == 2 else lab)   # section 2 numbered in full-width digits
        sub.append("原因"); head += [SECTIONS[s - 1]]*4
    head += ["建議事項"]*4 + ["聯絡方式"]*2
    sub += ["7-4 期待功能", "7-4 建議呈現頁面", "7-5 期待資料", "7-5 資料來源", "電話", "Ｅ-mail"]
    ncol = len(head)
    ws.cell(1, 1, "家醫大平台使用者意見調查表（113年）"); ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    for c, (h, s) in enumerate(zip(head, sub), start=1):
        if c <= 5: ws.cell(2, c, h); ws.merge_cells(start_row=2, start_column=c, end_row=3, end_column=c); continue
        ws.cell(3, c, s)
        if c == 6 or head[c - 2] != h:   # first column of a merged section title
            ws.cell(2, c, h)
            end = c
            while end < ncol and head[end] == h: end += 1
            ws.merge_cells(start_row=2, start_column=c, end_row=2, end_column=end)

    def row(r, clinic, name, group, role, when, answers=4, **kw):
        vals = [clinic, name, group, role, when] + [""]*(ncol - 5)
        for s in range(1, 8):
            for i in range(1, 4):
                a = answers(s, i) if callable(answers) else answers
                vals[5 + (s - 1)*4 + (i - 1)] = a
        for k, v in kw.items(): vals[ncol - 6 + ["q74", "q74page", "q75", "q75src", "phone", "email"].index(k)] = v
        for c, v in enumerate(vals, start=1): ws.cell(r, c, v)

    row(4, "c1", "診所1", "G1", "醫師", "113/11/22 10:00", 4)                                        # superseded by row 9
    # row 5 blank
    row(6, "c2", "診所2", "G1", "醫師", "2024-11-25 10:00", lambda s, i: "不同意" if (s, i) == (2, 2) else "同意")   # no reason for 2-2
    row(7, "c3", "診所3", "G1", "醫師", "2024-11-26 10:00", lambda s, i: "7" if (s, i) == (1, 1) else "４")          # 7 out of range
    row(8, "c4", "診所4", None, "個案管理師", "2024-11-27 10:00", lambda s, i: "非常 同意")                            # no group code
    row(9, "c1", "診所1", "G1", "醫師", datetime(2024, 11, 30, 9, 0), 5)
    row(10, "  c6 ", "診所6", "G2", "個管師", "2024-12-01 10:00", 3, email="cm6@example.invalid")
    row(11, "zz999", "某診所", "G9", "醫師", "2024-12-02 10:00", 4)                                  # unknown clinic
    row(12, "c7", "診所7", "G2", "護理師", "2024-12-03 10:00", 4)                                     # unknown role
    # row 13 blank
    row(14, "c8", "診所8", "G2", "醫師", "2024-12-04 10:00", 4, q74="希望加入回診提醒功能", q74page="P4P收案追蹤、不存在頁面")
    wb.save(path)
    return path


def test_form_file_carries_the_printed_form():
    "Every section, item, role, checkbox option, free-text and contact field of the printed form is in defs/survey_form.yaml, verbatim."
    import re
    from famdoc_lab.survey import FORM, OPEN, LIKERT
    txt = re.sub(r"\s+", "", (Path(__file__).parent / "fixtures" / "nhia_survey_form.txt").read_text(encoding="utf-8"))
    flat = lambda t: re.sub(r"\s+", "", t)
    assert len(FORM["sections"]) == 7 and len(ITEMS) == 21
    for sec in FORM["sections"]:
        assert flat(sec["title"]) in txt
        for it in sec["items"]: assert flat(it["text"]) in txt and it["id"] in txt
    # the printed item numbers and no more: 1-1 … 7-5
    assert sorted(set(re.findall(r"(?<![\d-])([1-7]-[1-5])(?![\d-])", txt))) == sorted(ITEMS.item.tolist() + ["7-4", "7-5"])
    for o in OPEN.values():
        assert flat(o["text"]) in txt and flat(o["note"]) in txt and flat(o["checkbox"]["text"]) in txt
        for opt in o["checkbox"]["options"]: assert "□" + opt in txt
        for area, views in o["checkbox"].get("groups", {}).items(): assert area in txt and all(v in o["checkbox"]["options"] for v in views)
    assert txt.count(flat(FORM["disagree_rule"]["prompt"])) == 21                 # one reason line per five-point item
    roles = next(h for h in FORM["header"] if h["id"] == "role")
    assert all("□" + z in txt for z in roles["options"].values()) and flat(roles["zh"]) in txt
    assert all(flat(h["form_label"]) in txt for h in FORM["header"] if "form_label" in h)
    assert "(家醫計畫參與診所必填)" in txt and next(h for h in FORM["header"] if h["id"] == "group_id")["required_for"] == "program_clinic"
    import unicodedata
    nfkc = unicodedata.normalize("NFKC", txt)                                    # the form prints Ｅ-mail in full width
    assert flat(FORM["contact"]["text"]) in txt and all(flat(f["zh"]) in nfkc for f in FORM["contact"]["fields"])
    assert all(v in txt for v in LIKERT.values())


def test_messy_excel_every_problem_with_its_row(tmp_path, exw):
    d = read_survey(_messy_xlsx(tmp_path / "messy.xlsx"), exw)
    got = sorted((int(r), p) for r, p in zip(d.flags.row, d.flags.problem))
    assert got == [(4, "duplicate submission"), (5, "blank row"), (6, "disagree without reason"), (7, "out of range"),
                   (8, "missing group code"), (11, "unknown clinic"), (12, "unknown role"), (13, "blank row"), (14, "unknown option")]
    f = d.flags.set_index("row")
    assert f.loc[6, "field"] == "q2_2" and f.loc[7, "field"] == "q1_1" and f.loc[7, "value"] == "7"
    assert f.loc[4, "value"] == "superseded by messy.xlsx row 9" and f.loc[14, "value"] == "不存在頁面"
    assert set(d.flags.source_file) == {"messy.xlsx"}
    c = d.counts.iloc[0]
    assert (c.read, c.blank, c.accepted, c.rejected, c.invalid) == (11, 2, 6, 3, 4)
    assert c.read == c.blank + c.accepted + c.rejected                       # nothing dropped silently
    r = d.responses.set_index("_row")
    assert sorted(r.index) == [6, 7, 8, 9, 10, 14]
    assert r.loc[6, "q2_2"] == 2 and r.loc[6, "q1_1"] == 4                   # Chinese labels
    assert r.loc[7, "q2_1"] == 4 and pd.isna(r.loc[7, "q1_1"])               # full-width digit read, 7 set missing
    assert r.loc[8, "q1_1"] == 5 and r.loc[8, "group_id"] == "G1"            # "非常 同意"; group filled from the roster for analysis
    assert r.loc[10, "clinic_id"] == "c6" and r.loc[10, "role"] == "case_manager"
    assert r.loc[9, "submitted_at"] == pd.Timestamp("2024-11-30 09:00") and r.loc[9, "valid"]
    assert list(r.valid[[6, 7, 8, 14]]) == [False]*4
    assert d.contacts.to_dict("records") == [{"submission_id": "messy.xlsx:10", "phone": None, "email": "cm6@example.invalid"}]
    assert "email" not in d.responses and "phone" not in d.responses


def test_csv_cp950_vpn_layout(tmp_path, exw):
    cols = ["SUBMIT_ID", "HOSP_ID", "GROUP_ID", "ROLE", "SUBMIT_TIME"] + [q.upper() for q in QCOLS] + [f"REASON_{s}" for s in range(1, 8)]
    rows = [["A1", "c1", "G1", "醫師", "2024-11-22 02:00:00"] + ["非常同意"]*21 + [""]*7,
            ["A2", "c6", "G2", "個案管理師", "2024-12-01 02:00:00"] + ["1"] + ["3"]*20 + ["太慢"] + [""]*6,
            [""]*len(cols)]
    p = tmp_path / "survey_2024.csv"
    pd.DataFrame(rows, columns=cols).to_csv(p, index=False, encoding="cp950")
    d = read_survey(p, exw)
    assert list(d.counts.iloc[0][["read", "blank", "accepted", "rejected", "invalid"]]) == [3, 1, 2, 0, 0]
    assert d.responses.q1_1.tolist() == [5, 1] and d.responses.submission_id.tolist() == ["A1", "A2"]


def test_missing_role_column_is_a_user_error(tmp_path):
    from famdoc_lab.config import UserError
    p = tmp_path / "x.csv"; p.write_text("HOSP_ID,Q1_1,Q1_2,Q1_3\nc1,4,4,4\n", encoding="utf-8")
    with pytest.raises(UserError, match="no column for role"): read_survey(p)


def test_alpha_and_item_total_match_pingouin():
    pg = pytest.importorskip("pingouin")
    rng = np.random.default_rng(5); n = 150
    trait = rng.normal(size=(n, 1))
    X = pd.DataFrame(np.clip(np.round(3.5 + trait + rng.normal(0, .8, (n, 21))), 1, 5), columns=QCOLS)
    X.iloc[3, 0] = np.nan; X.iloc[10, 4] = np.nan                      # listwise deletion in both
    R = reliability(X).set_index("scale"); T = item_total(X)
    for t, s, z, cols in [("view", "1", None, ["q1_1", "q1_2", "q1_3"]), ("stem", "layout", None, ITEMS.column[ITEMS.stem == "layout"].tolist())]:
        a, ci = pg.cronbach_alpha(data=X[cols], nan_policy="listwise")
        assert R.loc[s, "alpha"] == pytest.approx(a, abs=1e-9)
        assert (R.loc[s, "ci_low"], R.loc[s, "ci_high"]) == pytest.approx(tuple(ci), abs=1e-3)   # pingouin rounds to 3 places
        comp = X[cols].dropna()
        for c in cols:
            rest = comp.drop(columns=c)
            row = T[(T.scale == s) & (T.column == c)].iloc[0]
            assert row.r_item_rest == pytest.approx(pg.corr(comp[c], rest.sum(axis=1))["r"].iloc[0], abs=1e-9)
            assert row.alpha_if_deleted == pytest.approx(pg.cronbach_alpha(data=rest)[0], abs=1e-9)


def test_ordinal_model_recovers_role_effect():
    "The case-manager log-odds effect (0.8) is recovered: 95% CIs cover it in ~95% of samples, mean estimate unbiased."
    beta, cover, est = 0.8, 0, []
    reps = 80
    for seed in range(reps):
        rng = np.random.default_rng(100 + seed); n = 300
        cm = (rng.random(n) < .4).astype(float); size = rng.normal(size=n)
        y = np.digitize(beta*cm + 0.3*size + rng.logistic(size=n), [-2, -.7, .6, 1.8]) + 1
        T = fit_ordinal(y, pd.DataFrame({"case_manager": cm, "size_z": size})).set_index("term")
        cover += T.loc["case_manager", "ci_low_coef"] <= beta <= T.loc["case_manager", "ci_high_coef"]; est.append(T.loc["case_manager", "coef"])
    assert 0.87 <= cover/reps <= 1.0
    assert abs(np.mean(est) - beta) < 0.08
    assert T.loc["case_manager", "or"] == pytest.approx(np.exp(T.loc["case_manager", "coef"]))


def test_incentive_edge_cases(exw, tmp_path):
    assert incentive_amount(0, 23_910_000) [0] == 0
    S = incentive_status(exw, "2024")                                     # 3 eligible: 23.91 M ÷ 3 → cap 5,000
    assert (S.attrs["n_eligible"], S.attrs["amount"], S.attrs["warnings"]) == (3, 5000, [])
    S = incentive_status(exw, "2024", budget=11_000)                      # 3,666 < 4,000 → warned
    assert S.attrs["amount"] == 3666 and "低於公告下限" in S.attrs["warnings"][0]
    claw = tmp_path / "claw.xlsx"
    pd.DataFrame({"醫事服務機構代號": ["c6"], "追繳原因": ["不實登載"]}).to_excel(claw, index=False)
    S = incentive_status(exw, "2024", budget=15_000, clawback=claw)       # 5,000 each; c6 recovered
    assert S.set_index("clinic_id").loc[["c1", "c4", "c6"], "net_amount"].tolist() == [5000, 5000, 0]
    assert payment_roster(S)["追繳原因"].tolist()[-1] == "不實登載"
    assert regional_summary(S).set_index("分區業務組").loc["全國", "實付金額(元)"] == 10000
    from famdoc_lab.cohorts import write_rows
    w2 = _example_warehouse(tmp_path / "w2"); write_rows(w2, "platform_events", [])
    S0 = incentive_status(Warehouse(w2), "2024")
    assert (S0.attrs["n_eligible"], S0.attrs["amount"], int(S0.net_amount.sum())) == (0, 0, 0)


def test_cli_survey_with_input_files_and_incentive(exw, tmp_path, capsys):
    x = _messy_xlsx(tmp_path / "messy.xlsx"); out = tmp_path / "out"
    rc = main(["survey", "--warehouse", str(exw.path), "--period", "2024", "--input", str(x), "--incentive", "--budget", "20000", "--out", str(out)])
    assert rc == 0
    txt = capsys.readouterr().out
    assert "11 rows read = 6 accepted (4 invalid) + 3 rejected + 2 blank" in txt and "incentive 2024" in txt
    flags = pd.read_csv(out / "validation_flags.csv")
    assert len(flags) == 9 and set(flags.row) == {4, 5, 6, 7, 8, 11, 12, 13, 14}
    st = pd.read_csv(out / "incentive_status.csv").set_index("clinic_id")
    # from the file: valid in-window submissions by c1 (row 9) and c6 (row 10); both logged in within the window → eligible
    assert st.eligible[st.eligible].index.tolist() == ["c1", "c6"]
    assert (out / "restricted" / "contacts.csv").exists() and (out / "likert_nation.png").stat().st_size > 10_000
    assert main(["survey", "--warehouse", str(exw.path), "--input", str(tmp_path / "none.xlsx"), "--out", str(out)]) == 1
    assert "no such survey file" in capsys.readouterr().err


def test_public_summaries_on_the_tiny_demo(tiny_demo):
    wh = Warehouse(tiny_demo / "wh")
    d = load_survey(wh)
    assert d.counts.read.sum() == wh.count("survey_responses") == d.counts.accepted.sum() + d.counts.rejected.sum()
    # the generator's slips (04_synth `_survey_slips`): every one flagged, with the row it concerns
    probs = set(d.flags.problem)
    assert {"disagree without reason", "missing group code", "duplicate submission"} <= probs, probs
    dup = d.flags[d.flags.problem == "duplicate submission"]
    assert dup.value.str.startswith("superseded by").all() and not d.responses.submission_id.isin(dup.submission_id).any()
    raw = wh.sql("SELECT * FROM survey_responses")
    assert d.flags[d.flags.problem == "missing group code"].submission_id.isin(raw.submission_id[raw.group_id.isna()]).all()
    S = survey_summary(wh, "region", period="2024")
    assert set(S.unit_type) == {"region"} and len(S) == 21*S.unit_id.nunique()
    vis = S[~S.suppressed]
    assert (vis.n >= 3).all() and ((vis.n - vis.top2) >= 3).all() and (vis.top2 >= 3).all()
    U = usage_summary(wh, "group")
    assert (U.active_clinics.dropna() >= 3).all() and set(U.columns) >= {"month", "program_clinics", "active_clinics", "logins", "views_used"}
    fig = likert_plot(survey_summary(wh)); assert len(fig.axes) == 1
    assert theme_tally(d.responses).groupby("kind").texts.first().ge(0).all()
