"""Metrics as CSV: one format for the CLI's streamed ``metrics.csv`` and the GUI's export.

    log = MetricsCSV(path)                 # streaming, one row per step (rnnlab train)
    log.add(step, {"loss": 0.7}); log.sync(); log.close()    # or: with MetricsCSV(path) as log: ...
    log = MetricsCSV.resume(path, step)    # continue a file cut back to ``step`` (rnnlab train --resume)
    write_metrics_csv(path, history)       # a whole core.history.MetricHistory at once (GUI: File > Export)

The format, shared by both:

* the header is ``step`` then one column per metric: first the metrics
  recorded at the first step > 0 (the training metrics, in their order), then
  the others in order of first appearance (the evaluation before training at
  step 0 ...);
* one row per step, in increasing order; a step is written as an integer
  (``12``; a step of a compacted history that is not whole as ``12.5``), a
  value with ``repr(float(v))`` (round-trips exactly: ``0.1``, ``nan``,
  ``inf``); an empty cell where a metric has no value at that step;
* UTF-8, ``\\n`` line ends, files get the usual mode (0666 minus the umask).

No timings are written, so the same run gives a byte-identical file.
"""
from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["MetricsCSV", "write_metrics_csv", "format_step", "format_value", "column_order"]


def format_step(step: Any) -> str:
    """``12`` for whole steps, else ``repr(float(step))``."""
    s = float(step)
    return str(int(s)) if s.is_integer() else repr(s)


def format_value(v: Any) -> str:
    """``repr(float(v))``: the shortest text that reads back as the same float."""
    return repr(float(v))


def column_order(rows: Iterable[tuple[float, Iterable[str]]]) -> list[str]:
    """Metric columns for ``rows`` of (step, names): names of the first row with step > 0
    first, then every other name in order of first appearance."""
    rows = list(rows)
    first = next((names for s, names in rows if s > 0), ())
    out: list[str] = []
    for names in [first] + [names for _, names in rows]:
        out += [k for k in names if k not in out]
    return out


def _line(cells: Sequence[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue().encode("utf-8")


def _row(step: Any, values: Mapping[str, Any], columns: Sequence[str]) -> bytes:
    return _line([format_step(step)] + [format_value(values[c]) if c in values else "" for c in columns])


FLUSH_SECONDS = 1.0  # MetricsCSV writes held rows at most this long after the last write ...
FLUSH_ROWS = 8192  # ... or once this many are held


class MetricsCSV:
    """Streams full-resolution metric rows to a CSV file (the format of the module doc).

    The header is written once two rows are known (row 0, the evaluation before
    training, and row 1), so training metrics come first. A row is held back
    until the next step starts, so late values for the same step (a final
    evaluation) are merged in; values for the last written step (after
    :meth:`sync`) rewrite that row. If a new metric appears after the header was
    written, the file is rewritten once with the wider header.

    Rows are held in memory and written in batches (about every :data:`FLUSH_SECONDS`,
    at most :data:`FLUSH_ROWS` at a time), and all of them by :meth:`sync` and
    :meth:`close` — call ``close()`` in a ``finally`` (or use ``with``), so an error
    or Ctrl+C loses nothing. The file's bytes are the same as with row-by-row writes.
    """

    def __init__(self, path: str | os.PathLike, _resume: tuple[list[str], int, int, dict[str, str]] | None = None):
        self.path = Path(path)
        self.columns: list[str] = []
        self._rows: list[tuple[int, dict[str, Any]]] = []  # not yet written; the last one may still grow
        self._last: tuple[int, int, dict[str, Any]] | None = None  # (offset, step, values) of the last written row
        self._due = time.monotonic() + FLUSH_SECONDS  # write held rows after this
        if _resume is None:
            self._f = open(self.path, "w+b")
            self._header_written = False
        else:
            self.columns, offset, step, cells = _resume
            self._f = open(self.path, "r+b")
            self._f.seek(0, os.SEEK_END)
            self._header_written = True
            self._last = (offset, step, cells)

    def __enter__(self) -> "MetricsCSV":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @classmethod
    def resume(cls, path: str | os.PathLike, step: int) -> "MetricsCSV":
        """Open ``path`` (written by this class) to continue after ``step``: rows after it are cut off.

        Raises ValueError if the file has no header or no row for ``step``.
        """
        path = Path(path)
        with open(path, "rb") as f:
            data = f.read()
        lines = data.decode("utf-8").split("\n")
        header = next(csv.reader([lines[0]])) if lines and lines[0] else []
        if header[:1] != ["step"]:
            raise ValueError(f"{path}: not a metrics.csv written by rnnlab (no 'step' header)")
        columns = header[1:]
        offset = len(lines[0].encode("utf-8")) + 1
        last: tuple[int, int, dict[str, str]] | None = None
        for line in lines[1:]:
            if not line:
                break
            cells = next(csv.reader([line]))
            try:
                s = float(cells[0])
            except (ValueError, IndexError):
                raise ValueError(f"{path}: malformed row {line[:40]!r}") from None
            if s > step:
                break
            last = (offset, int(s), {c: v for c, v in zip(columns, cells[1:]) if v != ""})
            offset += len(line.encode("utf-8")) + 1
        if last is None or last[1] != step:
            ends = "has no rows" if last is None else f"ends at step {last[1]}"
            raise ValueError(f"{path} {ends}; the checkpoint is at step {step}, so the run cannot continue it "
                             f"row for row")
        with open(path, "r+b") as f:
            f.truncate(offset)
        return cls(path, (columns, last[0], last[1], last[2]))

    def add(self, step: int, values: Mapping[str, float]) -> None:
        """Values of ``step`` (merged into the row of that step if it is the last one)."""
        rows = self._rows
        if rows and rows[-1][0] == step:
            rows[-1][1].update(values)
            return
        if not rows and self._last is not None and self._last[1] == step:
            offset, _, old = self._last  # reopen the last written row
            self._f.seek(offset)
            self._f.truncate()
            self._last = None
            rows.append((step, {**old, **values}))
            return
        rows.append((step, dict(values)))
        if len(rows) > FLUSH_ROWS or (len(rows) > 1 and time.monotonic() >= self._due):
            self._flush(keep_last=True)

    def _flush(self, keep_last: bool) -> None:
        rows = self._rows[:-1] if keep_last else self._rows
        self._rows = self._rows[-1:] if keep_last else []
        self._due = time.monotonic() + FLUSH_SECONDS
        if not rows:
            return
        if not self._header_written:
            self.columns = column_order((s, v) for s, v in rows + self._rows)
            self._f.write(_line(["step"] + self.columns))
            self._header_written = True
        known = set(self.columns)
        new = [k for _, values in rows for k in values if k not in known and not known.add(k)]
        if new:  # a metric not in the header: widen it (every row, old and held, gets the column)
            self.columns += new
            self._rewrite()
        columns = self.columns
        buf = io.StringIO()
        writerow = csv.writer(buf, lineterminator="\n").writerow
        for step, values in rows[:-1]:
            writerow([format_step(step)] + [repr(float(values[c])) if c in values else "" for c in columns])
        self._f.write(buf.getvalue().encode("utf-8"))
        step, values = rows[-1]
        self._last = (self._f.tell(), step, values)
        self._f.write(_row(step, values, columns))

    def _rewrite(self) -> None:
        """Rewrite the file with the current (wider) header; old rows get empty new cells."""
        self._f.seek(0)
        rows = list(csv.reader(io.StringIO(self._f.read().decode("utf-8"))))[1:]
        self._f.seek(0)
        self._f.truncate()
        self._f.write(_line(["step"] + self.columns))
        width = len(self.columns) + 1
        offset = None
        for r in rows:
            offset = self._f.tell()
            self._f.write(_line(r + [""] * (width - len(r))))
        if self._last is not None and offset is not None:
            self._last = (offset, self._last[1], self._last[2])

    def sync(self) -> None:
        """Write every held row and force the file to disk (before a checkpoint is saved:
        a resumed run finds every row up to the checkpoint's step)."""
        self._flush(keep_last=False)
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        """Write what is held (the header even if there are no rows) and close the file (again: no-op)."""
        if self._f.closed:
            return
        self._flush(keep_last=False)
        if not self._header_written:
            self._f.write(_line(["step"] + self.columns))
            self._header_written = True
        self._f.close()


def write_metrics_csv(path: str | os.PathLike, history: Any) -> None:
    """Write a :class:`core.history.MetricHistory` (``names()``, ``arrays(name)``) as CSV.

    One row per step at which any metric has a point, in the format of the
    module doc (the same header rule and number format as ``metrics.csv``).
    """
    names = list(history.names())
    series = {n: history.arrays(n) for n in names}
    table: dict[float, dict[str, float]] = {}
    for n in names:
        steps, values = series[n]
        for s, v in zip(np.asarray(steps).tolist(), np.asarray(values).tolist()):
            table.setdefault(float(s), {})[n] = v
    steps = sorted(table)
    columns = column_order((s, [n for n in names if n in table[s]]) for s in steps)
    with open(path, "wb") as f:
        f.write(_line(["step"] + columns))
        for s in steps:
            f.write(_row(s, table[s], columns))
