"""Bounded metric history: order, decimation by averaging, flat memory, incremental reads, persistence."""
import numpy as np
import pytest

from core.history import MetricHistory, Series


def test_small_series_keeps_every_point_in_order():
    s = Series()
    for i in range(100):
        s.append(i, i * 0.5)
    steps, values = s.arrays()
    np.testing.assert_array_equal(steps, np.arange(100))
    np.testing.assert_array_equal(values, np.arange(100) * 0.5)
    assert s.last() == (99.0, 49.5)
    assert s.count == 100


def test_ten_million_points_memory_stays_flat_and_ends_are_kept():
    s = Series(recent=2048, level_size=1024, max_levels=20)
    n, chunk = 10_000_000, 100_000
    sizes = []
    for start in range(0, n, chunk):
        st = np.arange(start, start + chunk, dtype=np.float64)
        s.extend(st, 3.0 * st + 1.0)  # linear: any average of points lies on the same line
        sizes.append(len(s))
    bound = 1 + 2 * 2048 + 20 * 1025
    assert max(sizes) <= bound
    assert sizes[-1] - sizes[len(sizes) // 2] < 2 * 1024  # grows at most by ~one level per doubling
    steps, values = s.arrays()
    assert steps[0] == 0 and steps[-1] == n - 1
    assert np.all(np.diff(steps) > 0)
    np.testing.assert_allclose(values, 3.0 * steps + 1.0, rtol=1e-12)  # decimation averages steps and values
    assert s.count == n
    # the recent points are still at full resolution
    np.testing.assert_array_equal(steps[-2048:], np.arange(n - 2048, n))


def test_cheap_appends_stay_bounded_ordered_and_exact_on_linear_data():
    s = Series(recent=64, level_size=32, max_levels=4)
    for i in range(200_000):
        s.append(i, 2.0 * i - 5.0)
        if i % 50_000 == 0:
            assert len(s) <= 1 + 2 * 64 + 4 * 33 + 1024
    steps, values = s.arrays()
    assert len(s) <= 1 + 2 * 64 + 4 * 33 + 1024
    assert steps[0] == 0 and steps[-1] == 199_999
    assert np.all(np.diff(steps) > 0)
    np.testing.assert_allclose(values, 2.0 * steps - 5.0, rtol=1e-12)


def test_since_returns_only_newer_points_for_incremental_updates():
    s = Series(recent=16, level_size=8, max_levels=3)
    seen_steps = []
    last = -1.0
    for i in range(200):
        s.append(i, float(i))
        if i % 7 == 0:
            st, _ = s.since(last)
            seen_steps.extend(st.tolist())
            if st.size:
                last = st[-1]
    st, _ = s.since(last)
    seen_steps.extend(st.tolist())
    assert seen_steps == list(range(200))  # polled often enough: every point exactly once
    st, vals = s.since(195)
    np.testing.assert_array_equal(st, [196, 197, 198, 199])
    assert s.since(1e9)[0].size == 0


def test_extend_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="steps has 3 entries but values has 2"):
        Series().extend([1, 2, 3], [1.0, 2.0])


def test_state_round_trip_is_exact_and_continues_identically():
    a = Series(recent=32, level_size=16, max_levels=3)
    a.extend(np.arange(5000), np.sin(np.arange(5000)))
    b = Series.from_state(a.state())
    for s in (a, b):
        s.extend(np.arange(5000, 6000), np.cos(np.arange(5000, 6000)))
    for x, y in zip(a.arrays(), b.arrays()):
        np.testing.assert_array_equal(x, y)
    assert b.count == a.count == 6000


def test_metric_history_records_names_since_and_round_trips():
    h = MetricHistory()
    for step in range(1, 51):
        h.record(step, {"loss": 1.0 / step})
        if step % 10 == 0:
            h.record(step, {"accuracy": step / 50})
    assert h.names() == ["loss", "accuracy"]
    assert h.last("accuracy") == 1.0 and h.last("missing") is None
    new = h.since(40)
    np.testing.assert_array_equal(new["loss"][0], np.arange(41, 51))
    np.testing.assert_array_equal(new["accuracy"][0], [50])
    assert set(h.since(50)) == set()
    arrays = h.to_arrays()
    assert all(k.startswith("history/") for k in arrays)
    h2 = MetricHistory.from_arrays(arrays)
    for name in h.names():
        for x, y in zip(h.arrays(name), h2.arrays(name)):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="malformed metric history"):
        MetricHistory.from_arrays({"history/loss/recent": np.zeros(3)})


def test_len_counts_the_stored_points_through_compactions_and_a_reload():
    """len() (asked by the live view every frame, kept without recounting the levels) is always the number
    of points arrays() returns: after appends, extends, compactions cascading through the levels, and a reload."""
    rng = np.random.default_rng(4)
    s = Series(recent=16, level_size=8, max_levels=3, pending=5)
    step = 0
    for i in range(300):
        if i % 3:
            step += 1
            s.append(step, float(rng.random()))
        else:
            k = int(rng.integers(1, 40))
            s.extend(np.arange(step + 1, step + k + 1), rng.random(k))
            step += k
        n = s.arrays()[0].size  # (arrays() first folds the pending appends in, which may compact them)
        assert len(s) == n
    back = Series.from_state(s.state())
    assert len(back) == back.arrays()[0].size == len(s)
    back.extend(np.arange(step + 1, step + 50), rng.random(49))
    n = back.arrays()[0].size
    assert len(back) == n
