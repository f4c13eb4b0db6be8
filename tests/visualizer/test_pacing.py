"""FramePacer (Qt-free): frame rates from what frames cost, and when the next frame is due."""
from __future__ import annotations

import pytest

from visualizer.pacing import (CAPPED_LIGHT_INTERVAL, HEAVY_FRACTION, HEAVY_INTERVAL, LIGHT_FRACTION, LIGHT_INTERVAL,
                               FramePacer)


def test_frame_rates_follow_the_measured_costs_within_their_bounds():
    p = FramePacer()
    assert p.intervals(False) == (LIGHT_INTERVAL[0], HEAVY_INTERVAL[0])  # nothing measured yet: the fastest
    p.last_kind = "light"
    p.drawn(0.004)  # a 4 ms light frame: LIGHT_FRACTION of the time allows 1 / (0.004 / 0.05) = 12.5/s
    light, heavy = p.intervals(False)
    assert light == pytest.approx(max(LIGHT_INTERVAL[0], 0.004 / LIGHT_FRACTION))
    p.drawn(0.5)  # expensive frames (smoothed): no slower than LIGHT_INTERVAL[1]
    p.drawn(0.5)
    assert p.intervals(False)[0] == pytest.approx(LIGHT_INTERVAL[1])
    p.last_kind = "heavy"
    p.drawn(0.0075)  # 7.5 ms heavy frames: HEAVY_FRACTION of the time
    assert p.intervals(False)[1] == pytest.approx(0.0075 / HEAVY_FRACTION)
    p.drawn(1.0)
    p.drawn(1.0)
    assert p.intervals(False)[1] == pytest.approx(HEAVY_INTERVAL[1])
    assert p.intervals(True) == (CAPPED_LIGHT_INTERVAL, HEAVY_INTERVAL[0])  # a speed cap holds training back


def test_the_next_frame_is_due_one_interval_after_the_last():
    p = FramePacer()
    p.last_kind = "light"
    p.drawn(0.004)
    light = p.intervals(False)[0]
    assert p.due_in(10.0, False) <= 0  # nothing sent yet: due now
    p.sent(10.0, step=5, probe_seconds=0.001, views_seconds=0.001)  # (a heavy frame: the next is not due soon)
    assert p.due_in(10.0, False) == pytest.approx(light)
    assert p.due_in(10.0 + light / 2, False) == pytest.approx(light / 2)
    assert not p.decide(10.0 + light / 2, training=True, new_points=True, step=6, cap_binding=False).emit
    assert p.due_in(10.0 + light, False) == pytest.approx(0.0, abs=1e-12)
    assert p.decide(10.0 + light, training=True, new_points=True, step=7, cap_binding=False).emit
    assert p.due_in(10.0, True) == pytest.approx(CAPPED_LIGHT_INTERVAL)
