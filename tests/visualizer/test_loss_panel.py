"""LossPanel: curves from the hub's history, smoothing, markers, bounded drawing."""
from __future__ import annotations

import numpy as np
import pytest

from core.probe import Snapshot
from core.views import describe, metric_table
from fakes import FakeExperiment, fake_spec
from visualizer.panels.loss import LossPanel, ema
from visualizer.session import TrainingSession


@pytest.fixture
def hub(app_setup):
    return TrainingSession(fake_spec(), start=False)  # a real hub without a worker: snapshots fed by hand


@pytest.fixture
def panel(qtbot, hub):
    p = LossPanel(hub)
    qtbot.addWidget(p)
    p.resize(700, 500)
    p.show()
    qtbot.waitExposed(p)
    return p


def feed(hub, seq, metrics):
    arrays = {k: (np.asarray(s, dtype=np.int64), np.asarray(v, dtype=np.float64)) for k, (s, v) in metrics.items()}
    step = max(int(s[-1]) for s, _ in arrays.values())
    hub._on_worker_snapshot(Snapshot(seq, step, arrays))


def test_ema_matches_the_recurrence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    for alpha in (0.0, 0.5, 0.9, 0.99):
        want = np.empty_like(x)
        y = x[0]
        for i, v in enumerate(x):
            y = alpha * y + (1 - alpha) * v
            want[i] = y
        np.testing.assert_allclose(ema(x, alpha), want if alpha > 0 else x, rtol=1e-10, atol=1e-12)


def test_a_snapshot_changes_the_panel(panel, hub):
    assert panel.drawn_points() == {}
    feed(hub, 1, {"loss": ([1, 2, 3], [3.0, 2.0, 1.5])})
    assert panel.drawn_points() == {"loss": 3}
    feed(hub, 2, {"loss": ([4, 5], [1.2, 1.0]), "val_loss": ([5], [1.4])})
    assert panel.drawn_points() == {"loss": 5, "val_loss": 1}
    x, y = panel._curves["loss"].smooth.getOriginalDataset()
    assert list(x) == [1, 2, 3, 4, 5] and y[-1] < y[0]


def test_other_metrics_go_to_the_second_plot(panel, hub):
    feed(hub, 1, {"loss": ([1], [1.0])})
    assert not panel.metric_plot.isVisible()
    feed(hub, 2, {"accuracy": ([2], [0.5])})
    assert panel.metric_plot.isVisible()
    assert panel._curves["accuracy"].smooth in panel.metric_plot.items
    assert panel._curves["loss"].smooth in panel.loss_plot.items


def test_a_million_points_draw_bounded(panel, hub):
    steps = np.arange(1, 1_000_001)
    hub.history.series("loss").extend(steps, 1.0 / steps)
    feed(hub, 1, {"loss": ([1_000_001], [1e-6])})
    n = panel.drawn_points()["loss"]
    assert 100 < n <= len(hub.history.series("loss")) < 40_000  # what core's bounded history holds
    x, _ = panel._curves["loss"].smooth.getOriginalDataset()
    assert x[0] < 1000 and x[-1] == 1_000_001  # the whole run is still represented
    curve = panel._curves["loss"].smooth  # what is painted: the points in view, peak-decimated to the width
    panel.graphics.grab()
    columns = int(curve.getViewBox().width())
    assert 100 < curve.painted_points <= 2 * columns + 2


def test_peak_bins_keep_spikes_and_fold_points_in_as_they_come():
    from visualizer.panels.loss import PeakBins

    x = np.arange(100_000, dtype=float)
    y = np.zeros_like(x)
    y[12_345] = 9.0  # one spike
    y[40_000] = -3.0
    whole = PeakBins(10_000.0, 60_000.0, 200)
    whole.add(x, y)
    xd, yd = whole.points()
    assert xd.size <= 2 * 200 + 2 and yd.max() == 9.0 and yd.min() == -3.0
    assert xd[0] == 9_999 and xd[-1] == 60_001 and np.all(np.diff(xd) >= 0)  # the neighbours outside
    assert whole.count == 50_001
    parts = PeakBins(10_000.0, 60_000.0, 200)  # the same points in frames of uneven sizes
    for lo, hi in ((0, 7), (7, 12_346), (12_346, 12_400), (12_400, 59_999), (59_999, 100_000)):
        parts.add(x[lo:hi], y[lo:hi])
    np.testing.assert_array_equal(parts.points()[0], xd)
    np.testing.assert_array_equal(parts.points()[1], yd)


@pytest.mark.parametrize("seed", range(6))
def test_peak_bins_strips_match_a_brute_force_fold(seed):
    """Any chunking of the points and any strip window: each filled column's first x, min and max, and the
    nearest filled column (or the neighbour outside the range) on each side of the window, as a brute
    force computes them; sparse data leaves empty columns between filled ones."""
    from visualizer.panels.loss import PeakBins

    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    x = np.cumsum(rng.exponential(rng.choice([0.2, 3.0, 40.0]), n)) + rng.uniform(-200, 100)
    y = rng.normal(size=n)
    x0, x1, cols = 0.0, float(rng.uniform(200, 3000)), int(rng.integers(20, 300))
    bins = PeakBins(x0, x1, cols)
    cuts = np.unique(np.r_[0, np.sort(rng.integers(0, n, 6)), n])
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        bins.add(x[lo:hi], y[lo:hi])
    inside = (x >= x0) & (x <= x1)
    k = np.minimum(((x[inside] - x0) * cols / (x1 - x0)).astype(int), cols - 1)
    filled = sorted(set(k.tolist()))
    width = (x1 - x0) / cols
    windows = [sorted(rng.uniform(x0 - 50, x1 + 50, 2)) for _ in range(20)]
    windows += [(x0 + (c - 3.5) * width, x0 + (c - 0.5) * width) for c in filled[-3:]]  # ending at the last columns
    for wa, wb in windows:
        a = max(min(int((wa - x0) * cols / (x1 - x0)), cols), 0) if wa > x0 else 0
        b = min(max(int((wb - x0) * cols / (x1 - x0)) + 1, a), cols) if wb < x1 else cols
        if a > 0:
            a = max([c for c in filled if c < a], default=0)
        if b < cols:
            after = [c for c in filled if c >= b]
            b = after[0] + 1 if after else cols
        want_x, want_y = [], []
        for c in filled:
            if a <= c < b:
                sel = k == c
                want_x += [x[inside][sel][0]] * 2
                want_y += [y[inside][sel].min(), y[inside][sel].max()]
        left, right = x[x < x0], x[x > x1]
        if a == 0 and left.size:
            want_x, want_y = [left[-1]] + want_x, [y[x < x0][-1]] + want_y
        if b == cols and right.size:
            want_x, want_y = want_x + [right[0]], want_y + [y[x > x1][0]]
        got_x, got_y = bins.points(wa, wb)
        np.testing.assert_array_equal(got_x, want_x)
        np.testing.assert_array_equal(got_y, want_y)


def test_a_live_curve_draws_appended_points_as_a_full_redraw_would(panel, hub):
    rng = np.random.default_rng(3)
    steps = np.arange(1, 20_001)
    values = 1.0 / np.sqrt(steps) + 0.1 * rng.random(steps.size)
    for seq, lo in enumerate(range(0, 20_000, 2_000), start=1):
        feed(hub, seq, {"loss": (steps[lo:lo + 2_000], values[lo:lo + 2_000])})
        panel.graphics.grab()  # painted frame by frame: the new points folded in
    c = panel._curves["loss"].smooth
    inc = [a.copy() for a in c._points]
    c._bins = None  # fold everything again
    c._version += 1
    panel.graphics.grab()
    assert c.painted_points == inc[0].size <= 2 * int(c.getViewBox().width()) + 2
    np.testing.assert_allclose(c._points[0], inc[0])
    np.testing.assert_allclose(c._points[1], inc[1], rtol=1e-12)


def test_smoothing_draws_raw_faintly_under_the_smoothed_curve(panel, hub):
    rng = np.random.default_rng(1)
    s = np.arange(1, 501)
    feed(hub, 1, {"loss": (s, 1 + rng.normal(size=500))})
    c = panel._curves["loss"]
    raw = c.raw.getOriginalDataset()[1]
    smooth = c.smooth.getOriginalDataset()[1]
    assert c.raw.isVisible() and np.std(smooth) < 0.5 * np.std(raw)
    panel.smooth_slider.setValue(0)
    assert not c.raw.isVisible()
    np.testing.assert_allclose(c.smooth.getOriginalDataset()[1], raw)


def test_log_toggle(panel):
    panel.log_check.setChecked(True)
    assert panel.loss_plot.getAxis("left").logMode
    panel.log_check.setChecked(False)
    assert not panel.loss_plot.getAxis("left").logMode


def test_live_changes_are_marked_and_reset_clears(panel, hub):
    feed(hub, 1, {"loss": ([1, 2], [1.0, 0.9])})
    hub.live_param_changed.emit("learning_rate", 0.03, 2)
    assert len(panel.markers) == 1
    assert panel.markers[0].value() == 2
    assert panel.markers[0].label.textItem.toPlainText() == "learning_rate=0.03"
    hub._on_worker_replaced(hub.spec, None)  # a new run: empty history, metrics_reset
    assert panel.markers == [] and panel.drawn_points() == {}


def test_crosshair_readout(panel, hub):
    feed(hub, 1, {"loss": ([1, 2, 3], [3.0, 2.0, 1.0])})
    panel.smooth_slider.setValue(0)
    text = panel.show_readout(2.2)
    assert "step 2" in text and "loss 2" in text


def test_hidden_panel_does_no_work(panel, hub, qtbot):
    feed(hub, 1, {"loss": ([1], [1.0])})
    panel.hide()
    feed(hub, 2, {"loss": ([2, 3], [0.9, 0.8])})
    assert panel.drawn_points() == {"loss": 1}  # not redrawn while hidden
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.drawn_points() == {"loss": 3}


def test_a_loss_on_another_scale_gets_the_second_plot(panel, hub):
    feed(hub, 1, {"loss": ([1, 2], [4.2, 4.1]), "smooth_loss": ([1, 2], [150.0, 149.0]),
                  "val_loss": ([2], [4.3])})
    assert panel._curves["val_loss"].plot is panel.loss_plot
    assert panel._curves["smooth_loss"].plot is panel.metric_plot  # would flatten the mean loss


def test_autoscale_keeps_the_run_in_view_until_the_user_zooms(panel, hub):
    feed(hub, 1, {"loss": (np.arange(1, 101), np.linspace(3.0, 1.0, 100))})
    vb = panel.loss_plot.getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 <= 1 and x1 >= 100 and y0 <= 1.0 and y1 >= 3.0
    feed(hub, 2, {"loss": (np.arange(101, 104), [1.0, 1.0, 1.0])})
    assert vb.viewRange()[0] == [x0, x1]  # small growth: the axes stay put (cheap to paint)
    feed(hub, 3, {"loss": (np.arange(104, 401), np.full(297, 0.5))})
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x1 >= 400 and y0 <= 0.5
    vb.sigRangeChangedManually.emit([True, True])  # the user zooms/pans
    assert not panel.follow_check.isChecked()
    feed(hub, 4, {"loss": (np.arange(401, 2001), np.full(1600, 0.2))})
    assert vb.viewRange()[0][1] < 2000  # the view is left alone
    panel.follow_check.setChecked(True)
    assert vb.viewRange()[0][1] >= 2000


def test_incremental_updates_equal_a_full_rebuild(panel, hub):
    rng = np.random.default_rng(2)
    steps = np.arange(1, 451)
    values = 2.0 + rng.normal(size=450)
    for seq, lo in enumerate(range(0, 450, 50), start=1):  # nine frames of new points
        feed(hub, seq, {"loss": (steps[lo:lo + 50], values[lo:lo + 50])})
    x_inc, y_inc = panel._curves["loss"].smooth.getOriginalDataset()
    raw_inc = panel._curves["loss"].raw.getOriginalDataset()[1]
    c = panel._curves["loss"]
    assert c.y[-1] == pytest.approx(ema(values, panel.alpha)[-1])  # the EMA state continues across frames
    panel.redraw()  # rebuild from the history in one go
    x_full, y_full = c.smooth.getOriginalDataset()
    np.testing.assert_allclose(x_inc, x_full)
    np.testing.assert_allclose(y_inc, y_full, rtol=1e-9)
    np.testing.assert_allclose(raw_inc, c.raw.getOriginalDataset()[1], rtol=1e-9)
    np.testing.assert_allclose(y_full, ema(values, panel.alpha), rtol=1e-9)  # unbinned: the EMA itself


def test_curve_follows_the_bounded_history_over_many_frames(panel, hub):
    for seq in range(1, 41):  # 40 frames x 2000 points: core's history averages the older ones
        s = np.arange((seq - 1) * 2000 + 1, seq * 2000 + 1)
        feed(hub, seq, {"loss": (s, 1.0 / s)})
    x, y = panel._curves["loss"].smooth.getOriginalDataset()
    assert x.size <= 2 * len(hub.history.series("loss")) and x[0] == 1 and x[-1] == 80_000
    assert x.size < 40_000 and np.all(np.diff(x) > 0)


def test_metric_groups_come_from_the_declarations():
    table = metric_table(FakeExperiment.metrics)
    assert describe("loss", table).group == describe("val_loss", table).group == "loss"
    assert describe("bigram_val_loss", table).baseline_of == "val_loss"
    assert describe("accuracy", table).group == "quality" and describe("accuracy", table).direction == "higher"
    assert describe("eval_accuracy", table).group == "quality"  # a renamed evaluation metric reads as its base
    for name in ("grad_norm", "smooth_loss", "some_new_metric"):  # declared diagnostics, and anything undeclared
        assert describe(name, table).group == "diagnostic", name


def test_a_baseline_is_dashed(panel, hub):
    feed(hub, 1, {"val_loss": ([1], [2.0]), "bigram_val_loss": ([1], [2.5])})
    from PySide6 import QtCore

    assert panel._curves["bigram_val_loss"].smooth.opts["pen"].style() == QtCore.Qt.PenStyle.DashLine
    assert panel._curves["val_loss"].smooth.opts["pen"].style() == QtCore.Qt.PenStyle.SolidLine


def test_diagnostics_start_hidden_and_toggle(panel, hub):
    feed(hub, 1, {"loss": ([1, 2], [4.2, 4.1]), "smooth_loss": ([1, 2], [150.0, 149.0]),
                  "grad_norm": ([1, 2], [1.0, 0.9]), "val_perplexity": ([2], [5.0])})
    assert panel._curves["val_perplexity"].plot is panel.metric_plot
    assert set(panel.visible_series()) == {"loss", "val_perplexity"}
    assert not panel._curves["grad_norm"].smooth.isVisible()
    assert panel.metric_plot.getAxis("left").labelText == "perplexity"
    panel.series_actions["grad_norm"].setChecked(True)  # the "series" menu
    assert panel._curves["grad_norm"].smooth.isVisible() and "grad_norm" in panel.visible_series()
    assert panel.metric_plot.getAxis("left").labelText == "metric value"
    # (issue 9: the legend is a strip of clickable names above the plots; a hidden series stays listed)
    panel.legend.entry("grad_norm").click()  # clicking the legend entry hides it again
    assert not panel._curves["grad_norm"].smooth.isVisible() and not panel._curves["grad_norm"].raw.isVisible()
    assert not panel.series_actions["grad_norm"].isChecked()
    assert "grad_norm" not in panel.show_readout(2)
    assert "grad_norm" in panel.legend.keys() and not panel.legend.entry("grad_norm").isChecked()
    panel.legend.entry("grad_norm").click()  # ... and back
    assert panel._curves["grad_norm"].smooth.isVisible()



def test_evaluation_metrics_draw_with_markers(panel, hub):
    feed(hub, 1, {"loss": (np.arange(1, 201), np.linspace(2, 1, 200)), "accuracy": ([100, 200], [0.4, 0.7])})
    assert panel._curves["accuracy"].smooth.opts["symbol"] == "o"
    assert panel._curves["loss"].smooth.opts["symbol"] is None
    feed(hub, 2, {"val_loss": ([200], [1.3])})  # a single point is visible too
    assert panel._curves["val_loss"].drawn_points() == 1


def test_log_y_applies_to_the_loss_plot_only(panel, hub):
    # (issue 9 item 17: "log y" used to apply to the accuracy plot too)
    feed(hub, 1, {"loss": ([1, 2], [1.0, 0.5]), "accuracy": ([2], [0.5])})
    panel.log_check.setChecked(True)
    assert panel.loss_plot.getAxis("left").logMode
    assert not panel.metric_plot.getAxis("left").logMode


@pytest.mark.parametrize("y", [[1.0, 0.1, 10.0], [1.0, 0.0, -2.0, np.nan, 100.0], [np.nan, 0.5], [-np.inf, 1.0]])
def test_a_log_y_line_draws_log10_of_its_positive_values_only(qapp, y):
    import pyqtgraph as pg

    from visualizer.panels.loss import LiveCurve

    curve = LiveCurve(pg.mkPen("#ff9f1c", width=2))
    curve.setLogMode(False, True)
    y = np.array(y)
    got = curve._y(y)
    ok = y > 0
    assert np.allclose(got[ok], np.log10(y[ok]))
    assert np.isnan(got[~ok]).all()  # zero, negative, NaN: a gap in the line, never -inf or a warning


def test_axis_ticks_are_never_closer_than_their_labels(panel):
    from PySide6 import QtGui

    bottom, left = panel.loss_plot.getAxis("bottom"), panel.loss_plot.getAxis("left")
    fm = QtGui.QFontMetricsF(bottom.style["tickFont"] or bottom.font())
    major = bottom.tickSpacing(0, 1000, 120)[0][0]  # a narrow plot (720p): "200400600800" before
    assert major / 1000 * 120 >= fm.horizontalAdvance("1000")
    major = left.tickSpacing(0.0, 4.0, 60)[0][0]  # a short one: the labels 1, 2, 3, 4 overlapped
    assert major / 4.0 * 60 >= fm.height()
    panel.log_check.setChecked(True)
    spacing = [lv[0] for lv in left.tickSpacing(-3.0, 0.0, 60)]  # log axis: whole decades only
    assert spacing and all(float(s).is_integer() for s in spacing)
    panel.log_check.setChecked(False)
    assert left.tickSpacing(0.0, 4.0, 600)[0] == pg_levels(left, 0.0, 4.0, 600)[0]  # tall plots: pyqtgraph's major


def pg_levels(axis, lo, hi, size):
    import pyqtgraph as pg

    return pg.AxisItem.tickSpacing(axis, lo, hi, size)


@pytest.mark.parametrize("n", [300, 20_000])  # as they are (< 2 per pixel column), and peak-decimated
@pytest.mark.parametrize("far", [False, True])  # the repaint is the new strip alone, or with a strip far from it
def test_a_live_curve_repainting_only_new_strips_draws_what_a_full_redraw_draws(qtbot, n, far):
    """Appended points repaint a strip of the plot only (LiveCurve.update(strip)): the pixels built up
    strip by strip, as Qt paints them (cleared and clipped to the repainted region, the item told its
    bounding rect in exposedRect and the view keeping the region: RegionView), equal one full paint.
    ``far``: the region also holds a strip at the plot's left (as when a plot beside it repaints too):
    both are redrawn, not the whole width between them."""
    import types

    import pyqtgraph as pg
    from PySide6 import QtCore, QtGui, QtWidgets

    from visualizer.panels.loss import LiveCurve

    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(640, 360)
    w.show()
    qtbot.waitExposed(w)
    w.setXRange(0, n * 1.2, padding=0)
    w.setYRange(-0.2, 1.4, padding=0)
    curve = LiveCurve(pg.mkPen("#ff9f1c", width=2))
    w.addItem(curve)
    rng = np.random.default_rng(5)
    x = np.arange(1.0, n + 1)
    y = 1.0 / np.sqrt(x) + 0.2 * rng.random(n)
    y[n // 3] = 1.3  # a spike

    def paint(image, rects=()):
        w.scene().prepareForPaint()  # (as GraphicsView.paintEvent does: the view's transform is set lazily)
        p = QtGui.QPainter(image)
        t = curve.deviceTransform(w.viewportTransform())
        opt = QtWidgets.QStyleOptionGraphicsItem()
        widget = None
        if rects:  # Qt repaints a region: its device pixels, cleared, then clipped to them
            region = QtGui.QRegion()
            for r in rects:
                region = region.united(t.mapRect(r).toAlignedRect())
            bound = QtCore.QRectF(region.boundingRect())
            opt.exposedRect = t.inverted()[0].mapRect(bound) & curve.boundingRect()
            view = types.SimpleNamespace(paint_region=region, region_strips={})  # (a RegionView repainting)
            widget = types.SimpleNamespace(parent=lambda: view)
            p.setClipRegion(region)
            p.setCompositionMode(QtGui.QPainter.CompositionMode.CompositionMode_Source)
            p.fillRect(bound, QtCore.Qt.GlobalColor.transparent)
            p.setCompositionMode(QtGui.QPainter.CompositionMode.CompositionMode_SourceOver)
        else:
            opt.exposedRect = curve.boundingRect()
        p.setTransform(t)
        curve.paint(p, opt, widget)
        p.end()

    size = w.viewport().size()
    built = QtGui.QImage(size, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    built.fill(0)
    cuts = [0, 7, n // 10, n // 3 + 1, n // 2, n - 13, n]
    strips = 0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        before = curve.strip_updates
        curve.setData(x[:hi], y[:hi], appended=hi - lo if lo else None)
        if curve.strip_updates > before:  # what Qt repaints: the strip from the last old point to the newest
            strips += 1
            strip = curve._strip(float(x[lo - 1]), float(x[hi - 1]))
            assert strip.width() < 0.5 * curve.boundingRect().width()
            rects = [strip]
            if far:
                rects.append(curve._strip(x[0], x[2]))
            paint(built, rects)
        else:
            built.fill(0)
            paint(built)
    assert strips == len(cuts) - 2  # every frame after the first was a strip
    assert curve.strip_paints == strips  # ... drawn as strips, not as the whole plot clipped
    # a strip past the line's end (another curve's new points): nothing of this line to draw there
    paint(built, [curve._strip(n * 1.1, n * 1.15)])
    assert curve.strip_paints == strips + 1
    whole = QtGui.QImage(size, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    whole.fill(0)
    curve._bins = None  # fold everything again, one full paint
    curve._version += 1
    paint(whole)
    assert whole == built
    assert not QtGui.QImage(size, QtGui.QImage.Format.Format_ARGB32_Premultiplied) == whole  # (something drawn)


def test_a_history_compaction_does_not_repaint_the_plot(panel, hub, qtbot):
    """When core's history averages older points, the curve takes its coarser arrays, keeps what it has
    drawn (the fold of the full-resolution points) and repaints only the new points' strip, not the plot."""
    panel.follow_check.setChecked(False)  # a fixed view: nothing else refolds the curve
    vb = panel.loss_plot.getViewBox()
    vb.setXRange(0, 60_000, padding=0)
    vb.setYRange(0, 1.2, padding=0)
    rng = np.random.default_rng(3)
    full_updates = []
    resampled = 0
    seq, last, values = 0, 0, []
    while resampled < 2 and seq < 100:
        seq += 1
        s = np.arange(last + 1, last + 501)
        v = 1.0 / np.sqrt(s) + 0.05 * rng.random(s.size)
        values.append(v)
        last = int(s[-1])
        c = panel._curves.get("loss")
        if c is None:
            feed(hub, seq, {"loss": (s, v)})
            qtbot.wait(1)
            continue
        smooth = c.smooth
        smooth.update = lambda *a, _u=smooth.update: (full_updates.append(seq) if not a else None, _u(*a))[1]
        bins, before, size = smooth._bins, smooth.strip_updates, c.x.size
        qtbot.wait(1)  # (painted: the curve has folded its points)
        bins = smooth._bins
        feed(hub, seq, {"loss": (s, v)})
        del smooth.update
        if c.x.size < size:  # this frame followed a compaction
            resampled += 1
            assert smooth._bins is bins  # the fold of what was drawn is kept
            assert smooth.strip_updates == before + 1  # ... and only the new points' strip is repainted
            assert seq not in full_updates
            assert c.x.size <= 2 * len(hub.history.series("loss"))
            np.testing.assert_array_equal(c.x, hub.history.arrays("loss")[0])
    assert resampled == 2
    assert not full_updates
    everything = np.concatenate(values)
    assert c.y[-1] == pytest.approx(ema(everything, c.point_alpha)[-1], rel=1e-9)  # the EMA goes on where it was


def test_another_runs_curve_is_folded_in_as_it_trains(panel, hub, qtbot):
    """Run 2's curve over run 1's: each of its frames repaints a strip (not the plot), its line is the
    EMA of all its points, and when that run starts again (steps going back) it is rebuilt."""
    from core.runs import RunInfo

    spec = hub.spec
    hub.runs = tuple(RunInfo(i, f"run {i}", spec.id, spec, 0, "running", True) for i in (1, 2))
    rng = np.random.default_rng(4)

    def frame(run, seq, lo, n=50):
        s = np.arange(lo, lo + n)
        v = 2.0 / np.sqrt(s) + 0.1 * rng.random(n)
        hub._on_worker_snapshot(run, Snapshot(seq, int(s[-1]), {"loss": (s, v)}))
        return v

    frame(1, 1, 1)
    panel._on_runs_changed(hub.runs)
    values = [frame(2, 1, 1)]
    item = panel._overlays[(2, "loss")]
    full = []
    item.smooth.update = lambda *a, _u=item.smooth.update: (full.append(a) if not a else None, _u(*a))[1]
    for k in range(1, 8):
        qtbot.wait(1)  # (painted: the fold exists)
        before = item.smooth.strip_updates
        values.append(frame(2, k + 1, 1 + 50 * k))
        assert item.smooth.strip_updates == before + 1  # a strip of the plot, not all of it
    assert not full
    np.testing.assert_allclose(item.y, ema(np.concatenate(values), item.point_alpha), rtol=1e-9)
    assert "loss" in panel.overlaid()[2]
    del item.smooth.update
    panel.set_series_visible("loss", False)  # hiding a series hides the other runs' curves of it too
    assert "loss" not in panel.overlaid().get(2, [])
    panel.set_series_visible("loss", True)
    frame(2, 20, 1 + 50 * 8)
    assert "loss" in panel.overlaid()[2]
    from core.history import MetricHistory

    hub.histories[2] = MetricHistory()  # run 2 started again (a restart, a rewind): steps from 1
    restarted = frame(2, 21, 1, 30)
    assert panel._overlays[(2, "loss")].x[0] == 1
    np.testing.assert_array_equal(panel._overlays[(2, "loss")].x, hub.histories[2].arrays("loss")[0])
    panel.smooth_slider.setValue(40)  # smoothing changed: rebuilt with it
    np.testing.assert_allclose(panel._overlays[(2, "loss")].y[-1],
                               ema(hub.histories[2].arrays("loss")[1], 0.4)[-1], rtol=1e-9)
    assert restarted.size == 30


def test_a_frame_longer_than_the_history_keeps_at_full_resolution_is_rebuilt(panel, hub, qtbot):
    """When one frame brings more points than the history keeps at full resolution (a stalled GUI), some of
    the new points are averaged already: the curve is rebuilt from the history rather than folded."""
    seq, last = 0, 0
    for k in (3000, 3000, 3000, 3000):
        seq += 1
        s = np.arange(last + 1, last + k + 1)
        last = int(s[-1])
        feed(hub, seq, {"loss": (s, 1.0 / np.sqrt(s))})
    c = panel._curves["loss"]
    qtbot.wait(1)  # (painted: the curve has folded its points)
    assert c.smooth._bins is not None
    s = np.arange(last + 1, last + 9001)  # far more than `recent` (2048) new points at once
    feed(hub, seq + 1, {"loss": (s, 1.0 / np.sqrt(s))})
    x = hub.history.arrays("loss")[0]
    np.testing.assert_array_equal(c.x, x)  # the history's arrays, as they are
    assert np.all(np.diff(c.smooth.xData) > 0) and c.smooth._bins is None  # rebuilt: folded again when painted


def _render(panel):
    from PySide6 import QtGui

    view = panel.graphics
    image = QtGui.QImage(view.viewport().size(), QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    p = QtGui.QPainter(image)
    view.render(p)
    p.end()
    return image


def test_a_plot_s_lines_are_painted_by_its_layer_as_they_would_paint_themselves(panel, hub):
    """Each plot's LiveCurves are painted by one CurveLayer (one paint call per repaint, not one per line):
    the pixels are the ones the curves draw on their own; hiding a series takes its lines off at once,
    and a reset takes the old curves off the layer."""
    from PySide6 import QtWidgets

    from visualizer.panels.loss import CurveLayer

    no_contents = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents
    rng = np.random.default_rng(3)
    steps = np.arange(1, 3001)
    feed(hub, 1, {"loss": (steps, 2.0 / np.sqrt(steps) + 0.3 * rng.random(steps.size)),
                  "accuracy": (steps, 1 - 1.0 / np.sqrt(steps)), "val_loss": (steps[::300], 2.0 / np.sqrt(steps[::300]))})
    layer = CurveLayer.of(panel.loss_plot)
    loss = panel._curves["loss"]
    assert loss.smooth in layer.curves and loss.raw in layer.curves and panel._curves["val_loss"].smooth in layer.curves
    assert panel._curves["accuracy"].smooth in CurveLayer.of(panel.metric_plot).curves
    assert all(c.flags() & no_contents for c in layer.curves)
    layered = _render(panel)
    assert layer.paints > 0
    for plot in (panel.loss_plot, panel.metric_plot):  # the same lines, each painting itself
        lay = CurveLayer.of(plot)
        for c in list(lay.curves):
            lay.discard(c)
            assert not c.flags() & no_contents
    alone = _render(panel)
    assert layered == alone
    for plot in (panel.loss_plot, panel.metric_plot):
        for c in panel._curves.values():
            if c.plot is plot:
                for item in (c.raw, c.smooth):
                    if item is not None:
                        CurveLayer.of(plot).add(item)
    assert _render(panel) == layered
    panel.set_series_visible("loss", False)  # a hidden series: its lines are not drawn
    hidden = _render(panel)
    assert hidden != layered
    painted_before = loss.smooth.strip_paints + loss.smooth.painted_points
    panel.graphics.viewport().repaint()
    assert loss.smooth.strip_paints + loss.smooth.painted_points == painted_before
    panel.set_series_visible("loss", True)  # (the view may refit: the lines are drawn again)
    loss.smooth.painted_points = 0
    panel.graphics.viewport().repaint()
    assert loss.smooth.painted_points > 100
    hub.metrics_reset.emit()  # a new run: the old lines leave the layer
    assert all(c not in layer.curves for c in (loss.raw, loss.smooth))


def test_a_frame_that_widens_the_view_repaints_the_plots_once(panel, hub, qtbot):
    """When new points take the step axis to a new range, the frame repaints the plots once: nothing it
    painted is painted again right after. (pyqtgraph sets a view's transform lazily, in its paint event; a
    transform changed while painting made Qt repaint both plots a second time.)"""
    from PySide6 import QtCore, QtWidgets

    view = panel.graphics
    paints = []

    class Count(QtCore.QObject):
        def eventFilter(self, obj, ev):  # noqa: N802 (Qt name)
            if ev.type() == QtCore.QEvent.Type.Paint:
                paints.append(ev.region().boundingRect())
            return False

    counter = Count()
    view.viewport().installEventFilter(counter)
    steps = np.arange(1, 101)
    feed(hub, 1, {"loss": (steps, 1.0 / steps), "accuracy": (steps, 1 - 1.0 / steps)})
    qtbot.wait(50)
    (_, x_hi), _ = panel.loss_plot.getViewBox().viewRange()
    seq = 2
    for i in range(5):  # points past the view's end: a new range each time
        paints.clear()
        more = np.arange(int(x_hi) + 1, int(x_hi) * 2 + 1)
        feed(hub, seq, {"loss": (more, 1.0 / more), "accuracy": (more, 1 - 1.0 / more)})
        seq += 1
        for _ in range(5):  # everything the frame caused, and anything queued after it
            QtWidgets.QApplication.sendPostedEvents()
            QtWidgets.QApplication.processEvents()
            qtbot.wait(5)
        (_, new_hi), _ = panel.loss_plot.getViewBox().viewRange()
        assert new_hi > x_hi
        x_hi = new_hi
        assert paints  # (the first frames may widen the y axis for its labels: a relayout, repainted whole)
        assert not any(paints[i].contains(later) for i in range(len(paints)) for later in paints[i + 1:]), paints


def test_the_hover_hint_shows_whole_or_not_at_all(qtbot, panel):
    """In a narrow dock (a 1280x720 window) the hint read "hover a", cut at the dock's edge: it shows only
    where it fits."""
    from visualizer.panels.loss import READOUT_HINT

    for width, shown in ((1100, True), (480, False)):
        panel.resize(width, 500)
        qtbot.waitUntil(lambda: panel.readout.text() == (READOUT_HINT if shown else ""), timeout=2000)
        panel._hide_readout()  # (the mouse leaves the plots: the same rule)
        assert panel.readout.text() == (READOUT_HINT if shown else "")
