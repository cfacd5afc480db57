"The dashboard App without a browser: set `.value`, `.click()`, read what the widgets show (tiny_demo warehouse)."
import re
import numpy as np, pandas as pd, pytest
import ipywidgets as W
from famdoc_lab.config import UserError
from famdoc_lab.dashboard import App, DashData, prepare_dashboard, read_link, period_zh, ALL, LIST_TABS, _fmt
from famdoc_lab.indicators import get
from famdoc_lab.warehouse import Warehouse

T = 3


@pytest.fixture(scope="module")
def wh(tiny_demo): return tiny_demo/"wh"

@pytest.fixture(scope="module")
def data(wh):
    "The dashboard cache of the tiny warehouse (built once per session: the browser tests reuse it)."
    return DashData.load(prepare_dashboard(wh, "2024", threshold=T))

@pytest.fixture(scope="module")
def busy_clinic(wh):
    with Warehouse(wh) as w:
        return w.sql("SELECT clinic_id FROM program_members WHERE plan_year = 2024 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").clinic_id[0]

def texts(w) -> str:
    "Every text a widget tree shows (HTML values, options, titles, descriptions)."
    out = []
    def walk(x):
        for a in ("value", "description", "placeholder"):
            v = getattr(x, a, None)
            if isinstance(v, str): out.append(v)
        out.extend(str(o) for o in getattr(x, "options", ()))
        out.extend(getattr(x, "titles", ()) or ())
        for c in getattr(x, "children", ()): walk(c)
    walk(w); return "\n".join(out)

def draw_all(app):
    "Show every view once (as a viewer clicking through the tabs)."
    for i, top in enumerate(app.tabs.children):
        app.tabs.selected_index = i
        for t in app.inner.values():
            if top is t:
                for j in range(len(t.children)): t.selected_index = j

def choose_clinic(app, clinic_id):
    u = app.data.units.set_index("clinic_id").loc[clinic_id]
    app.region.value = u.region_id; app.group.value = u.group_id; app.clinic.value = clinic_id


def test_cache_has_every_level_and_period(data):
    test = data.ind
    assert set(test.unit_type) == {"clinic", "group", "region", "nation"}
    assert data.periods == ["2024", "2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert set(data.units.clinic_id) >= set(test[test.unit_type == "clinic"].unit_id)


def test_cascade_narrows_options(data):
    app, u = App(data), data.units
    assert [v for _, v in app.group.options] == [ALL] and [v for _, v in app.clinic.options] == [ALL]
    assert [v for _, v in app.region.options][1:] == list(dict.fromkeys(u.region_id))
    r = u.region_id.iloc[-1]
    app.region.value = r
    assert [v for _, v in app.group.options][1:] == list(dict.fromkeys(u[u.region_id == r].group_id))
    g = u[u.region_id == r].group_id.iloc[0]
    app.group.value = g
    assert [v for _, v in app.clinic.options][1:] == u[u.group_id == g].clinic_id.tolist()
    app.clinic.value = u[u.group_id == g].clinic_id.iloc[0]
    assert app.unit == ("clinic", app.clinic.value)
    other = next(x for x in dict.fromkeys(u.region_id) if x != r)
    app.region.value = other                      # a new region: group and clinic fall back to 全部
    assert app.unit == ("region", other) and app.group.value == ALL and [v for _, v in app.clinic.options] == [ALL]


def shown_rates(app, key="evaluation") -> pd.Series:
    "The 數值 column of family view `key` (its tab made visible)."
    app.tabs.selected_index = 0; app.inner["dash"].selected_index = [k for k in app.inner["dash"]._keys].index(key)
    return app.views[key].table.view().set_index("指標代碼")["數值"]

def expected_rates(data, level, uid, period, ids) -> pd.Series:
    r = data.ind[(data.ind.unit_type == level) & (data.ind.unit_id == uid) & (data.ind.period == period)].set_index("indicator_id").loc[ids]
    return pd.Series([_fmt(v, get(i)["unit"], s, T) for i, v, s in zip(r.index, r.rate, r.suppressed.astype(bool))], index=ids)


@pytest.mark.parametrize("level", ["nation", "region", "group", "clinic"])
def test_value_shown_equals_indicator_table(data, busy_clinic, level):
    app = App(data)
    u = data.units.set_index("clinic_id").loc[busy_clinic]
    if level != "nation": app.region.value = u.region_id
    if level in ("group", "clinic"): app.group.value = u.group_id
    if level == "clinic": app.clinic.value = busy_clinic
    uid = {"nation": "nation", "region": u.region_id, "group": u.group_id, "clinic": busy_clinic}[level]
    assert app.unit == (level, uid)
    s = shown_rates(app)
    assert len(s) >= 10
    pd.testing.assert_series_equal(s, expected_rates(data, level, uid, "2024", list(s.index)), check_names=False)
    assert "ed_visits" in s.index and re.fullmatch(r"\d+\.\d‰|<3|—", s["ed_visits"])


def test_period_change_updates_numbers(data, busy_clinic):
    app = App(data); choose_clinic(app, busy_clinic)
    year = shown_rates(app, "p4p")
    n0 = app._n
    app.period.value = "2024Q1"
    assert app._n == n0 + 1, "one change → one update"
    q1 = shown_rates(app, "p4p")
    pd.testing.assert_series_equal(q1, expected_rates(data, "clinic", busy_clinic, "2024Q1", list(q1.index)), check_names=False)
    assert (q1 != year).any(), "the quarter's numbers differ from the year's"
    assert period_zh("2024Q1") in app.views["p4p"].heading.value and period_zh("2024Q1") in app.status.value


def test_stakeholder_has_no_lists_and_no_person_id(data, wh, busy_clinic):
    app = App(data)
    titles = list(app.tabs.titles) + [t for x in app.inner.values() for t in x.titles]
    assert "整合照護對象健康管控" not in titles and not any(t in titles for _, t in LIST_TABS)
    assert set(app.views) == {"p4p", "outcomes", "evaluation", "survey", "impact"}
    with pytest.raises(PermissionError): app.member_list("enrol", "2024-12-31")
    with Warehouse(wh) as w: pids = set(w.sql("SELECT person_id FROM persons").person_id)
    for lv in ("nation", "clinic"):
        if lv == "clinic": choose_clinic(app, busy_clinic)
        draw_all(app)
        for v in app.views.values():
            for t in [getattr(v, "table", None), getattr(v, "items", None), getattr(v, "usage", None)]:
                if t is not None: t.button.click()      # the downloads too
        shown = texts(app.widget)
        assert len(shown) > 5000
        assert not [p for p in pids if p in shown], "a person id is on screen"
        assert "個案代碼" not in shown


def test_stakeholder_counts_suppressed(data):
    "No count under the threshold is shown: numerators, denominators and count indicators."
    app = App(data)
    seen = 0
    for lv_uid in [None] + [(r, None) for r in dict.fromkeys(data.units.region_id)]:
        if lv_uid: app.region.value = lv_uid[0]
        for key in ("p4p", "outcomes", "evaluation"):
            v = shown_rates(app, key)
            t = app.views[key].table.view()
            counts = t[["分子", "分母"]].to_numpy().ravel().tolist() + t.loc[t.指標代碼.map(lambda i: get(i)["unit"] == "count"), "數值"].tolist()
            for c in counts:
                if c in ("—", f"<{T}"): continue
                n = float(c.replace(",", "")); seen += 1
                assert n == 0 or n >= T, f"count {c} under the threshold shown"
    assert seen > 100
    counted = data.ind.indicator_id.map(lambda i: get(i)["unit"] != "mean")    # a mean's numerator is a sum of values
    small = data.ind[counted & (((data.ind.numerator > 0) & (data.ind.numerator < T)) | ((data.ind.denominator > 0) & (data.ind.denominator < T)))]
    assert small.empty, f"the cache holds a small count: {small.head()}"


def test_download_is_the_current_view(data, busy_clinic):
    app = App(data); choose_clinic(app, busy_clinic)
    t = app.views["p4p"].table
    shown_rates(app, "p4p")
    t.filter.value = "收案率"; t.sort.value = "數值"; t.desc.value = True
    view = t.view()
    assert 1 <= len(view) < len(t.df) and view.指標.str.contains("收案率").all()
    assert t.links.value == ""
    t.button.click()
    pd.testing.assert_frame_equal(read_link(t.links.value, "csv"), view.reset_index(drop=True).astype(str))
    pd.testing.assert_frame_equal(read_link(t.links.value, "xlsx"), view.reset_index(drop=True).astype(str))
    nums = pd.to_numeric(view.數值.str.rstrip("%"), errors="coerce").dropna().tolist()
    assert nums == sorted(nums, reverse=True)
    app.period.value = "2024Q2"
    assert t.links.value == "", "a stale download is removed when the view changes"


def test_survey_and_impact_views_filled(data):
    app = App(data)
    app.tabs.selected_index = 1
    sv = app.views["survey"]
    assert len(sv.likert.value) > 5000 and len(sv.items.df) >= 21 and len(sv.usage.df) >= 1
    assert "符合使用獎勵" in sv.incentive.value
    app.tabs.selected_index = 2
    iv = app.views["impact"]
    assert len(iv.table.df) >= 2 and "估計值" in iv.table.df.columns


def test_clinic_mode_only_its_clinic(data, wh, busy_clinic):
    app = App(data, mode="clinic", clinic=busy_clinic, wh=wh)
    assert [v for _, v in app.region.options] == [data.units.set_index("clinic_id").region_id[busy_clinic]]
    assert [v for _, v in app.clinic.options] == [ALL, busy_clinic] and app.unit == ("clinic", busy_clinic)
    assert "整合照護對象健康管控" in app.tabs.titles
    from famdoc_lab.lists import member_list
    app.tabs.selected_index = 1
    for j, (kind, _) in enumerate(LIST_TABS):
        app.inner["lists"].selected_index = j
        assert app.visible() == kind
        exp = member_list(wh, busy_clinic, kind, "2024-12-31", zh=True)
        assert len(app.views[kind].table.df) == len(exp)
    health = app.views["health"].table.df
    assert len(health) > 0 and health["個案代碼(假名化)"].is_unique
    other = data.units.clinic_id[data.units.clinic_id != busy_clinic].iloc[0]
    with pytest.raises(UserError): App(data, mode="clinic", clinic="no-such-clinic", wh=wh)
    assert other not in texts(app.widget)


def test_cli_checks(wh, tmp_path):
    from famdoc_lab.dashboard import cli
    from types import SimpleNamespace as NS
    a = lambda **k: NS(**{"warehouse": str(wh), "mode": "stakeholder", "clinic": None, "host": None, "port": None, "period": None, "no_browser": True, **k})
    with pytest.raises(UserError, match="--clinic"): cli(a(mode="clinic"))
    with pytest.raises(UserError, match="unknown clinic"): cli(a(mode="clinic", clinic="nope"))
    with pytest.raises(UserError, match="no warehouse"): cli(a(warehouse=str(tmp_path)))
