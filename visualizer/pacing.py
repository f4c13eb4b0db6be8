"""When to send the GUI a frame: the frame-pacing policy, on its own (no Qt, no model).

Two kinds of frame:

* *light* — new metric points only (the loss curve, the step counter), 4–11 times a second (20 under a
  speed cap);
* *heavy* — also a fresh probe and/or views (heatmaps, inspector, samples), every 1.5 s to 8 times a second.

Both rates adapt to what each kind of frame costs the GUI thread (:meth:`FramePacer.drawn`: the
worker reads the GUI thread's CPU clock, so a frame's cost is all the GUI did until the next one,
repaints and timers included), so that at full speed the GUI takes a bounded share (at most ~6%; about 5%
in practice: light frames of ~4 ms stop at 11 a second, heavy ones of ~10 ms come every 1.3-1.5 s) of the
CPU: a CPU-millisecond the GUI spends is one the process does not train. An expensive probe or views
computation is asked for less often (each at most ~0.35% of the training time). With the run loop's own
share (keyframes 1%, snapshots and history ~0.5%), this is what the open window costs training (README,
Performance, has the measured share). When a speed cap holds training back (the window's
default), drawing costs no training and frames come at the fastest rates.
"""
from __future__ import annotations

from dataclasses import dataclass

LIGHT_INTERVAL = (1 / 11, 1 / 4)  # metric-only frames at full speed: 4..11 Hz (faster costs training, shows nothing more)
CAPPED_LIGHT_INTERVAL = 1 / 20  # ... and 20 Hz when a speed cap holds training back (drawing then costs no training)
HEAVY_INTERVAL = (1 / 8, 1.5)  # frames with a probe and/or views: every 1.5 s (at full speed) .. 8 Hz
LIGHT_FRACTION = 0.05  # share of the time the GUI may spend drawing light frames (up to ~4.5 ms a frame: 11/s)
HEAVY_FRACTION = 0.0075  # ... and heavy ones (~10 ms: every 1.3 s); the worker's probe and views ~0.35% each
VIEWS_INTERVAL = 0.5  # views (samples, forecasts) at most twice a second
COST_FRACTION = 0.0035  # computing the probe, and the views, each take at most ~0.35% of the training time (char-lm's
# samples, ~9 ms: every ~2.6 s at full speed)
CAPPED_FRACTION = 0.5  # when a speed cap holds training back, drawing may use half the time


@dataclass(frozen=True)
class Decision:
    """Whether to send a frame now, and whether it carries a fresh probe / fresh views."""

    emit: bool
    probe: bool = False
    views: bool = False


class FramePacer:
    """Decides when frames go out; told what they cost (GUI drawing, probe, views)."""

    def __init__(self) -> None:
        self.gui_cost = {"light": 0.0, "heavy": 0.0}  # GUI CPU seconds per frame of each kind (smoothed)
        self.last_kind = "heavy"
        self._last_emit = -1e9
        self._last_heavy = -1e9
        self._last_probe = -1e9
        self._last_views = -1e9
        self._probe_step = -1
        self.probe_cost = 0.0
        self.views_cost = 0.0

    def intervals(self, cap_binding: bool) -> tuple[float, float]:
        """(light, heavy) frame intervals in seconds from the GUI's measured costs."""
        if cap_binding:
            return CAPPED_LIGHT_INTERVAL, HEAVY_INTERVAL[0]
        light = min(max(LIGHT_INTERVAL[0], self.gui_cost["light"] / LIGHT_FRACTION), LIGHT_INTERVAL[1])
        heavy = min(max(HEAVY_INTERVAL[0], self.gui_cost["heavy"] / HEAVY_FRACTION), HEAVY_INTERVAL[1])
        return light, heavy

    def due_in(self, now: float, cap_binding: bool) -> float:
        """Seconds until the next light frame is due (<= 0: now). The worker ends its training chunk then, so
        frames come at the rate chosen, not up to a chunk late."""
        return self._last_emit + self.intervals(cap_binding)[0] - now

    def decide(self, now: float, *, training: bool, new_points: bool, step: int, cap_binding: bool,
               forced: bool = False) -> Decision:
        """What to send at time ``now``. ``forced``: a command asked for a fresh probe/views."""
        light, heavy = self.intervals(cap_binding)
        probe = views = False
        if (training or new_points) and now - self._last_heavy >= heavy:
            frac = CAPPED_FRACTION if cap_binding else COST_FRACTION
            probe = step != self._probe_step and now - self._last_probe >= self.probe_cost / frac
            views = now - self._last_views >= max(VIEWS_INTERVAL, self.views_cost / frac)
        emit = forced or probe or views or (new_points and now - self._last_emit >= light)
        return Decision(emit, probe, views)

    def sent(self, now: float, *, step: int, probe_seconds: float | None, views_seconds: float | None) -> None:
        """A frame went out at ``now``; ``*_seconds``: what computing its probe / views cost (None: none)."""
        heavy = probe_seconds is not None or views_seconds is not None
        self.last_kind = "heavy" if heavy else "light"
        self._last_emit = now
        if heavy:
            self._last_heavy = now
        if probe_seconds is not None:
            self.probe_cost, self._last_probe, self._probe_step = probe_seconds, now, step
        if views_seconds is not None:
            self.views_cost, self._last_views = views_seconds, now

    def drawn(self, gui_cpu: float) -> None:
        """The GUI reports the CPU seconds the last frame cost it."""
        old = self.gui_cost[self.last_kind]
        self.gui_cost[self.last_kind] = float(gui_cpu) if old == 0.0 else 0.5 * old + 0.5 * float(gui_cpu)
