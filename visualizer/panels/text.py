"""Text: samples of a language model at several temperatures, side by side.

From ``Experiment.extras()`` of core/experiments/char_lm.py (and word_lm):
``{"samples": {temperature: text}, "argmax": text, "prime": prime}`` — each
sample continues the prime (the prime itself is not repeated). The controls
are the experiment's live sampling parameters: ``temperatures`` (a list, or one
value from the slider), ``prime`` and ``sample_length``; changing one calls
``session.set_live(name, value)`` and then ``session.refresh_extras()``.
"Refresh every N steps" asks for new samples while training runs (0 = only on
Regenerate).

Above the samples, the probe line: the probe text with the selected
timestep's character highlighted and, under each character, the model's guess
for the *next* one (green right, red wrong).
"""
from __future__ import annotations

import html
from typing import Any, Mapping

from PySide6 import QtCore, QtGui, QtWidgets

from core.probe import Probe, Snapshot
from visualizer.panels.hidden import FONT_PT, HIGHLIGHT, RIGHT, WRONG, ContentPanel, clamp_t, font, verdicts

DEFAULT_TEMPERATURES = (0.2, 0.6, 1.2)
PROBE_CHUNK = 64  # characters per probe line before it wraps
PROBE_LINES = 2  # probe lines shown: the one holding the selected timestep and the next


def parse_temperatures(text: str) -> tuple[float, ...]:
    """``"0.2, 0.6 1.2"`` -> (0.2, 0.6, 1.2). Raises ValueError naming the bad entry and what is accepted."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    if not parts:
        raise ValueError("temperatures: empty; expected numbers > 0 such as 0.2, 0.6, 1.2")
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise ValueError(f"temperatures: {p.strip()!r} is not a number; expected numbers > 0 "
                             f"such as 0.2, 0.6, 1.2") from None
        if not v > 0:
            raise ValueError(f"temperatures: {v:g} is not > 0; expected numbers > 0 such as 0.2, 0.6, 1.2")
        out.append(v)
    return tuple(out)


def _fmt_temps(temps: tuple[float, ...]) -> str:
    return ", ".join(f"{t:g}" for t in temps)


def whitespace_heavy(text: str) -> bool:
    """True when at least 60% of ``text`` is whitespace (e.g. a greedy sample that only emits spaces;
    word-level text, with a space between short tokens, stays below)."""
    return bool(text) and sum(c.isspace() for c in text) >= 0.6 * len(text)


FAINT = "color:#8a8a8a"


def render_whitespace(text: str, spaces: bool) -> str:
    """HTML for ``text`` in a pre-wrap block: newlines as a faint ⏎ then a line break, tabs as ⇥, and
    (``spaces=True``) spaces as a faint ·."""
    out = html.escape(text).replace("\t", f"<span style='{FAINT}'>⇥</span>")
    if spaces:
        out = out.replace(" ", f"<span style='{FAINT}'>·</span>")
    return out.replace("\n", f"<span style='{FAINT}'>⏎</span><br>")


def _visible(c: str) -> str:
    return {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}.get(c, c)


class _SampleBox(QtWidgets.QGroupBox):
    """One sample: a title (the temperature) and the wrapped monospace text, prime in grey."""

    def __init__(self, title: str):
        super().__init__(title)
        self.setFont(font(FONT_PT, bold=True))
        self.edit = QtWidgets.QTextEdit()
        self.edit.setReadOnly(True)
        self.edit.setFont(font(FONT_PT, mono=True))
        self.edit.setLineWrapMode(QtWidgets.QTextEdit.LineWrapMode.WidgetWidth)
        self.edit.setWordWrapMode(QtGui.QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.edit)
        self.text = ""
        self.whitespace_heavy = False
        self._shown: tuple[str, str] | None = None

    def set_text(self, prime: str, text: str) -> None:
        """Show ``prime`` (grey) + ``text``. Spaces are kept as they are (pre-wrap), newlines break the
        line after a faint ⏎; a whitespace-heavy text (an argmax stuck on spaces/newlines) shows every
        space as a faint · so that it does not look empty. Skipped when nothing changed."""
        if (prime, text) == self._shown:
            return
        self._shown = (prime, text)
        self.text = text
        self.whitespace_heavy = whitespace_heavy(text)
        body = render_whitespace(text, spaces=self.whitespace_heavy)
        head = render_whitespace(prime, spaces=False)
        self.edit.setHtml(f"<div style='white-space:pre-wrap'><span style='color:gray'><b>{head}</b></span>"
                          f"{body}</div>")

    def html(self) -> str:
        """The document's plain text as shown (with the visible-whitespace marks), for tests."""
        return self.edit.toPlainText()


class TextPanel(ContentPanel):
    title = "Generated text"

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.boxes: dict[float, _SampleBox] = {}
        self._last_refresh_step = 0
        self._step = 0
        self._words = False  # the probe is made of words (word-lm), not characters

        # -- controls
        self.temps_edit = QtWidgets.QLineEdit(_fmt_temps(DEFAULT_TEMPERATURES))
        self.temps_edit.setToolTip("Temperatures of the sample columns, comma-separated (low = safe, high = wild)")
        self.temps_edit.editingFinished.connect(self._on_temps_edited)
        self.temp_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.temp_slider.setRange(5, 200)  # temperature x 100
        self.temp_slider.setValue(60)
        self.temp_slider.setMinimumWidth(70)
        self.temp_slider.setToolTip("One temperature: drag and release to sample at just this temperature")
        self.temp_slider.valueChanged.connect(self._on_slider_moved)
        self.temp_slider.sliderReleased.connect(self._on_slider_released)
        self.temp_value = QtWidgets.QLabel("0.60")
        self.temp_value.setMinimumWidth(40)
        self.prime_edit = QtWidgets.QLineEdit("")
        self.prime_edit.setPlaceholderText("(start of a line)")
        self.prime_edit.setToolTip("The text the samples continue")
        self.prime_edit.editingFinished.connect(self._on_prime_edited)
        self.length_spin = QtWidgets.QSpinBox()
        self.length_spin.setRange(1, 2000)
        self.length_spin.setValue(200)
        self.length_spin.setKeyboardTracking(False)  # typed numbers count on Enter, not per digit
        self.length_spin.setPrefix("length ")
        self.length_spin.setToolTip("Characters (or words) per sample")
        self.length_spin.valueChanged.connect(self._on_length_changed)
        self.every_spin = QtWidgets.QSpinBox()
        self.every_spin.setRange(0, 99_999)
        self.every_spin.setValue(200)
        self.every_spin.setSingleStep(50)
        self.every_spin.setPrefix("every ")
        self.every_spin.setSuffix(" steps")
        self.every_spin.setSpecialValueText("never")
        self.every_spin.setToolTip("While training, ask for new samples every N steps (never = only on Regenerate)")
        self.regen_button = QtWidgets.QPushButton("Regenerate")
        self.regen_button.clicked.connect(self.regenerate)
        self.error_label = QtWidgets.QLabel("")
        self.error_label.setStyleSheet(f"color: {WRONG};")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)

        row1 = QtWidgets.QHBoxLayout()
        row2 = QtWidgets.QHBoxLayout()
        for lay, items in ((row1, (("Temperatures T:", self.temps_edit), ("or", self.temp_slider),
                                   (None, self.temp_value), (None, self.regen_button))),
                           (row2, (("Prime:", self.prime_edit), (None, self.length_spin),
                                   (None, self.every_spin)))):
            for text, w in items:
                if text:
                    lab = QtWidgets.QLabel(text)
                    lab.setFont(font())
                    lay.addWidget(lab)
                if w is not None:
                    w.setFont(font())
                    lay.addWidget(w, 1 if isinstance(w, QtWidgets.QLineEdit) else 0)

        # -- probe line and samples
        self.probe_label = QtWidgets.QLabel("")
        self.probe_label.setFont(font(FONT_PT + 1, mono=True))
        self.probe_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.probe_label.setWordWrap(False)
        # a long probe line is clipped at the panel's edge instead of widening the whole dock
        self.probe_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.probe_caption = QtWidgets.QLabel("Probe: under each token, the model's guess for the next one "
                                              "(green right, red wrong); ← → move the highlight.")
        self.probe_caption.setFont(font(FONT_PT - 1))
        self.probe_caption.setToolTip(self.probe_caption.text())
        self.probe_caption.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        self.samples_row = QtWidgets.QHBoxLayout()
        self.samples_row.setSpacing(4)
        self.argmax_box = _SampleBox("argmax: the likeliest next token (T → 0)")
        self.argmax_box.setMaximumHeight(76)  # two lines: it tends to repeat itself; the samples get the room

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addLayout(row1)
        lay.addLayout(row2)
        lay.addWidget(self.error_label)
        lay.addWidget(self.probe_caption)
        lay.addWidget(self.probe_label)
        lay.addLayout(self.samples_row, 3)
        lay.addWidget(self.argmax_box, 1)
        self.setMinimumSize(480, 360)
        self._take_config(getattr(getattr(session, "info", None), "config", None))
        self._ensure_boxes(parse_temperatures(self.temps_edit.text()))

    # -- controls -> session -----------------------------------------------------
    def _set_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _send(self, name: str, value: Any) -> None:
        self._set_error("")
        try:
            self.session.set_live(name, value)
        except ValueError as e:  # the hub may validate at once; the worker reports later errors itself
            self._set_error(str(e))
            return
        self.session.refresh_extras()
        self._last_refresh_step = self._step

    def _on_temps_edited(self) -> None:
        try:
            temps = parse_temperatures(self.temps_edit.text())
        except ValueError as e:
            self._set_error(str(e))
            return
        self._send("temperatures", temps)

    def _on_slider_moved(self, value: int) -> None:
        self.temp_value.setText(f"{value / 100:.2f}")
        if not self.temp_slider.isSliderDown():  # keyboard / click on the groove: apply at once
            self._on_slider_released()

    def _on_slider_released(self) -> None:
        temps = (self.temp_slider.value() / 100,)
        self.temps_edit.setText(_fmt_temps(temps))
        self._send("temperatures", temps)

    def _on_prime_edited(self) -> None:
        self._send("prime", self.prime_edit.text())

    def _on_length_changed(self, value: int) -> None:
        self._send("sample_length", int(value))

    def regenerate(self) -> None:
        self.session.refresh_extras()
        self._last_refresh_step = self._step

    # -- hub -> panel ----------------------------------------------------------------
    def _take_config(self, config: Mapping[str, Any] | None) -> None:
        if not config:
            return
        widgets = (self.temps_edit, self.prime_edit, self.length_spin, self.temp_slider)
        for w in widgets:
            w.blockSignals(True)
        if "temperatures" in config:
            self.temps_edit.setText(_fmt_temps(tuple(float(t) for t in config["temperatures"])))
        if "prime" in config:
            self.prime_edit.setText(str(config["prime"]))
        if "sample_length" in config:
            self.length_spin.setValue(int(config["sample_length"]))
        for w in widgets:
            w.blockSignals(False)

    def _on_experiment(self, info: Any) -> None:
        self.probe = None
        self._step = self._last_refresh_step = 0
        self._take_config(getattr(info, "config", None))
        for box in list(self.boxes.values()) + [self.argmax_box]:
            box.set_text("", "")
        self.probe_label.setText("")
        self._set_error("")

    def _on_metrics(self, snapshot: Snapshot) -> None:
        self._step = snapshot.step
        n = self.every_spin.value()
        if n > 0 and self.isVisible() and snapshot.step - self._last_refresh_step >= n:
            self._last_refresh_step = snapshot.step
            self.session.refresh_extras()

    def _ensure_boxes(self, temps: tuple[float, ...]) -> None:
        if tuple(self.boxes) == tuple(temps):
            return
        for box in self.boxes.values():
            self.samples_row.removeWidget(box)
            box.deleteLater()
        self.boxes = {}
        for t in temps:
            box = _SampleBox(f"T = {t:g}")  # short: a box title's width is a minimum width
            box.setToolTip(f"Sampled at temperature {t:g} (low: safe and repetitive, high: varied and wild)")
            self.samples_row.addWidget(box, 1)
            self.boxes[t] = box

    def _on_extras(self, extras: Mapping[str, Any]) -> None:
        samples = extras.get("samples")
        if not isinstance(samples, Mapping):
            return
        self.redraws += 1
        temps = tuple(float(t) for t in samples)
        self._ensure_boxes(temps)
        prime = str(extras.get("prime", ""))
        if self._words and prime and not prime[-1].isspace():
            prime += " "  # word models: the continuation is the next word, not the same one
        for t, text in samples.items():
            self.boxes[float(t)].set_text(prime, str(text))
        if "argmax" in extras:
            self.argmax_box.set_text(prime, str(extras["argmax"]))

    def sample_texts(self) -> dict[float, str]:
        """Temperature -> the sample text shown, for tests."""
        return {t: box.text for t, box in self.boxes.items()}

    def _on_probe(self, probe: Probe) -> None:
        self.probe = probe
        self.redraws += 1
        self._words = any(len(s) > 1 for s in probe.input_labels if s not in ("<eos>", "<unk>"))
        self._on_timestep(self.current_t())

    def _on_timestep(self, t: int) -> None:
        p = self.probe
        if p is None or p.num_steps == 0:
            return
        t = clamp_t(t, p.num_steps)
        text = self.probe_html(p, t)
        if text != self.probe_label.text():  # a rich-text relayout costs ~1 ms: skip when unchanged
            self.probe_label.setText(text)

    @staticmethod
    def probe_html(p: Probe, t: int) -> str:
        """Two monospace lines per chunk: the probe tokens (token t highlighted) and, under each token,
        the model's guess for the next one (green right, red wrong). Characters sit side by side;
        words (word-lm) are padded to a common width and separated by a space so the rows line up."""
        text = p.extras.get("text")
        toks = list(text) if isinstance(text, str) and len(text) == p.num_steps else list(p.input_labels)
        toks = [_visible(c) if len(c) == 1 else (c or " ") for c in toks]
        preds = [_visible(g) if len(g) == 1 else (g or " ") for g in p.prediction_labels]
        ok = None if p.correct is None else verdicts(p)
        words = any(len(c) > 1 for c in toks + preds)
        sep = " " if words else ""
        chunks, current, used = [], [], 0  # token indices per display line
        for i, tok in enumerate(toks):
            guess = preds[i] if i < len(preds) else ""
            width = max(len(tok), len(guess)) if words else 1
            if current and used + width > PROBE_CHUNK:
                chunks.append(current)
                current, used = [], 0
            current.append((i, width))
            used += width + len(sep)
        if current:
            chunks.append(current)
        at = next((n for n, ch in enumerate(chunks) if any(i == t for i, _ in ch)), 0)
        first = max(0, min(at, len(chunks) - PROBE_LINES))  # the line with t, and the next one(s)
        lines = []
        for ch in chunks[first: first + PROBE_LINES]:
            top, bottom = [], []
            for i, width in ch:
                c = html.escape(toks[i].ljust(width))
                if i == t:
                    c = f"<span style='background:{HIGHLIGHT}; color:black'><b>{c}</b></span>"
                top.append(c)
                if i < len(preds):
                    colour = "gray" if ok is None or ok[i] is None else (RIGHT if ok[i] else WRONG)
                    g = html.escape(preds[i].ljust(width))
                    if i == t:
                        g = f"<u>{g}</u>"
                    bottom.append(f"<span style='color:{colour}'>{g}</span>")
            lines.append("input&nbsp;&nbsp;" + sep.join(top))
            if bottom:
                lines.append("guess&nbsp;&nbsp;" + sep.join(bottom))
        return "<span style='white-space:pre'>" + "<br>".join(lines) + "</span>"
