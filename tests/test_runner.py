"Papermill reports: both templates on the tiny demo, isolation of a raising and a killed report, --resume, the Dask path, CLI errors."
import json, shutil
from pathlib import Path
import pandas as pd
import pytest
from famdoc_lab.runner import run_reports, shared_inputs, template, TREND_IDS
from famdoc_lab.cli import main

FIX = Path(__file__).parent/"fixtures"
BROKEN, REGION_OK = str(FIX/"broken.ipynb"), str(FIX/"region_ok.ipynb")


@pytest.fixture(scope="module")
def shared0(tiny_demo):
    "The shared indicator tables of the tiny demo for 2024, computed once; runs get a copy (the runner reuses it: same key)."
    d = tiny_demo/"shared0"
    shared_inputs(tiny_demo/"wh", "2024", d, threshold=3, trend_ids=TREND_IDS)
    return d


def _run(tiny_demo, shared0, out, run_id, **kw):
    dst = Path(out)/run_id/"_shared"
    if not dst.exists(): shutil.copytree(shared0, dst)
    return run_reports(warehouse=tiny_demo/"wh", period="2024", out=out, run_id=run_id, progress=False, **kw)


def test_templates_execute(tiny_demo, shared0, tmp_path):
    "Both real templates run through papermill; outputs per DESIGN.md; suppression in the CSV; HTML without code."
    man = _run(tiny_demo, shared0, tmp_path, "real", region=3, workers=2)
    assert man["exit_code"] == 0, man["reports"]
    assert set(man["reports"]) == {"3/G30002", "3/region_3"}
    g = tmp_path/"real"/"3"/"G30002"
    for f in ("report.ipynb", "report.html", "indicators.csv"): assert (g/f).stat().st_size > 0
    for f in ("region_summary.ipynb", "region_summary.html"): assert (tmp_path/"real"/"3"/f).exists()
    html = (g/"report.html").read_text(encoding="utf-8")
    assert "值得注意" in html and "漏斗圖" in html and "image/png" in html
    assert "load_shared(" not in html                                   # no code cells in the HTML
    assert "Traceback" not in html
    csv = pd.read_csv(g/"indicators.csv", encoding="utf-8-sig")
    assert "person_id" not in csv.columns and set(csv.unit_type) == {"group", "clinic"}
    assert csv[csv.suppressed].rate.isna().all()                        # suppressed rows carry no rate
    m = json.loads((tmp_path/"real"/"manifest.json").read_text(encoding="utf-8"))
    for k in ("params", "settings", "data_fingerprint", "code", "started", "finished", "reports"): assert m[k], k
    assert m["settings"]["execution_timeout"] > 0 and m["code"]["version"]
    assert not list((tmp_path/"real").rglob(".*.tmp*")) and not list((tmp_path/"real").rglob(".*running*"))   # atomic: no temp left


def test_isolation_and_resume(tiny_demo, shared0, tmp_path, monkeypatch):
    "Raising, killed and hung reports fail alone (exit 2, the manifest says why, notebooks kept); --resume redoes only them."
    monkeypatch.setenv("FAMDOC_TEST_FAIL", "G20001:raise,G30002:kill,G40003:hang")
    monkeypatch.setenv("FAMDOC_EXECUTION_TIMEOUT", "8")                 # settings.ini [runner] execution_timeout, overridden
    kw = dict(all_regions=True, groups=["G10000", "G20001", "G30002", "G40003"], workers=2, template_group=BROKEN, template_region=None)
    man = _run(tiny_demo, shared0, tmp_path, "iso", **kw)
    run = tmp_path/"iso"
    assert man["exit_code"] == 2
    assert sorted(man["failed"]) == ["2/G20001", "3/G30002", "4/G40003"]
    r = man["reports"]
    assert set(r) == {"1/G10000", "2/G20001", "3/G30002", "4/G40003"}         # template_region=None: no summaries
    assert "CellTimeoutError" in r["4/G40003"]["error"] and r["4/G40003"]["duration_s"] < 120   # not waited on forever
    assert man["settings"]["execution_timeout"] == 8
    assert r["1/G10000"]["status"] == "ok" and (run/"1"/"G10000"/"report.html").exists()
    assert "RuntimeError: broken on purpose: G20001" in r["2/G20001"]["error"]
    assert "DeadKernelError" in r["3/G30002"]["error"]
    for gid, reg in [("G20001", 2), ("G30002", 3), ("G40003", 4)]:
        nb = (run/str(reg)/gid/"report.ipynb").read_text(encoding="utf-8")
        assert "報告執行失敗" in nb                                         # the kept notebook says what went wrong
        assert not (run/str(reg)/gid/"report.html").exists()
    assert "broken on purpose" in (run/"2"/"G20001"/"report.ipynb").read_text(encoding="utf-8")
    assert json.loads((run/"manifest.json").read_text())["exit_code"] == 2
    good = (run/"1"/"G10000"/"report.html").stat().st_mtime_ns

    monkeypatch.delenv("FAMDOC_TEST_FAIL"); monkeypatch.delenv("FAMDOC_EXECUTION_TIMEOUT")
    man2 = _run(tiny_demo, shared0, tmp_path, "iso", resume=True, **kw)
    assert man2["exit_code"] == 0, man2["reports"]
    assert man2["reports"]["1/G10000"].get("skipped") is True
    assert (run/"1"/"G10000"/"report.html").stat().st_mtime_ns == good          # unchanged, not redone
    assert not man2["reports"]["2/G20001"].get("skipped") and (run/"2"/"G20001"/"report.html").exists()
    for k, gid in [("3/G30002", "3/G30002"), ("4/G40003", "4/G40003")]:
        assert not man2["reports"][k].get("skipped") and (run/gid/"report.html").exists()


def test_dask_scheduler(tiny_demo, shared0, tmp_path):
    "--scheduler hands the reports to a Dask distributed cluster through its executor."
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        man = _run(tiny_demo, shared0, tmp_path, "dask", region=1, scheduler=cluster.scheduler_address,
                   template_group=BROKEN, template_region=REGION_OK)
    assert man["exit_code"] == 0, man["reports"]
    assert (tmp_path/"dask"/"1"/"G10000"/"report.html").exists() and (tmp_path/"dask"/"1"/"region_summary.html").exists()


@pytest.mark.parametrize("args,msg", [(["--region", "9"], "unknown region"), (["--region", "2", "--groups", "GXX"], "GXX"),
                                      (["--region", "2", "--period", "2024-13"], "2024-13")])
def test_cli_user_errors(tiny_demo, tmp_path, capsys, args, msg):
    "Bad region, group or period: exit 1 with one line naming it."
    assert main(["run", "--warehouse", str(tiny_demo/"wh"), "--out", str(tmp_path), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1


def test_cli_missing_warehouse(tmp_path, capsys):
    assert main(["run", "--warehouse", str(tmp_path/"nowhere"), "--region", "2", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "no warehouse here" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("name", ["group_evaluation", "region_summary"])
def test_template_parameters_documented(name):
    "Exactly one `parameters` cell; `papermill --help-notebook` gets a type and a help text for every parameter."
    import nbformat, papermill as pm
    p = template(name)
    nb = nbformat.read(p, as_version=4)
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    params = pm.inspect_notebook(str(p))
    assert {"indicators_dir", "period", "region", "threshold"} <= set(params)
    for k, v in params.items(): assert v["help"] and v["inferred_type_name"] != "None", k
