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

__all__ = ["Trainer", "StepResult", "RunResult", "TrainingDiverged"]


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
    """

    def __init__(self, experiment: Experiment, eval_every: int | None = None,
                 history: MetricHistory | None = None):
        if eval_every is None:
            eval_every = experiment.eval_every
        if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0:
            raise ValueError(f"eval_every must be a non-negative integer (0 = never), got {eval_every!r}")
        self.experiment = experiment
        self.eval_every = eval_every
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
        if self.eval_every and exp.step % self.eval_every == 0:
            ev = self.evaluate()
            row.update({self.eval_key(k): v for k, v in ev.items()})
        return StepResult(exp.step, metrics, ev, row)

    def evaluate(self) -> dict[str, float]:
        """Run ``experiment.evaluate()`` now, record it at the current step, return the raw metrics."""
        exp = self.experiment
        ev = {k: float(v) for k, v in exp.evaluate().items()}
        self.history.record(exp.step, {self.eval_key(k): v for k, v in ev.items()})
        self.last_eval = ev
        self.last_eval_step = exp.step
        return ev

    def final_eval(self) -> dict[str, float]:
        """The evaluation metrics at the current step (re-uses the last one if it is current)."""
        if self.last_eval_step == self.experiment.step and self.last_eval:
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
