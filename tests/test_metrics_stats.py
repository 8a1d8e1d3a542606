"""stats: empty-safe mean/median/percentile; percentile equals PostgreSQL percentile_cont."""

import random

import pytest

from devmetrics_app.metrics.calc.stats import mean, median, percentile, summarize

# Expected values printed by PostgreSQL 15:
#   select percentile_cont(f) within group (order by x) from unnest(array[...]::float8[]) x
PG_CASES = [
    ([1, 2, 3, 4, 10], 0.5, 3.0),
    ([1, 2, 3, 4, 10], 0.95, 8.799999999999999),  # pos 3.8: 4 + 6*0.8 (float rounding kept)
    ([1, 2, 3, 4, 10], 0.9, 7.6000000000000005),
    ([1, 2, 3, 4, 10], 0.25, 2.0),
    ([5], 0.95, 5.0),
    ([3, 1, 2], 0.25, 1.5),
    ([3, 1, 2], 0.95, 2.9),
    ([1.5, 2.25, 10, 7.125], 0.5, 4.6875),  # (2.25 + 7.125) / 2
    ([1.5, 2.25, 10, 7.125], 0.95, 9.568749999999998),
    ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0.95, 0.6699999999999999),
    ([2, 2, 2, 9, 1000, 13.7, 0.001, 8], 0.95, 654.7949999999995),
    ([2, 2, 2, 9, 1000, 13.7, 0.001, 8], 0.9, 309.5899999999998),
    ([2, 2, 2, 9, 1000, 13.7, 0.001, 8], 0.0, 0.001),
    ([2, 2, 2, 9, 1000, 13.7, 0.001, 8], 1.0, 1000.0),
]


@pytest.mark.parametrize(("values", "fraction", "expected"), PG_CASES)
def test_percentile_matches_postgresql_bit_for_bit(values, fraction, expected):
    assert percentile(values, fraction) == expected


def test_empty_inputs_give_none_not_zero():
    assert mean([]) is None
    assert median([]) is None
    assert percentile([], 0.95) is None
    assert summarize([]).count == 0 and summarize([]).p95 is None


def test_mean_and_median_hand_computed():
    assert mean([1, 2, 6]) == 3.0
    assert median([4, 1, 3, 2]) == 2.5  # (2 + 3) / 2
    s = summarize([1, 2, 3, 4, 10])
    assert (s.count, s.average, s.median, s.p95) == (5, 4.0, 3.0, 8.799999999999999)


def test_invalid_fraction_and_nan_rejected():
    with pytest.raises(ValueError):
        percentile([1, 2], 1.5)
    with pytest.raises(ValueError):
        percentile([1, float("nan")], 0.5)


def test_percentile_properties_on_generated_lists():
    rng = random.Random(2024)
    for _ in range(300):
        values = [rng.uniform(-100, 100) for _ in range(rng.randint(1, 30))]
        lo, hi = min(values), max(values)
        assert percentile(values, 0.0) == lo and percentile(values, 1.0) == hi
        previous = lo
        for step in range(1, 21):  # monotone in the fraction and within [min, max]
            current = percentile(values, step / 20)
            assert lo <= current <= hi
            assert current >= previous - 1e-9
            previous = current
        shuffled = values[:]
        rng.shuffle(shuffled)
        assert percentile(shuffled, 0.95) == percentile(values, 0.95)  # order-independent
