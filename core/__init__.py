"""RNN Lab's core: models, training and analysis in pure NumPy. Never imports Qt.

Layout::

    nn/            layers with explicit forward/backward (state in, state out; time-major (T, B, D));
                   nn/cells.py: one descriptor per recurrent cell (states, titles, colour ranges) that
                   make_recurrent, config.cell() and the GUI read
    losses, optim, sampling, gradcheck
    config.py      Param: the one declaration of each hyperparameter (form, CLI --set, presets, text panel)
    data/          corpora and generators (binary, sine, text, words, MNIST IDX, iris); bounded, checked reads
    experiments/   one module per experiment: hyperparams, presets, metrics (core.views.Metric), view_types,
                   train_step / evaluate / probe / views, state_dict
    views.py       typed views (frozen dataclasses) and metric declarations: what panels draw
    probe.py       Probe (the model's trace on one example) and Snapshot (one frame of a run)
    trainer.py     steps an experiment, evaluates on schedule, keeps a bounded MetricHistory (history.py)
    run.py         the Qt-free run loop: RunSpec, typed commands in (Play, Step(n), SetLive, Restart,
                   Save, Load, ...), typed events and Snapshots out; the GUI's worker drives it
    analysis/      unit finder, gradient flow over lags, spectra, gate saturation, connectivity, fixed
                   points: pure functions of parameters and a probe
    checkpoint.py  .npz checkpoints (no pickle), csvlog.py (metrics.csv), memory.py (estimate before build)
    cli.py         `rnnlab list | train | sample | eval | ...` (headless)

Data flow: a command changes a Run between training steps; the Run trains its experiment in chunks
and hands out Snapshots (new metric points since the last one, the probe and views when due).
"""
