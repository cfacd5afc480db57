"Suppression on larger random long tables: no visible small count, rates hidden with their counts."
import numpy as np, pandas as pd, pytest
from famdoc_lab.privacy import suppress

@pytest.mark.parametrize("seed", range(5))
def test_no_small_count_visible(seed):
    rng = np.random.default_rng(seed)
    n = 400
    den = rng.integers(0, 40, n); num = np.minimum(den, rng.poisson(5, n))
    df = pd.DataFrame({"indicator_id": rng.choice(["a", "b"], n), "period": "2024", "parent": rng.choice(list("wxyz"), n),
                       "numerator": num, "denominator": den, "rate": num / np.maximum(den, 1)})
    s = suppress(df, 3, group_cols=("indicator_id", "period", "parent"))
    assert not (s.numerator < 3).any() and not (s.denominator < 3).any()
    assert not ((s.denominator - s.numerator) < 3).any()
    assert s.loc[s.suppressed, "rate"].isna().all()
    for _, g in s.groupby(["indicator_id", "period", "parent"]):   # never exactly one hidden cell per group, hidden sums ≥ 3
        h = g.numerator.isna()
        assert h.sum() != 1 or len(g) == 1
        orig = df.loc[g.index]
        assert h.sum() == 0 or orig.numerator[h].sum() >= 3 or h.all()
