"""RNN Lab's window: PySide6 + pyqtgraph. Imports core; core never imports this.

Layout::

    entry.py        the `rnnlab` console script (GUI commands here, the rest to core.cli without Qt)
    app.py          QApplication set-up, main(), the screenshot harness (imports the window lazily)
    main_window.py  docks, toolbar, menus, shortcuts; one dock per panel the experiment's view types need
    session.py      the hub: owns the worker thread, takes typed commands (send), re-emits signals,
                    keeps the GUI-side metric history, the latest probe/views and the selected timestep
    worker.py       thin QThread adapter that drives a core.run.Run (commands in, events -> signals)
    pacing.py       FramePacer: when a frame goes out and whether it carries a probe/views (it holds the
                    GUI thread's whole CPU share, read by the worker from the GUI thread's CPU clock)
    panels/         one file per view type drawn (loss, hidden, inspector, binary, sine, text, digits,
                    worked, ...); a panel lists the view types it ``draws``
    widgets/        the hyperparameter form (generated from core.config.Param), transport bar, scrubber,
                    training-time timeline, fastitems (light pyqtgraph items: image, bars, marks)

Flow: form / transport / panels --typed command--> session.send --> worker --> Run.apply / Run.advance;
Run's Snapshots and events --> worker signals --> session --> panels (drawn in place; hidden panels wait).
The worker waits while the GUI draws a frame; the GUI repaints before it says the frame is drawn, so
painting never competes with training for the GIL.
"""
