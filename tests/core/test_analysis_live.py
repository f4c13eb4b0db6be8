"""The live Analyst (core.analysis.live): watched kinds only, on-demand results later, clear errors."""
from __future__ import annotations

import time

import numpy as np
import pytest

from core.analysis.live import Analyst, memory_profile, wait_for
from core.analysis.views import (KINDS, FixedPointsView, GradientsView, MemoryView, SaturationView, SpectrumView,
                                 UnitsView)
from core.run import Analyze, Failed, Run, RunSpec, Step, Watch


@pytest.fixture(scope="module")
def ba():
    exp = RunSpec.create("binary-addition", seed=1).build()
    for _ in range(30):
        exp.train_step()
    return exp


def test_nothing_is_computed_for_unwatched_kinds(ba):
    a = Analyst(background=False)
    assert a.views(ba, None, ()) == ()
    assert not a.pending()
    assert a._lanes is None  # not even the long probe was built


def test_views_appear_only_for_watched_kinds(ba):
    a = Analyst(background=False)
    got = a.views(ba, None, ("spectrum",))
    assert [type(v) for v in got] == [SpectrumView]
    s = got[0]
    assert s.status == "ok" and s.names == ("layer 1 (rnn)",) and s.bound == (4.0,)
    assert s.sigma_max[0] >= s.spectral_radius[0] > 0
    assert a.views(ba, None, ("spectrum",)) == ()  # same step: nothing new
    got = {type(v) for v in a.views(ba, None, ("spectrum", "units", "gradients", "saturation"))}
    assert got == {UnitsView, GradientsView, SaturationView}  # only the newly watched ones


def test_unit_finder_on_binary_addition_names_the_carry():
    exp = RunSpec.create("binary-addition", seed=0).build()
    for _ in range(300):
        exp.train_step()
    u = wait_for(Analyst(background=False), exp, ("units",), ["units"])["units"]
    best = next(r for r in u.rows if r[0] == "carry_out")
    assert abs(best[4]) >= 0.9
    assert u.activations.shape == (len(u.units), 128) and not u.activations.flags.writeable
    assert u.chars == ()  # not text: a line plot of the features
    assert dict(u.features)["carry_out"].shape == (128,)


def test_saturation_needs_gates(ba):
    v = Analyst(background=False).views(ba, None, ("saturation",))[0]
    assert v.status == "unavailable" and "no gates" in v.note


def test_on_demand_request_arrives_later_in_the_background(ba):
    a = Analyst(background=True)
    a.request("fixed_points", ba)
    assert a.pending()
    first = a.views(ba, None, ())
    assert [v.status for v in first] == ["computing"]  # the panel can say so at once
    got = wait_for(a, ba, (), ["fixed_points"], timeout=20)
    fp = got["fixed_points"]
    assert isinstance(fp, FixedPointsView) and fp.status == "ok"
    assert fp.points.shape[1] == 2 and len(fp.q) == len(fp.points) >= 1
    assert a.wait(5) and not a.pending()


def test_unknown_kind_and_model_without_recurrence_raise(ba):
    a = Analyst(background=False)
    with pytest.raises(ValueError, match="unknown analysis 'nope'"):
        a.request("nope", ba)
    iris = RunSpec.create("iris").build()
    with pytest.raises(ValueError, match="no recurrent layer"):
        a.request("fixed_points", iris)
    got = a.views(iris, None, KINDS)
    assert len(got) == len(KINDS) and all(v.status == "unavailable" for v in got)
    assert a.views(iris, None, KINDS) == ()  # said once


def test_text_experiment_colours_characters_and_surprise():
    exp = RunSpec.create("char-lm", "min-char-rnn").build()
    for _ in range(5):
        exp.train_step()
    u = wait_for(Analyst(background=False), exp, ("units",), ["units"])["units"]
    assert len(u.chars) == u.activations.shape[1] == len(u.surprise) == 384
    assert {"in_quotes", "line_position"} <= {r[0] for r in u.rows}
    assert np.all(np.isfinite(u.surprise)) and u.breaks == (128, 256)


def test_gated_model_lstm_views():
    exp = RunSpec.create("sine", seed=0).build()
    for _ in range(5):
        exp.train_step()
    got = wait_for(Analyst(background=False), exp, ("saturation", "gradients", "spectrum"),
                   ["saturation", "gradients", "spectrum"])
    s = got["saturation"]
    assert s.status == "ok" and s.layers[0][1] == ("i", "f", "o")
    assert all(0 <= x.min() and x.max() <= 1 for x in s.layers[0][2])
    g = got["gradients"]
    assert g.cell_norm[0] is not None and len(g.layers[0][2]) == 10  # 10 timesteps: lags 1..10
    assert {n for n, _ in got["spectrum"].eigenvalues[0]} == {"i", "f", "g", "o"}


def test_memory_profile_and_horizon_by_hand():
    # influence halves with every step back: 1, .5, .25, .125, .0625 -> below 10% at lag 4
    T = 6
    M = np.zeros((T, T))
    for t in range(T):
        for k in range(t + 1):
            M[t, t - k] = 0.5 ** k
    prof, h = memory_profile(M, np.arange(T))
    assert np.allclose(prof[:4], [1, .5, .25, .125]) and h == 4
    assert memory_profile(np.tril(np.ones((T, T))), np.arange(T))[1] is None


def test_run_drives_the_analyst_through_watch_and_analyze():
    run = Run(RunSpec.create("binary-addition", seed=2))
    run.analyst.background = False
    assert run.apply(Watch(("spectrum",))) == []
    snap, _ = run.frame()
    assert any(isinstance(v, SpectrumView) for v in snap.views)
    events = run.apply(Analyze("bogus"))
    assert isinstance(events[0], Failed) and "bogus" in events[0].text
    run.apply(Analyze("memory"))
    snap, _ = run.frame()
    mem = [v for v in snap.views if isinstance(v, MemoryView)]
    assert mem and mem[-1].status == "ok" and mem[-1].matrix.shape == (8, 8)


def test_spectrum_history_grows_while_watched_and_is_bounded():
    run = Run(RunSpec.create("binary-addition", seed=2))
    a = run.analyst
    a.background = False
    steps = []
    for _ in range(3):
        run.apply(Step(5))
        while run.training:
            run.advance(0.05)
        a._next_live = 0.0  # do not wait for the pacing in a test
        v = [x for x in a.views(run.experiment, None, ("spectrum",)) if isinstance(x, SpectrumView)]
        steps.append(list(v[-1].history_steps))
    assert steps[-1] == [5, 10, 15]


def test_background_jobs_leave_no_thread(ba):
    a = Analyst(background=True)
    wait_for(a, ba, ("units", "gradients"), ["units", "gradients"], timeout=20)
    assert a.wait(5)
    time.sleep(0.05)
