"CLI `indicators` and `lists` on a tiny synthetic warehouse (synth → ingest): outputs, suppression, one-line user errors."
import subprocess, sys
from pathlib import Path
import pandas as pd
import pytest

EXE = Path(sys.executable).with_name("famdoc-lab")
IDS = ["ed_visits", "dm_hba1c_2x", "adult_check"]


def run(*args):
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=600)


def one_line_error(r, text):
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = [l for l in r.stderr.strip().splitlines() if "leaked" not in l and "nanobind" not in l]
    assert len(lines) == 1 and text in lines[0], r.stderr


@pytest.fixture(scope="module")
def wh(tiny_demo):
    return tiny_demo / "wh"


@pytest.fixture(scope="module")
def clinic(wh):
    from famdoc_lab.warehouse import Warehouse
    with Warehouse(wh) as w:
        return w.sql("SELECT clinic_id FROM program_members WHERE plan_year = 2024 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").clinic_id[0]


def test_indicators_prints_summary_and_first_rows(wh):
    r = run("indicators", "--warehouse", wh, "--level", "group", "--period", "2024", "--ids", *IDS)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("3 indicators × ") and "suppressed" in r.stdout
    assert "indicator_id" in r.stdout


def test_indicators_suppressed_by_default(wh, tmp_path):
    r = run("indicators", "--warehouse", wh, "--level", "clinic", "--ids", *IDS, "--out", tmp_path / "i.csv")
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / "i.csv")
    assert df.suppressed.any()
    small = df.numerator.between(0, 3, inclusive="neither") | df.denominator.between(0, 3, inclusive="neither")
    assert not small.any()                                  # no count 1-2 visible
    r = run("indicators", "--warehouse", wh, "--level", "clinic", "--ids", *IDS, "--out", tmp_path / "u.parquet", "--unsuppressed")
    assert r.returncode == 0 and "unsuppressed" in r.stdout
    assert not pd.read_parquet(tmp_path / "u.parquet").suppressed.any()


def test_indicators_grain_and_xlsx(wh, tmp_path):
    r = run("indicators", "--warehouse", wh, "--level", "region", "--period", "2024", "--grain", "quarter", "--ids", "ed_visits",
            "--out", tmp_path / "q.xlsx")
    assert r.returncode == 0, r.stderr
    x = pd.read_excel(tmp_path / "q.xlsx")
    assert set(x["期間"]) == {"2024Q1", "2024Q2", "2024Q3", "2024Q4"} and "指標名稱" in x.columns


@pytest.mark.parametrize("args, text", [
    (["--period", "2024Q9"], "bad period '2024Q9'"),
    (["--ids", "no_such"], "unknown indicator 'no_such'"),
    (["--level", "ward"], "invalid choice: 'ward'"),
    (["--out", "x.txt"], "write .parquet, .csv, .xlsx"),
])
def test_indicators_user_errors(wh, args, text):
    one_line_error(run("indicators", "--warehouse", wh, *args), text)


def test_indicators_missing_warehouse(tmp_path):
    one_line_error(run("indicators", "--warehouse", tmp_path / "none"), "no warehouse here")


@pytest.mark.parametrize("kind, suffix", [("enrol", "csv"), ("followup", "xlsx"), ("health", "parquet")])
def test_lists_write_files(wh, clinic, tmp_path, kind, suffix):
    out = tmp_path / f"{kind}.{suffix}"
    r = run("lists", "--warehouse", wh, "--clinic", clinic, "--list", kind, "--as-of", "2024-12-31", "--out", out)
    assert r.returncode == 0, r.stderr
    assert f"{kind} list of clinic {clinic} as of 2024-12-31" in r.stdout
    df = {"csv": pd.read_csv, "xlsx": pd.read_excel, "parquet": pd.read_parquet}[suffix](out)
    assert len(df) > 0
    assert ("個案代碼(假名化)" if suffix == "xlsx" else "person_id") in df.columns


def test_lists_prints_without_out(wh, clinic):
    r = run("lists", "--warehouse", wh, "--clinic", clinic, "--list", "followup")
    assert r.returncode == 0, r.stderr
    assert "as of 2024-12-31" in r.stdout and "next_due" in r.stdout


def test_lists_user_errors(wh, clinic):
    one_line_error(run("lists", "--warehouse", wh, "--clinic", "X000000000", "--list", "enrol"), "unknown clinic 'X000000000'")
    one_line_error(run("lists", "--warehouse", wh, "--clinic", clinic, "--list", "enrol", "--as-of", "2024-02-30"), "bad date '2024-02-30'")
    one_line_error(run("lists", "--warehouse", wh, "--clinic", clinic, "--list", "other"), "invalid choice: 'other'")
