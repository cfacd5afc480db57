"Integration tests of `famdoc_lab.ingest` on tiny hand-written raw folders."
import hashlib, json, os, subprocess, sys
from pathlib import Path
import pandas as pd, pyarrow.parquet as pq, pytest
from famdoc_lab.config import UserError
from famdoc_lab.ingest import ingest, format_summary

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT/".venv"/"bin"/"famdoc-lab"

FAC = ("HOSP_ID,BRANCH_ID,HOSP_CNT_TYPE,HOSP_STATUS,CITY,HOSP_STOP_S_DATE,HOSP_STOP_E_DATE",
       ["H1,1,5,1,0101,,", "H2,2,5,1,0202,,", "H9,1,1,1,0101,,", "H8,3,9,1,0303,1130101,113/06/30"])
GRP = ("GROUP_ID,GROUP_NAME,BRANCH_ID,PARTNER_HOSP_ID,START_YEAR", ["G1,臺北第一醫療群,1,H9,2010", "G2,北區醫療群,2,H9,2015"])
CLI_ = ("HOSP_ID,GROUP_ID,CLINIC_NAME,JOIN_YEAR", ["H1,G1,仁愛診所,2012", "H2,G2,博愛診所,2016"])
ENR = ("PREM_YM,ID,STATUS,BRANCH_ID,ID_S,ID_BIRTH_Y,INS_AMT,UNIT_INS_TYPE,HOME_CITY",
       ["202401,PID0001,1,1,1,1950,25200,1,0101", "202402,PID0001,1,1,1,1950,25200,1,0101",
        "202401,PID0002,1,2,2,1962,30300,1,0202", "202401,PID0003,1,1,2,1980,,1,0101"])
OPD_H = "FEE_YM,APPL_TYPE,HOSP_ID,APPL_DATE,CASE_TYPE,SEQ_NO,FUNC_DATE,ID,ICD9CM_CODE,ICD9CM_CODE1,DRUG_DAYS,EXP_DOT,APPL_DOT,PART_AMT,PRSN_ID"
OPD = [
    "202401,1,H1,20240210,01,000001,20240105,PID0001,E11.9,I10,28,800,750,50,DOC01",   # 2 ok
    "202401,1,H1,20240210,04,000002,1130106,PID0002,I10,,7,400,350,50,DOC01",          # 3 ok (ROC date)
    "202401,2,H1,20240310,01,000001,20240105,PID0001,E11.9,,0,100,100,0,DOC01",        # 4 supplementary of row 2
    "202401,2,H1,20240310,01,000099,20240105,PID0001,E11.9,,0,100,100,0,DOC01",        # 5 orphan supplementary
    "202401,1,H1,20240210,01,000003,20240107,,J06.9,,3,300,250,50,DOC01",              # 6 missing value: ID
    "202401,1,H1,20240210,01,000004,20241341,PID0003,J06.9,,3,300,250,50,DOC01",       # 7 bad date
    "202401,1,H1,20240210,ZZ,000005,20240107,PID0003,J06.9,,3,300,250,50,DOC01",       # 8 unknown code
    "202401,1,H1,20240210,01,000006,20240107,PID0003,J06.9,,abc,300,250,50,DOC01",     # 9 bad type
    "202401,1,H1,20240210,01,000007,20240107,PID0003,J06.9,,400,300,250,50,DOC01",     # 10 out of range
    "202401,1,H1,20240210,01,000001,20240105,PID0001,E11.9,I10,28,800,750,50,DOC01",   # 11 duplicate claim key
    "202401,1,H2,20240210,01,000008,113/01/08,PID0009,J06.9,,3,300,250,50,DOC02",      # 12 orphan person
]
ORD_H = "FEE_YM,APPL_TYPE,HOSP_ID,APPL_DATE,CASE_TYPE,SEQ_NO,ORDER_SEQ_NO,ORDER_TYPE,ORDER_CODE,ORDER_QTY,ORDER_UPRICE,ORDER_DOT"
ORD = ["202401,1,H1,20240210,01,000001,1,2,P1407C,1,200,200",     # 2 ok, P4P enrol
       "202401,1,H1,20240210,01,000001,2,1,A012345100,28,2,56",   # 3 ok
       "202401,2,H1,20240310,01,000001,1,2,09006C,1,200,200",     # 4 ok (to the supplementary claim)
       "202401,1,H1,20240211,01,000001,3,1,A012345100,28,2,56"]   # 5 orphan (APPL_DATE differs)
LAB = ("ID,HOSP_ID,TEST_DATE,ORDER_CODE,TEST_ITEM,RESULT_VALUE,UNIT",
       ["PID0001,H1,20240105,09006C,hba1c,7.2,%", "PID0001,H1,20240105,09006C,hba1c,45,%", "PID0002,H1,1130301,09005C,fpg,110,mg/dL"])
ROS = ("ID,HOSP_ID,GROUP_ID,PLAN_YEAR,START_DATE,END_DATE,CASE_SOURCE,P4P_FLAG,ELDER_MULTI,HIGH_UTIL,CHRONIC,SAME_CLINIC,DISEASE_PATTERN,ASCVD,HTN,HLD,HGL",
       ["PID0001,H1,G1,2024,1130101,,1,Y,N,0,1,Y,1,N,Y,N,Y", "PID0002,H1,G1,2024,2024-01-02,,2,N,N,N,N,N,0,0,0,0,0"])


def write_raw(folder, files, encoding="utf-8"):
    "Write raw CSV files `name → (header, rows)` into `folder`."
    folder = Path(folder); folder.mkdir(parents=True, exist_ok=True)
    for name, (head, rows) in files.items():
        (folder/name).write_bytes(("\n".join([head, *rows]) + "\n").encode(encoding))
    return folder


def full_raw(folder):
    return write_raw(folder, {"H_NHI_HOSPBSC_2024.csv": FAC, "fd_groups.csv": GRP, "fd_clinics.csv": CLI_,
                              "h_nhi_enrol_2024.csv": ENR, "h_nhi_opdte_2024.csv": (OPD_H, OPD),
                              "h_nhi_opdto_2024.csv": (ORD_H, ORD), "lab_results.csv": LAB, "fd_roster_2024.csv": ROS})


@pytest.fixture
def key(tmp_path):
    k = tmp_path/"key"; k.write_text("ab" * 32); return k


def rejects(wh, table):
    return pd.read_csv(Path(wh)/"rejects"/f"{table}.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)


def table(wh, name):
    return pq.read_table(Path(wh)/name).to_pandas()


def tree(path):
    "Relative path → sha256 of every file under `path`."
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(path).rglob("*")) if p.is_file()}


@pytest.fixture
def done(tmp_path, key):
    raw, wh = full_raw(tmp_path/"raw"), tmp_path/"wh"
    return raw, wh, ingest(raw, wh, key_file=key, progress=False)


def test_reject_reasons_rows(done):
    raw, wh, s = done
    assert list(rejects(wh, "visits").columns[:4]) == ["source_file", "row", "reason", "FEE_YM"]
    r = rejects(wh, "visits").set_index("row")
    want = {5: "orphan reference: supplementary claim without original", 6: "missing value: ID",
            7: "bad date: FUNC_DATE='20241341'", 8: "unknown code: CASE_TYPE='ZZ'", 9: "bad type: DRUG_DAYS='abc'",
            10: "out of range", 11: "duplicate key", 12: "orphan reference"}
    assert sorted(int(i) for i in r.index) == sorted(want)
    for row, reason in want.items(): assert r.loc[str(row), "reason"].startswith(reason), (row, r.loc[str(row), "reason"])
    assert (r.source_file == "h_nhi_opdte_2024.csv").all()
    lab = rejects(wh, "labs")
    assert lab.row.tolist() == ["3"] and lab.reason[0] == "out of range: value=45 for hba1c"
    o = rejects(wh, "orders")
    assert o.row.tolist() == ["5"] and o.reason[0].startswith("orphan reference")


def test_supplementary_and_visits(done):
    raw, wh, s = done
    v = table(wh, "visits").set_index("visit_id")
    assert sorted(v.index) == ["H1-202401-01-000001", "H1-202401-04-000002"]
    one = v.loc["H1-202401-01-000001"]
    assert (one.points, one.appl_points, one.copay, one.n_supplementary) == (900, 850, 50, 1)
    assert one.dx1 == "E119" and one.dx2 == "I10"
    assert str(v.loc["H1-202401-04-000002"].visit_date)[:10] == "2024-01-06"   # ROC YYYMMDD
    o = table(wh, "orders")
    assert len(o) == 3 and set(o.visit_id) == {"H1-202401-01-000001"} and o.person_id.notna().all()
    p4p = table(wh, "p4p_enrolments")
    assert p4p[["program", "event", "fee_code"]].values.tolist() == [["dm", "enrol", "P1407C"]]


def test_summary_counts(done):
    raw, wh, s = done
    assert list(s.columns) == ["table", "source_file", "read", "accepted", "rejected"]
    assert (s.read == s.accepted + s.rejected).all()
    csv = pd.read_csv(wh/"ingest_summary.csv", encoding="utf-8-sig")
    assert list(csv.columns) == ["table", "source_file", "read", "accepted", "rejected"]
    assert (csv.read == csv.accepted + csv.rejected).all()
    row = s.set_index("table").loc["visits"]
    assert (row.read, row.accepted, row.rejected) == (11, 3, 8)
    assert table(wh, "ingest_summary").shape[0] == len(csv)
    text = format_summary(s)
    assert "visits" in text and "total" in text and "h_nhi_opdte_2024.csv" in text


def test_derived_tables(done):
    raw, wh, s = done
    assert len(table(wh, "regions")) == 6
    h = table(wh, "hospitals"); assert h.hosp_id.tolist() == ["H9"]
    c = table(wh, "clinics").set_index("clinic_id"); assert c.region_id.to_dict() == {"H1": 1, "H2": 2}
    p = table(wh, "persons"); assert len(p) == 3 and set(p.sex) == {"M", "F"}
    assert table(wh, "persons").set_index("person_id").last_ym.max() == 202402
    m = table(wh, "program_members")
    assert m.case_source.tolist() == ["designated", "self"] and m.p4p_list.tolist() == [True, False]
    assert str(m.start_date[0])[:10] == "2024-01-01"
    f = table(wh, "facilities").set_index("hosp_id"); assert str(f.loc["H8", "stop_end"])[:10] == "2024-06-30"
    assert (wh/"catalog.duckdb").exists()


def test_person_ids_hashed(done):
    raw, wh, s = done
    v = table(wh, "visits")
    assert v.person_id.str.fullmatch(r"[A-Za-z0-9._]{12}").all() and v.physician_id.str.fullmatch(r"[A-Za-z0-9._]{12}").all()
    for p in wh.rglob("*"):
        if p.is_file() and p.suffix in (".parquet", ".csv"):
            data = p.read_bytes()
            for raw_id in (b"PID0001", b"PID0002", b"PID0003", b"PID0009", b"DOC01"): assert raw_id not in data, (p, raw_id)


def test_reingest_idempotent(done, key):
    raw, wh, s = done
    before = {t: table(wh, t) for t in ("visits", "orders", "labs", "persons", "clinics")}
    rej = (wh/"rejects"/"visits.csv").read_bytes()
    s2 = ingest(raw, wh, key_file=key, progress=False)
    pd.testing.assert_frame_equal(s, s2)
    for t, df in before.items(): pd.testing.assert_frame_equal(df, table(wh, t))
    assert (wh/"rejects"/"visits.csv").read_bytes() == rej
    assert not [p for p in wh.parent.iterdir() if p.name.startswith(".wh")]   # no stage left behind


def test_subset_keeps_other_tables(done, key, tmp_path):
    raw, wh, s = done
    visits = table(wh, "visits")
    sub = write_raw(tmp_path/"sub", {"lab_results_2025.csv": ("ID,HOSP_ID,TEST_DATE,ORDER_CODE,TEST_ITEM,RESULT_VALUE,UNIT",
                                                               ["PID0003,H1,20250105,09006C,HBA1C,6.1,%"]), "notes.docx": ("x", [])})
    s2 = ingest(sub, wh, key_file=key, progress=False)
    assert s2.table.tolist() == ["labs"] and s2.accepted.tolist() == [1]
    assert any("notes.docx" in n for n in s2.attrs["notes"])
    pd.testing.assert_frame_equal(visits, table(wh, "visits"))
    assert len(table(wh, "labs")) == 1
    csv = pd.read_csv(wh/"ingest_summary.csv", encoding="utf-8-sig")
    assert "visits" in set(csv.table) and csv[csv.table == "labs"].source_file.tolist() == ["lab_results_2025.csv"]


@pytest.mark.parametrize("name,content,msg", [
    ("h_nhi_opdte_2024.csv", b"FEE_YM,APPL_TYPE\n\xff\xfe\xff,1\n", "undecodable"),
    ("h_nhi_opdte_2024.csv", (OPD_H.replace(",", ";") + "\n" + OPD[0].replace(",", ";") + "\n").encode(), "wrong delimiter"),
    ("h_nhi_opdte_2024.csv", b"FEE_YM,APPL_TYPE,HOSP_ID,APPL_DATE,CASE_TYPE,SEQ_NO,ICD9CM_CODE\n", "required column(s) missing: FUNC_DATE, ID"),
    ("h_nhi_opdte_2024.csv", b"", "empty file"),
    ("h_nhi_opdte_2024.csv", b"\n\n", "empty file"),
])
def test_fatal_leaves_warehouse_untouched(done, key, tmp_path, name, content, msg):
    raw, wh, s = done
    before = tree(wh)
    bad = tmp_path/"bad"; full_raw(bad); (bad/name).write_bytes(content)
    with pytest.raises(UserError) as e: ingest(bad, wh, key_file=key, progress=False)
    text = str(e.value)
    assert msg in text and name in text and "\n" not in text
    assert tree(wh) == before
    with pytest.raises(UserError): ingest(bad, tmp_path/"new_wh", key_file=key, progress=False)
    assert not (tmp_path/"new_wh").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cp950_roundtrip(tmp_path, key):
    raw = write_raw(tmp_path/"raw", {"fd_groups.csv": GRP, "fd_clinics.csv": CLI_, "h_nhi_hospbsc.txt": FAC}, encoding="cp950")
    ingest(raw, tmp_path/"wh", key_file=key, progress=False)
    assert table(tmp_path/"wh", "groups").group_name.tolist() == ["臺北第一醫療群", "北區醫療群"]
    assert table(tmp_path/"wh", "clinics").clinic_name.tolist() == ["仁愛診所", "博愛診所"]
    s = ingest(raw, tmp_path/"wh2", key_file=key, encoding="cp950", progress=False)
    assert s.rejected.sum() == 0


def test_utf8_bom_and_case_insensitive_header(tmp_path, key):
    raw = tmp_path/"raw"; raw.mkdir()
    (raw/"FD_GROUPS.CSV").write_bytes(("\ufeff group_id ,Group_Name,branch_id,PARTNER_HOSP_ID,START_YEAR\n" + GRP[1][0] + "\n").encode("utf-8"))
    s = ingest(raw, tmp_path/"wh", key_file=key, progress=False)
    assert s.accepted.tolist() == [1] and table(tmp_path/"wh", "groups").group_name[0] == "臺北第一醫療群"


def test_legacy_column_names(tmp_path, key):
    head = OPD_H.replace("ICD9CM_CODE1", "ICD9CM_2").replace("ICD9CM_CODE", "ICD9CM_1").replace("EXP_DOT", "T_DOT")
    head = head.replace("DRUG_DAYS", "DRUG_DAY") + ",CARD_SEQ_NO"
    ohead = ORD_H.replace("ORDER_CODE", "DRUG_NO").replace("ORDER_DOT", "TOTAL_DOT")
    raw = write_raw(tmp_path/"raw", {"h_nhi_enrol.csv": ENR, "h_nhi_opdte.csv": (head, [OPD[0] + ",0012"]),
                                     "h_nhi_opdto.csv": (ohead, ORD[:1])})
    s = ingest(raw, tmp_path/"wh", key_file=key, progress=False)
    assert s.rejected.sum() == 0
    v = table(tmp_path/"wh", "visits")
    assert (v.dx1[0], v.dx2[0], v.points[0], v.drug_days[0], v.func_seq_no[0]) == ("E119", "I10", 800, 28, "0012")
    assert table(tmp_path/"wh", "orders").order_code.tolist() == ["P1407C"]


def test_duplicate_key_and_orphan_reference(tmp_path, key):
    raw = write_raw(tmp_path/"raw", {"fd_groups.csv": (GRP[0], GRP[1] + ["G1,重複,1,H9,2010"]),
                                     "fd_clinics.csv": (CLI_[0], CLI_[1] + ["H3,G7,無群診所,2016"]), "h_nhi_hospbsc.csv": FAC})
    ingest(raw, tmp_path/"wh", key_file=key, progress=False)
    g = rejects(tmp_path/"wh", "groups")
    assert g.row.tolist() == ["4"] and g.reason[0].startswith("duplicate key: group_id=G1")
    c = rejects(tmp_path/"wh", "clinics")
    assert c.row.tolist() == ["4"] and c.reason[0].startswith("orphan reference: clinic_id=H3")
    assert g.GROUP_NAME[0] == "重複"


def test_survey_and_platform(tmp_path, key):
    from famdoc_lab.schema import SOURCES
    cols = SOURCES["survey_responses"].required
    vals = {c: "" for c in cols} | {"SUBMIT_ID": "S1", "HOSP_ID": "H1", "GROUP_ID": "G1", "ROLE": "醫師",
                                     "SUBMIT_TIME": "2024-10-01 09:30:00", "Q1_1": "同意", "Q1_2": "５", "Q1_3": "3",
                                     "PHONE": "0912345678", "EMAIL": "doc@example.tw"}
    bad = vals | {"SUBMIT_ID": "S2", "Q1_1": "7"}
    raw = write_raw(tmp_path/"raw", {"survey_responses.csv": (",".join(cols), [",".join(vals[c] for c in cols), ",".join(bad[c] for c in cols)]),
                                     "platform_logs.csv": ("HOSP_ID,USER_ROLE,EVENT_TIME,EVENT_TYPE,VIEW_ID,SESSION_ID",
                                                           ["H1,個案管理師,2024-10-01 09:00:00,login,,X1", "H1,physician,2024-10-01 09:01:00,view,4,X1"])})
    ingest(raw, tmp_path/"wh", key_file=key, progress=False)
    r = table(tmp_path/"wh", "survey_responses")
    assert (r.role[0], r.q1_1[0], r.q1_2[0], r.q1_3[0]) == ("physician", 4, 5, 3) and "phone" not in r
    assert rejects(tmp_path/"wh", "survey_responses").reason.tolist() == ["out of range: Q1_1='7'"]
    c = table(tmp_path/"wh", "survey_contacts"); assert c.submission_id.tolist() == ["S1"] and len(c.phone[0]) == 10
    e = table(tmp_path/"wh", "platform_events"); assert e.user_role.tolist() == ["case_manager", "physician"]
    assert "0912345678" not in (tmp_path/"wh"/"rejects"/"survey_responses.csv").read_text(encoding="utf-8-sig")


def test_parquet_input(tmp_path, key):
    raw = tmp_path/"raw"; raw.mkdir()
    df = pd.DataFrame([r.split(",") for r in ENR[1]], columns=ENR[0].split(","))
    df.to_parquet(raw/"h_nhi_enrol_2024.parquet")
    s = ingest(raw, tmp_path/"wh", key_file=key, progress=False)
    assert s.accepted.tolist() == [4] and len(table(tmp_path/"wh", "persons")) == 3


def test_cli(tmp_path, key):
    raw, wh = full_raw(tmp_path/"raw"), tmp_path/"wh"
    r = subprocess.run([str(CLI), "ingest", str(raw), "--warehouse", str(wh), "--key-file", str(key), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "visits" in r.stdout and "total" in r.stdout
    (raw/"fd_groups.csv").write_text("GROUP_ID;GROUP_NAME;BRANCH_ID\nG1;x;1\n")
    r = subprocess.run([str(CLI), "ingest", str(raw), "--warehouse", str(wh), "--key-file", str(key)], capture_output=True, text=True)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "fd_groups.csv" in r.stderr


def test_synth_truth_matches_rejects(tmp_path, key):
    synth = pytest.importorskip("famdoc_lab.synth")
    out = tmp_path/"demo"
    synth.synth(scale=0.001, seed=7, out=out, fmt="csv", progress=False)
    truth = json.loads((out/"truth.json").read_text())
    ingest(out/"raw", out/"wh", key_file=key, progress=False)
    got = {}
    for f in (out/"wh"/"rejects").glob("*.csv"):
        r = rejects(out/"wh", f.stem)
        if len(r): got[f.stem] = r.reason.str.split(":").str[0].value_counts().to_dict()
    want = {t: {k: v for k, v in d.items() if v} for t, d in truth["bad_rows"].items()}
    assert got == {t: d for t, d in want.items() if d}


def test_pseudonyms_match_python_hmac(done, key):
    "The SQL HMAC equals Python's `hmac` (its first 9 bytes in base64, `._` for `+/`) on odd ids, and in the warehouse."
    import hmac, random
    from famdoc_lab.ingest import pseudonymise
    rng = random.Random(7)
    alphabet = "AZaz09 -_'\"\\,;臺北市醫師😀\u3000é\x01"
    ids = ["", "A", "PID0001", "x" * 64, "y" * 65, "臺北市 第一醫療群", "a\\x41'b", "😀" * 20] + \
          ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(2000)]
    k = bytes.fromhex(key.read_text())
    for kk in (k, b"q" * 16, b"r" * 100):
        assert pseudonymise(ids, kk) == [pseudonym(kk, i) for i in ids]
    raw, wh, s = done
    got = set(table(wh, "persons").person_id)
    assert got == {pseudonym(k, p) for p in ("PID0001", "PID0002", "PID0003")}


def test_csv_row_numbers_follow_file(tmp_path, key):
    "Row numbers of a CSV of more than a million rows are its line numbers (header = 1), through the whole ingest."
    import duckdb
    from famdoc_lab.ingest import scan_sql
    n, bad = 1_200_000, {2, 654_321, 1_000_003, 1_200_001}
    raw = tmp_path/"raw"; raw.mkdir()
    with open(raw/"lab_results_big.csv", "w") as f:
        f.write("ID,HOSP_ID,TEST_DATE,ORDER_CODE,TEST_ITEM,RESULT_VALUE,UNIT\n")
        for line in range(2, n + 2):
            f.write(f"P{line},H1,{'2024-13-01' if line in bad else '2024-01-05'},09006C,hba1c,{line % 10 + 5},%\n")
    cols = ["ID", "HOSP_ID", "TEST_DATE", "ORDER_CODE", "TEST_ITEM", "RESULT_VALUE", "UNIT"]
    wrong = duckdb.sql(f"SELECT count(*) FROM ({scan_sql(raw/'lab_results_big.csv', cols)}) WHERE _c0 <> 'P' || _row::VARCHAR").fetchall()[0][0]
    assert wrong == 0
    s = ingest(raw, tmp_path/"wh", key_file=key, progress=False)
    assert s[["read", "accepted", "rejected"]].values.tolist() == [[n, n - len(bad), len(bad)]]
    r = rejects(tmp_path/"wh", "labs")
    assert r.row.astype(int).tolist() == sorted(bad)
    assert r.reason.tolist() == ["bad date: TEST_DATE='2024-13-01'"] * len(bad)
    assert r.ID.tolist() == [pseudonymise_one(key, f"P{i}") for i in sorted(bad)]


def pseudonymise_one(key, value):
    import hmac
    return pseudonym(bytes.fromhex(key.read_text()), value)


def pseudonym(k, value):
    "The keyed hash of `value` under key `k` as ingest writes it: HMAC-SHA256's first 9 bytes in base64 with `._` for `+/` (12 characters)."
    import base64, hmac
    return base64.b64encode(hmac.new(k, value.encode(), hashlib.sha256).digest()[:9], altchars=b"._").decode()


def test_adult_check_lab_siblings_counted(tmp_path, key):
    "Two exams of one person on one day: the second's duplicate SBP is rejected, and its other measurement with it — counted, not dropped."
    adult = ("ID,HOSP_ID,FIRST_DIAG_DATE,BASE_SBP,LDL,HDL",
             ["PID0001,H1,20240105,130,100,", "PID0001,H1,20240105,135,,50"])
    raw = write_raw(tmp_path/"raw", {"h_nhi_enrol_2024.csv": ENR, "h_bhp_adult_2024.csv": adult})
    s = ingest(raw, tmp_path/"wh", key_file=key, progress=False)
    labs = s[(s.table == "labs") & (s.source_file == "h_bhp_adult_2024.csv")].iloc[0]
    assert (labs.read, labs.accepted, labs.rejected) == (4, 2, 2)
    got = table(tmp_path/"wh", "labs")
    assert sorted(got.test) == ["ldl", "sbp"] and len(got) == labs.accepted
    r = rejects(tmp_path/"wh", "labs")
    assert r.row.tolist() == ["3", "3"]
    assert sorted(x.split(":")[0] for x in r.reason) == ["duplicate key", "rejected with its source row"]
