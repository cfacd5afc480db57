"""Validation against truth: ≥100 replications of panel-level data-generating processes that reuse the generator's own
functions and parameters (famdoc_lab.synth: first logins, effect start, persons, selection, ACSC rates, effects).
95% CI coverage must lie in 90-98% and the bias under 10% of the injected effect, for (a) the staggered event study
and (b) PSM + DiD; the naive member vs never-member comparison must be biased. Seeds are fixed, so the test is
deterministic; the Monte Carlo standard errors are in the assertion messages."""
import warnings
import numpy as np, pytest
from scipy import stats
from famdoc_lab import impact as I
from famdoc_lab.synth import EFFECTS

pytestmark = pytest.mark.slow


def test_event_study_coverage_and_bias():
    "(a) Callaway–Sant'Anna overall ATT (e ≥ 2) on 200 simulated 120-clinic panels: coverage 90-98%, bias < 10% of +0.10; pre-trend test size ≤ 10%."
    truth, out = EFFECTS["platform_fu_pp"], []
    for r in range(200):
        sim = I.simulate_clinic_panel(seed=10_000 + r)
        cells, inf = I.att_gt(sim, "fu_rate")
        agg, (est, se, df), wald = I.aggregate(cells, inf, window=[-9, 7], effect_from=EFFECTS["platform_lag_months"])
        out.append((est, se*stats.t.ppf(.975, df), wald[2]))
    a = np.array(out); bias, mcse = a[:, 0].mean() - truth, a[:, 0].std()/np.sqrt(len(a))
    cover = np.mean(np.abs(a[:, 0] - truth) < a[:, 1])
    print(f"\n(a) {len(a)} reps: coverage {cover:.3f}, bias {bias:+.4f} (MC se {mcse:.4f}), pre-trend rejections {np.mean(a[:, 2] < .05):.3f}")
    assert .90 <= cover <= .98, f"coverage {cover:.3f}"
    assert abs(bias) < .1*truth, f"bias {bias:.4f} (MC se {mcse:.4f})"
    assert np.mean(a[:, 2] < .05) <= .10, f"pre-trend test rejects {np.mean(a[:, 2] < .05):.3f} under no pre-trend"


def test_psm_did_coverage_bias_and_naive_bias():
    "(b) PSM + Poisson DiD on 100 simulated populations of 20,000 (synth's selection on age, conditions, frailty): coverage 90-98%, bias < 10% of log 0.8; the naive ratio is biased."
    warnings.simplefilter("ignore")
    rr, out = EFFECTS["acsc_rr"], []
    spec = I.get_spec("membership_acsc") | {"plot": False}
    for r in range(100):
        persons, panel = I.simulate_person_panel(seed=20_000 + r, n=20_000)
        m = I.estimate(spec, {"persons": persons, "panel": panel}).row("member")
        nv = I.naive_ratio(panel, "acsc", "2024").iloc[0]
        out.append((m.estimate, m.ci_low, m.ci_high, nv.estimate, nv.ci_low, nv.ci_high))
    a = np.array(out); lb = np.log(a[:, 0]) - np.log(rr); mcse = lb.std()/np.sqrt(len(a))
    cover = np.mean((a[:, 1] < rr) & (rr < a[:, 2]))
    naive_bias = np.log(a[:, 3]).mean() - np.log(rr); naive_cover = np.mean((a[:, 4] < rr) & (rr < a[:, 5]))
    print(f"\n(b) {len(a)} reps: coverage {cover:.3f}, mean RR {np.exp(np.log(a[:, 0]).mean()):.4f}, log bias {lb.mean():+.4f} (MC se {mcse:.4f}); "
          f"naive mean RR {np.exp(np.log(a[:, 3]).mean()):.4f}, log bias {naive_bias:+.4f}, naive coverage {naive_cover:.2f}")
    assert .90 <= cover <= .98, f"coverage {cover:.3f}"
    assert abs(lb.mean()) < .1*abs(np.log(rr)), f"log bias {lb.mean():.4f} (MC se {mcse:.4f})"
    assert naive_bias > .1*abs(np.log(rr)) + 3*np.log(a[:, 3]).std()/np.sqrt(len(a)), f"naive log bias {naive_bias:.4f}"
    assert naive_cover < cover - .1, f"naive coverage {naive_cover:.2f} vs {cover:.2f}"      # its CIs miss the truth more often
