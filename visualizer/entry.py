"""The ``rnnlab`` console entry point.

* ``rnnlab`` (no arguments), ``rnnlab gui ...``, ``rnnlab screenshot ...`` and ``rnnlab movie ...`` open Qt
  (``visualizer.app.main``);
* anything else (``train``, ``sample``, ``eval``, ``list``, ``--help``) is the headless
  CLI, ``core.cli.main(argv)``, imported lazily so that Qt is never loaded for it.

This module must not import PySide6 (or pyqtgraph) at module level.
"""
from __future__ import annotations

import sys

GUI_COMMANDS = ("gui", "screenshot", "movie")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in GUI_COMMANDS:
        import os

        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads: see core.runtime.limit_blas_threads
        from visualizer.app import main as gui_main

        return gui_main(argv)
    from core.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
