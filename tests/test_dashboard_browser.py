"The dashboard in a real browser: Voila servers on loopback (stakeholder, clinic with a token) and Debian's chromium via Playwright."
import time, urllib.request, urllib.error
from pathlib import Path
import pandas as pd, pytest
from famdoc_lab.dashboard import (DashData, ready_dashboard, serve, wait_port, page_ready, url_of, free_port, launch_chromium,
                                  wait_status, select_option, period_zh, _fmt, FAMILY_TABS, LIST_TABS, CHROMIUM)
from famdoc_lab.indicators import get
from famdoc_lab.warehouse import Warehouse

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]
T = 3
SHOTS = Path(__file__).resolve().parent.parent/"outputs"/"screenshots"
TOKEN = "test-token-7f3a9c"


@pytest.fixture(scope="module")
def wh(tiny_demo): return tiny_demo/"wh"

@pytest.fixture(scope="module")
def data(wh): return DashData.load(ready_dashboard(wh, "2024", threshold=T))   # the cache the servers' kernels read (first figures drawn)

@pytest.fixture(scope="module")
def clinic_id(wh):
    with Warehouse(wh) as w:
        return w.sql("SELECT clinic_id FROM program_members WHERE plan_year = 2024 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").clinic_id[0]

@pytest.fixture(scope="module")
def person_ids(wh):
    with Warehouse(wh) as w: return set(w.sql("SELECT person_id FROM persons").person_id)

def _start(wh, tmp, mode, clinic=None, token=None):
    port = free_port(start=8960 if mode == "stakeholder" else 8980)
    p = serve(wh, mode, clinic, port=port, period="2024", token=token, threshold=T, log=tmp/f"voila_{mode}.log")
    url = url_of("127.0.0.1", port, token)
    assert wait_port("127.0.0.1", port, proc=p) and page_ready(url, timeout=180), (tmp/f"voila_{mode}.log").read_text()[-3000:]
    return p, url

@pytest.fixture(scope="module")
def stakeholder(wh, data, tmp_path_factory):
    p, url = _start(wh, tmp_path_factory.mktemp("voila"), "stakeholder")
    yield url
    p.terminate(); p.wait(30)

@pytest.fixture(scope="module")
def clinic(wh, data, clinic_id, tmp_path_factory):
    p, url = _start(wh, tmp_path_factory.mktemp("voila"), "clinic", clinic_id, TOKEN)
    yield url
    p.terminate(); p.wait(30)

@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()

def _page(chromium, url):
    page = chromium.new_page(viewport={"width": 1400, "height": 1100})
    page.errors = []; page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url); wait_status(page, 1, timeout=120_000)
    return page

def _n(page) -> int: return int(page.locator(".fd-status-text").get_attribute("data-n"))

def _click_tab(page, title, key):
    "Click the tab titled `title` and wait until view `key` is on screen."
    page.locator(".lm-TabBar-tab", has_text=title).first.click()
    wait_status(page, 1, f"{key}|", figures=True)

def _select(page, cls, label, key_part):
    "Choose `label` in filter `cls` and wait for the redraw showing `key_part`."
    n = _n(page); select_option(page, cls, label); wait_status(page, n + 1, key_part)

def _table(page, key) -> pd.DataFrame:
    "The first table of view `key` as the browser shows it."
    rows = page.evaluate("""k => { const t = document.querySelector('.fd-view-' + k + ' table.fd-table'); if (!t) return null;
        return [Array.from(t.querySelectorAll('th')).map(x => x.innerText.trim()),
                ...Array.from(t.querySelectorAll('tbody tr')).map(r => Array.from(r.cells).map(c => c.innerText.trim()))]; }""", key)
    return pd.DataFrame(rows[1:], columns=rows[0]) if rows else pd.DataFrame()

def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS/f"{name}.png"), full_page=True)

def _all_views(page, mode, shots=None):
    "Visit every tab; {view key: its first table}."
    out = {}
    tops = [("院所儀表板", FAMILY_TABS)] + ([("整合照護對象健康管控", LIST_TABS)] if mode == "clinic" else []) + [("問卷與使用", None), ("計畫成效", None)]
    for title, inner in tops:
        if inner is None:
            key = {"問卷與使用": "survey", "計畫成效": "impact"}[title]
            _click_tab(page, title, key); out[key] = _table(page, key)
            if shots: _shot(page, f"{shots}_{key}")
            continue
        page.locator(".lm-TabBar-tab", has_text=title).first.click()
        for it in inner:
            key, sub = it[0], it[1]
            _click_tab(page, sub, key); out[key] = _table(page, key)
            if shots: _shot(page, f"{shots}_{key}")
    return out


def test_every_tab_renders(stakeholder, chromium, data):
    page = _page(chromium, stakeholder)
    tables = _all_views(page, "stakeholder", shots="stakeholder_nation")
    assert set(tables) == {"p4p", "outcomes", "evaluation", "survey", "impact"}
    for k, t in tables.items(): assert len(t) >= 2, f"view {k} shows no table"
    # figures drawn: trend and funnel of each family view, the Likert bars
    sizes = page.evaluate("() => Array.from(document.querySelectorAll('.fd-trend img, img.fd-trend, .fd-funnel img, img.fd-funnel, img.fd-likert')).map(i => i.naturalWidth)")
    assert len(sizes) >= 7 and min(sizes) > 300, sizes
    assert page.locator(".lm-TabBar-tab", has_text="整合照護對象健康管控").count() == 0
    assert page.errors == []
    page.close()


def test_cascade_and_a_number_equals_the_indicator_table(stakeholder, chromium, data, clinic_id):
    page = _page(chromium, stakeholder)
    u = data.units.set_index("clinic_id").loc[clinic_id]
    _select(page, "fd-region", f"{u.region_id} {u.region_name}", f"|region|{u.region_id}|")
    groups = data.units[data.units.region_id == u.region_id].group_id.nunique()
    assert page.locator(".fd-group select option").count() == groups + 1
    assert page.locator(".fd-clinic select option").count() == 1
    _select(page, "fd-group", u.group_name, f"|group|{u.group_id}|")
    assert page.locator(".fd-clinic select option").count() == (data.units.group_id == u.group_id).sum() + 1
    _select(page, "fd-clinic", u.clinic_name, f"|clinic|{clinic_id}|")
    _click_tab(page, "家醫評核指標", "evaluation")
    t = _table(page, "evaluation").set_index("指標代碼")
    r = data.ind[(data.ind.unit_type == "clinic") & (data.ind.unit_id == clinic_id) & (data.ind.period == "2024")].set_index("indicator_id")
    for iid in ("ed_visits", "flu_65", "adult_check"):
        assert t.loc[iid, "數值"] == _fmt(r.loc[iid, "rate"], get(iid)["unit"], bool(r.loc[iid, "suppressed"]), T)
    _shot(page, "stakeholder_clinic_evaluation")
    # the period filter: the quarter's numbers
    _select(page, "fd-period", period_zh("2024Q3"), "|2024Q3")
    t = _table(page, "evaluation").set_index("指標代碼")
    r = data.ind[(data.ind.unit_type == "clinic") & (data.ind.unit_id == clinic_id) & (data.ind.period == "2024Q3")].set_index("indicator_id")
    assert t.loc["ed_visits", "數值"] == _fmt(r.loc["ed_visits", "rate"], "per_1000", bool(r.loc["ed_visits", "suppressed"]), T)
    assert page.errors == []
    page.close()


def test_stakeholder_shows_no_person_id_and_no_small_cell(stakeholder, chromium, data, clinic_id, person_ids):
    page = _page(chromium, stakeholder)
    u = data.units.set_index("clinic_id").loc[clinic_id]
    seen = 0
    for step in ("nation", "clinic"):
        if step == "clinic":
            _select(page, "fd-region", f"{u.region_id} {u.region_name}", "|region|")
            _select(page, "fd-group", u.group_name, "|group|")
            _select(page, "fd-clinic", u.clinic_name, "|clinic|")
        tables = _all_views(page, "stakeholder")
        text = page.content()
        assert not [p for p in person_ids if p in text], "a person id in the page"
        for k in ("p4p", "outcomes", "evaluation"):
            t = tables[k]
            cells = t[["分子", "分母"]].to_numpy().ravel().tolist() + t.loc[t.指標代碼.map(lambda i: get(i)["unit"] == "count"), "數值"].tolist()
            for c in cells:
                if c in ("—", f"<{T}"): continue
                n = float(c.replace(",", "")); seen += 1
                assert n == 0 or n >= T, f"{k}: a count of {c} is shown"
        sv = tables["survey"]
        for c in sv["填答數"]:
            assert c == "—" or float(c) == 0 or float(c) >= T
    assert seen > 50
    page.close()


def test_clinic_mode_needs_the_token_and_shows_only_its_clinic(clinic, chromium, data, clinic_id, wh):
    base = clinic.split("?")[0]
    try: body = urllib.request.urlopen(base, timeout=60).read()
    except urllib.error.HTTPError as e: body = e.read()
    assert b"widget-view+json" not in body and clinic_id.encode() not in body, "clinic mode served without the token"
    page = _page(chromium, clinic)
    assert page.locator(".fd-clinic select option").all_inner_texts() == ["全部診所", data.units.set_index("clinic_id").clinic_name[clinic_id]]
    assert page.locator(".fd-region select option").count() == 1
    tables = _all_views(page, "clinic", shots="clinic")
    from famdoc_lab.lists import member_list
    for kind, _ in LIST_TABS:
        exp = member_list(wh, clinic_id, kind, "2024-12-31", zh=True)
        shown = tables[kind]
        assert len(shown) == min(len(exp), 500) and len(shown) > 0, kind
        ids = set(exp["個案代碼(假名化)"].astype(str))
        assert set(shown["個案代碼(假名化)"]) <= ids, f"{kind}: a person of another clinic"
    assert page.errors == []
    page.close()


@pytest.mark.slow
def test_load_20_sessions(stakeholder, chromium):
    "20 viewers at once (one chromium, 20 contexts) all get a rendered dashboard, with no page error."
    t0 = time.perf_counter()
    ctxs = [chromium.new_context(viewport={"width": 1200, "height": 900}) for _ in range(20)]
    pages, errors = [c.new_page() for c in ctxs], []
    for p in pages:
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.goto(stakeholder, wait_until="commit", timeout=120_000)
    done = [wait_status(p, 1, timeout=280_000) for p in pages]
    took = time.perf_counter() - t0
    assert len(done) == 20 and errors == []
    assert all(p.locator(".fd-view-p4p table.fd-table tbody tr").count() > 5 for p in pages)
    print(f"20 sessions rendered in {took:.1f} s")
    for c in ctxs: c.close()
