"""Steps an experiment, records its metrics in a bounded history, evaluates every N steps.

Used by the CLI (``rnnlab train``), the benchmarks and ``core.run.Run`` (the GUI's loop)::

    trainer = Trainer(experiment)            # eval_every defaults to experiment.eval_every
    result = trainer.step()                  # one update -> StepResult(step, metrics, eval)
    trainer.run(500, callback=on_step)       # 500 updates; callback(result) -> True stops early
    trainer.history.since(last_step)         # {name: (steps, values)} new points (Run's snapshots)

Metric names in the history
    Training metrics keep their names (``loss``, ``accuracy``, ``grad_norm``...).
    Evaluation metrics keep their names too (``accuracy``, ``bit_accuracy``,
    ``rmse``, ``val_loss``, ``val_perplexity``...), unless a training metric of
    this run already uses that name (or it is ``loss``): then it is recorded as
    ``eval_<name>`` (:meth:`Trainer.eval_key`), so a training and a held-out
    metric never share a curve. Experiments avoid this by naming training
    metrics ``train_accuracy`` etc.

Evaluation schedule
    ``Trainer(experiment)`` (``eval_every`` left to the experiment) evaluates on a
    schedule that thins out, so evaluation stays a small share of a long run:
    every ``eval_every`` steps for the first :data:`EVAL_DENSE` evaluations, then
    the interval doubles each time the step count doubles (``EVAL_DENSE / 2``
    evaluations per doubling), up to :data:`EVAL_MAX_STRETCH` x ``eval_every``.
    For eval_every = 25: steps 25, 50, ... 200, then every 50 to 400, every 100 to
    800, every 200 to 1,600, every 400 from then on. :meth:`Trainer.eval_due` says whether a
    step is on it; the schedule depends on the step number only, so runs stay
    deterministic and a resumed run evaluates where the uninterrupted one did.
    An explicit ``eval_every=N`` keeps the plain grid (every N steps) unless
    ``thin=True``.

    Scheduled evaluations call ``experiment.evaluate_scheduled()``: by default the
    full ``evaluate()``; an experiment with a costly evaluation may estimate the
    same metrics on a fixed subset there (binary-addition does, see its
    docstring). :meth:`Trainer.final_eval` (the last row of ``rnnlab train``) is
    always the full ``evaluate()``.

Divergence
    When the loss or gradients become NaN/inf the experiment's guarded update
    raises :class:`core.experiments.common.TrainingDiverged` *before* touching
    the parameters. ``step()``/``run()`` store it in ``trainer.diverged`` and
    re-raise it: the experiment still holds the last good parameters (its
    ``step`` is the last good step), so the caller can save a checkpoint, show
    the message (it names the step and gives a hint) and stop or let the user
    lower the learning rate and continue.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping

from core.experiments.base import Experiment
from core.experiments.common import TrainingDiverged
from core.history import MetricHistory

__all__ = ["Trainer", "StepResult", "RunResult", "TrainingDiverged", "EVAL_DENSE", "EVAL_MAX_STRETCH"]

EVAL_DENSE = 8  # evaluations at the experiment's own interval before the schedule thins out
EVAL_MAX_STRETCH = 16  # the interval grows to at most this many times eval_every


@dataclass(frozen=True)
class StepResult:
    """What one training step produced.

    step:    the experiment's step count after the update (1 for the first step).
    metrics: training metrics returned by ``train_step()`` (floats).
    eval:    raw ``evaluate()`` metrics if this step was an evaluation step, else None.
    row:     training and evaluation metrics under their history names (see module doc).
    """

    step: int
    metrics: Mapping[str, float]
    eval: Mapping[str, float] | None = None
    row: Mapping[str, float] | None = None


@dataclass
class RunResult:
    """Summary of :meth:`Trainer.run`.

    steps: steps done in this call; stopped: a callback asked to stop;
    last: the last StepResult (None if no step ran); seconds: wall time of the call.
    """

    steps: int
    stopped: bool = False
    last: StepResult | None = None
    seconds: float = 0.0


class Trainer:
    """Trains ``experiment`` step by step, keeping a bounded :class:`MetricHistory`.

    eval_every: steps between evaluations (None -> ``experiment.eval_every``;
                0 -> never evaluate automatically). Evaluations happen when the
                experiment's step count is a multiple of ``eval_every``.
    history:    an existing history to continue (e.g. from a checkpoint), else a new one.
    thin:       thin the schedule out (module doc); None -> True when ``eval_every`` is
                the experiment's own, False when it is given.
    """

    def __init__(self, experiment: Experiment, eval_every: int | None = None,
                 history: MetricHistory | None = None, thin: bool | None = None):
        if thin is None:
            thin = eval_every is None
        if eval_every is None:
            eval_every = experiment.eval_every
        if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0:
            raise ValueError(f"eval_every must be a non-negative integer (0 = never), got {eval_every!r}")
        self.experiment = experiment
        self.eval_every = eval_every
        self.thin = bool(thin)
        self.last_eval_full = False  # the last evaluation was the full evaluate() (not a scheduled estimate)
        self._scheduled = getattr(type(experiment), "evaluate_scheduled", None) is not None and \
            type(experiment).evaluate_scheduled is not Experiment.evaluate_scheduled
        self.history = history if history is not None else MetricHistory()
        self.last_metrics: dict[str, float] = {}
        self.last_eval: dict[str, float] = {}
        self.last_eval_step: int | None = None
        self.diverged: TrainingDiverged | None = None
        self._train_names: set[str] = set()  # training metric names seen (see eval_key)

    def eval_key(self, name: str) -> str:
        """History name of the evaluation metric ``name``: itself, or ``eval_<name>`` if a
        training metric of this run has that name (or it is ``loss``)."""
        return f"eval_{name}" if name == "loss" or name in self._train_names else name

    def eval_due(self, step: int) -> bool:
        """Whether the schedule evaluates after training step ``step`` (module doc)."""
        every = self.eval_every
        if not every or step % every:
            return False
        if not self.thin:
            return True
        stretch, dense = 1, every * EVAL_DENSE
        while stretch < EVAL_MAX_STRETCH and step > dense * stretch:
            stretch *= 2
        return step % (every * stretch) == 0

    @property
    def steps_done(self) -> int:
        """Training steps the experiment has done (its ``step`` counter)."""
        return self.experiment.step

    def step(self) -> StepResult:
        """One training step (plus an evaluation when due). Raises TrainingDiverged (see module doc)."""
        exp = self.experiment
        try:
            raw = exp.train_step()
        except TrainingDiverged as e:
            self.diverged = e
            raise
        metrics = {k: float(v) for k, v in raw.items()}
        self._train_names.update(metrics)
        self.last_metrics = metrics
        self.history.record(exp.step, metrics)
        row = dict(metrics)
        ev = None
        if self.eval_every and exp.step % self.eval_every == 0 and self.eval_due(exp.step):
            ev = self.evaluate(full=False)
            row.update({self.eval_key(k): v for k, v in ev.items()})
        return StepResult(exp.step, metrics, ev, row)

    def evaluate(self, full: bool = True) -> dict[str, float]:
        """Run ``experiment.evaluate()`` (``full=False``: ``experiment.evaluate_scheduled()``) now,
        record it at the current step, return the raw metrics."""
        exp = self.experiment
        scheduled = not full and self._scheduled
        raw = exp.evaluate_scheduled() if scheduled else exp.evaluate()
        ev = {k: float(v) for k, v in raw.items()}
        self.history.record(exp.step, {self.eval_key(k): v for k, v in ev.items()})
        self.last_eval = ev
        self.last_eval_step = exp.step
        self.last_eval_full = not scheduled
        return ev

    def final_eval(self) -> dict[str, float]:
        """The full evaluation metrics at the current step (re-uses the last evaluation if it is
        current and was the full one; after a scheduled estimate at this step the full values are
        recorded after it at the same step)."""
        if self.last_eval_step == self.experiment.step and self.last_eval and self.last_eval_full:
            return dict(self.last_eval)
        return self.evaluate()

    def run(self, steps: int, callback: Callable[[StepResult], bool | None] | None = None,
            progress: Callable[[StepResult], None] | None = None) -> RunResult:
        """Train ``steps`` more steps.

        callback(result): called after every step; returning True stops early
                          (e.g. a target was reached or the user pressed pause).
        progress(result): called after every step, return value ignored (progress bars).
        Raises TrainingDiverged after recording it (``self.diverged``); the steps
        done before are kept in the history and in the experiment.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
        t0 = time.perf_counter()
        last = None
        for i in range(steps):
            last = self.step()
            if progress is not None:
                progress(last)
            if callback is not None and callback(last):
                return RunResult(i + 1, True, last, time.perf_counter() - t0)
        return RunResult(steps, False, last, time.perf_counter() - t0)
