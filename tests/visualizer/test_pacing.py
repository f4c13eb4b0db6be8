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


def _simulate(light_cost: float, heavy_cost: float, probe_cost: float, views_cost: float,
              seconds: float = 60.0) -> dict[str, float]:
    """A run at full speed under the pacer on a simulated clock (1 ms training chunks): frames per second
    and the share of the time that frames take (the GUI's drawing plus the worker's probes and views)."""
    p = FramePacer()
    now, cost, light, heavy, step = 0.0, 0.0, 0, 0, 0
    while now < seconds:
        now += 0.001
        step += 1
        d = p.decide(now, training=True, new_points=True, step=step, cap_binding=False)
        if not d.emit:
            continue
        p.sent(now, step=step, probe_seconds=probe_cost if d.probe else None,
               views_seconds=views_cost if d.views else None)
        gui = heavy_cost if p.last_kind == "heavy" else light_cost
        p.drawn(gui)
        cost += gui + (probe_cost if d.probe else 0.0) + (views_cost if d.views else 0.0)
        heavy += p.last_kind == "heavy"
        light += p.last_kind == "light"
    return {"fps": (light + heavy) / seconds, "heavy_fps": heavy / seconds, "share": cost / seconds}


@pytest.mark.parametrize("costs", [
    (0.004, 0.010, 0.0003, 0.0032),  # binary-addition in the window (GUI light / heavy frame; probe; views)
    (0.003, 0.020, 0.0010, 0.0090),  # char-lm lstm: heavy frames redraw samples, heatmap and inspector
], ids=["binary-addition", "char-lm"])
def test_at_full_speed_frames_take_at_most_5_3_percent_of_the_time_and_the_loss_curve_keeps_ten_frames_a_second(costs):
    # The budget behind "the window trains at >= 90% of headless per CPU-second": the run loop's keyframes
    # and snapshots take ~1.5% besides, and the host's noise needs a margin. (With heavy frames at least
    # once a second and probes and views at 0.5% each, these frames took 5.35% and 5.55%.)
    r = _simulate(*costs)
    assert r["share"] <= 0.053
    assert r["fps"] >= 10.0
    assert r["heavy_fps"] >= 1 / HEAVY_INTERVAL[1] - 0.02  # the heatmaps and samples still move at full speed
