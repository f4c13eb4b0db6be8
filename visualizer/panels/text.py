"""Text: samples of a language model at several temperatures, side by side.

Draws ``core.views.TextSamples`` (a continuation of the prime per temperature,
and an argmax line; the prime itself is not repeated) and the probe's
``ProbeText``. The controls are editors generated from the experiment's own live
sampling ``Param``s (``temperatures`` — a list, or one value from the slider —
``prime`` and ``sample_length``; the same parser and ranges as the settings
form); changing one sends ``SetLive(name, value)`` and asks for fresh samples.
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

import dataclasses

from core.config import ConfigError, Param
from core.probe import Probe, Snapshot
from core.views import ProbeText, TextSamples, View
from visualizer.panels.hidden import FONT_PT, HIGHLIGHT, RIGHT, WRONG, ContentPanel, clamp_t, font, verdicts
from visualizer.widgets.caption import Caption
from visualizer.widgets.param_form import make_field

# Used when the experiment declares no sampling parameters of its own.
DEFAULT_PARAMS = (
    Param("temperatures", "floats", (0.2, 0.6, 1.2), "Temperatures of the sample lines.", 0.01, 5.0, live=True),
    Param("prime", "str", "", "Text the samples start from.", live=True),
    Param("sample_length", "int", 200, "Length of each sample line.", 1, 2000, live=True),
)
PROBE_CHUNK = 64  # characters per probe line before it wraps (at most: narrower panels wrap sooner)
PROBE_LINES = 2  # probe lines shown: the one holding the selected timestep and the next
PROBE_SHORT_H = 420  # below this panel height the probe shows one line pair, so the samples keep the room
BOX_MIN_W = 200  # px: a sample box narrower than this wraps too often; the boxes go 4, 2 or 1 per row
CAPTION_MIN_H = 460  # below this panel height the probe's caption moves into the probe's tooltip
CONTROLS_ONE_ROW_W = 960  # from this panel width the two rows of controls share one row (narrower, the
# temperatures and the prime were squeezed to a few characters: "2, 0.6, 1.2", "(...")


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


class _SampleBox(QtWidgets.QFrame):
    """One sample: a one-line title (the temperature) over the wrapped monospace text, prime in grey.
    (A plain frame, not a group box: its title costs one small line, the text keeps the height.)"""

    def __init__(self, title: str):
        super().__init__()
        self.setObjectName("sampleBox")
        self.title_label = QtWidgets.QLabel(title)
        self.title_label.setFont(font(FONT_PT - 1, bold=True))
        self.title_label.setObjectName("sampleTitle")
        self.title_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        self.edit = QtWidgets.QTextEdit()
        self.edit.setReadOnly(True)
        self.edit.setFont(font(FONT_PT - 1, mono=True))
        self.edit.setLineWrapMode(QtWidgets.QTextEdit.LineWrapMode.WidgetWidth)
        self.edit.setWordWrapMode(QtGui.QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.edit.document().setDocumentMargin(2)
        # the scroll bar always there: shown only when a new sample overflowed, it narrowed the text, which
        # wrapped again (the lines jumped) and laid the panel out again, at about every new sample
        self.edit.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.edit.setMinimumHeight(self.line_height() * 2 + 8)
        self.edit.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        lay.addWidget(self.title_label)
        lay.addWidget(self.edit, 1)
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

    def title(self) -> str:
        return self.title_label.text()

    def line_height(self) -> int:
        return QtGui.QFontMetrics(self.edit.font()).lineSpacing()

    def visible_lines(self) -> float:
        """How many text lines the box shows at its current size."""
        return (self.edit.viewport().height() - 4) / max(self.line_height(), 1)


class TextPanel(ContentPanel):
    key = "text"
    title = "Generated text"
    draws = (TextSamples, ProbeText)

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.boxes: dict[float, _SampleBox] = {}
        self._last_refresh_step = 0
        self._step = 0
        self._words = False  # the probe is made of words (word-lm), not characters

        # -- controls: editors generated from the experiment's sampling Params (as in the settings form)
        cls = getattr(getattr(session, "spec", None), "cls", None)
        declared = {p.name: p for p in getattr(cls, "hyperparams", ())}
        params = {p.name: declared.get(p.name, p) for p in DEFAULT_PARAMS}
        self.temps_field = make_field(params["temperatures"])
        self.temps_edit = self.temps_field.edit
        self.temps_field.committed.connect(self._on_temps_edited)
        t = params["temperatures"]  # one temperature on a log slider, over the same range
        self.temp_field = make_field(dataclasses.replace(t, type="float", default=t.default[0], log=True,
                                                         help="One temperature: drag and release to sample "
                                                              "at just this temperature"))
        self.temp_slider, self.temp_value = self.temp_field.slider, self.temp_field.edit
        self.temp_field.set_value(0.6)
        self.temp_field.committed.connect(self._on_slider_released)
        self.prime_field = make_field(params["prime"])
        self.prime_edit = self.prime_field.edit
        self.prime_edit.setPlaceholderText("(start of a line)")
        self.prime_field.committed.connect(self._on_prime_edited)
        self.length_field = make_field(params["sample_length"])
        self.length_spin = self.length_field.spin
        self.length_spin.setPrefix("length ")
        # room for the prefix, the longest length and the arrows (squeezed, the row showed "length 20" for 200)
        self.length_spin.setMinimumWidth(self.length_spin.fontMetrics().horizontalAdvance(
            f"length {params['sample_length'].high}") + 40)
        self.length_field.committed.connect(self._on_length_changed)
        self.every_spin = QtWidgets.QSpinBox()
        self.every_spin.setRange(0, 99_999)
        self.every_spin.setValue(200)
        self.every_spin.setSingleStep(50)
        self.every_spin.setPrefix("every ")
        self.every_spin.setSuffix(" steps")
        self.every_spin.setSpecialValueText("never")
        self.every_spin.setToolTip("While training, ask for new samples every N steps (never = only on Regenerate)")
        self.regen_button = QtWidgets.QPushButton("Regenerate")
        self.regen_button.setToolTip("New samples now")

        self.regen_button.clicked.connect(self.regenerate)
        self.error_label = QtWidgets.QLabel("")
        self.error_label.setStyleSheet(f"color: {WRONG};")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)

        row1 = QtWidgets.QHBoxLayout()
        row2 = QtWidgets.QHBoxLayout()
        for lay, items in ((row1, (("T:", self.temps_field), ("or", self.temp_field),
                                   (None, self.regen_button))),
                           (row2, (("Prime:", self.prime_field), (None, self.length_field),
                                   (None, self.every_spin)))):
            for text, w in items:
                if text:
                    lab = QtWidgets.QLabel(text)
                    lab.setFont(font())
                    if text == "T:":
                        lab.setToolTip("Temperatures of the sample boxes (comma-separated)")
                    lay.addWidget(lab)
                if w is not None:
                    w.setFont(font())
                    lay.addWidget(w, 1 if w in (self.temps_field, self.prime_field) else 0)

        # -- probe line and samples
        self.probe_label = Caption("")
        self.probe_label.setFont(font(FONT_PT, mono=True))
        self.probe_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.probe_label.setWordWrap(False)
        # a long probe line is clipped at the panel's edge instead of widening the whole dock
        self.probe_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.probe_caption = QtWidgets.QLabel("Probe — under each token, the model's guess for the next "
                                              "(green right, red wrong); ← → move the highlight.")
        self.probe_caption.setFont(font(FONT_PT - 2))
        self.probe_caption.setWordWrap(True)  # wraps instead of being cut at the panel's edge
        self.probe_caption.setToolTip(self.probe_caption.text())
        self.probe_caption.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                         QtWidgets.QSizePolicy.Policy.Minimum)
        # the samples and the argmax line in a grid: 4, 2 or 1 per row as the width allows
        self.samples_row = QtWidgets.QGridLayout()
        self.samples_row.setSpacing(4)
        self._columns = 0
        self._chunk = PROBE_CHUNK
        self._probe_lines = PROBE_LINES
        self.argmax_box = _SampleBox("argmax (T → 0)")
        self.argmax_box.setToolTip("Greedy: always the likeliest next token (the limit T → 0)")


        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        # the two rows of controls share one row when the panel is wide (saves a line for the samples)
        self.controls = QtWidgets.QBoxLayout(QtWidgets.QBoxLayout.Direction.TopToBottom)
        self.controls.setSpacing(3)
        self.controls.addLayout(row1, 3)
        self.controls.addLayout(row2, 2)
        lay.addLayout(self.controls)

        lay.addWidget(self.error_label)
        lay.addWidget(self.probe_caption)
        lay.addWidget(self.probe_label)
        lay.addLayout(self.samples_row, 1)
        self.setMinimumSize(340, 300)
        self._take_config(getattr(getattr(session, "spec", None), "config", None))
        self._ensure_boxes(self._temperatures())
        session.live_param_changed.connect(lambda name, value, _step: self._take_config({name: value}))

    # -- controls -> session -----------------------------------------------------
    def _set_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _send(self, name: str, field: Any, value: Any = None) -> None:
        """Validate ``field`` by its Param (errors shown under the controls) and send the value."""
        try:
            value = field.value() if value is None else field.param.validate(value)
        except ConfigError as e:
            self._set_error(str(e))
            field.set_error(str(e))
            return
        field.set_error(None)
        self._set_error("")
        self.session.set_live(name, value)
        self.regenerate()

    def _temperatures(self) -> tuple[float, ...]:
        try:
            return tuple(self.temps_field.value())
        except ConfigError:
            return tuple(DEFAULT_PARAMS[0].default)

    def _on_temps_edited(self) -> None:
        self._send("temperatures", self.temps_field)

    def _on_slider_released(self) -> None:
        try:
            t = self.temp_field.value()
        except ConfigError as e:
            self._set_error(str(e))
            return
        self.temps_field.set_value((t,))
        self._send("temperatures", self.temps_field)

    def _on_prime_edited(self) -> None:
        self._send("prime", self.prime_field)

    def _on_length_changed(self) -> None:
        self._send("sample_length", self.length_field)

    def regenerate(self) -> None:
        self.session.refresh()
        self._last_refresh_step = self._step

    # -- hub -> panel ----------------------------------------------------------------
    def _take_config(self, config: Mapping[str, Any] | None) -> None:
        if not config:
            return
        for name, field in (("temperatures", self.temps_field), ("prime", self.prime_field),
                            ("sample_length", self.length_field)):
            if name in config:
                field.set_value(config[name])  # no signal: nothing is sent back

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
            self.session.refresh()

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
            self.boxes[t] = box
        self._columns = 0
        self._arrange_boxes()

    def all_boxes(self) -> list[_SampleBox]:
        """Every sample box shown (one per temperature, then the argmax line)."""
        return list(self.boxes.values()) + [self.argmax_box]

    def _arrange_boxes(self) -> None:
        """Lay the boxes out 4, 2 or 1 per row, so that each is at least BOX_MIN_W wide."""
        boxes = self.all_boxes()
        n = len(boxes)
        width = max(self.width() - 8, 1)
        cols = next((c for c in (n, 2, 1) if c <= n and width / c >= BOX_MIN_W), 1)
        if cols == self._columns:
            return
        self._columns = cols
        for box in boxes:
            self.samples_row.removeWidget(box)
        for c in range(4):
            self.samples_row.setColumnStretch(c, 0)
            self.samples_row.setRowStretch(c, 0)
        for i, box in enumerate(boxes):
            self.samples_row.addWidget(box, i // cols, i % cols)
        for c in range(cols):
            self.samples_row.setColumnStretch(c, 1)
        for r in range((n + cols - 1) // cols):
            self.samples_row.setRowStretch(r, 1)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._arrange_boxes()
        wide = self.width() >= CONTROLS_ONE_ROW_W
        self.controls.setDirection(QtWidgets.QBoxLayout.Direction.LeftToRight if wide
                                   else QtWidgets.QBoxLayout.Direction.TopToBottom)
        roomy = self.height() >= CAPTION_MIN_H
        if roomy != self.probe_caption.isVisibleTo(self):
            self.probe_caption.setVisible(roomy)  # short panel: the explanation stays in the tooltip
        self.probe_label.setToolTip("" if roomy else self.probe_caption.text())

        lines = 1 if self.height() < PROBE_SHORT_H else PROBE_LINES
        fm = QtGui.QFontMetrics(self.probe_label.font())
        chunk = int(min(PROBE_CHUNK, max(16, (self.width() - 12) // max(fm.horizontalAdvance("m"), 1) - 8)))
        if (lines, chunk) != (self._probe_lines, self._chunk):
            self._probe_lines, self._chunk = lines, chunk
            if self.probe is not None:
                self._on_timestep(self.current_t())

    def _on_view(self, view: View) -> None:
        if not isinstance(view, TextSamples):
            return
        self.redraws += 1
        self._ensure_boxes(tuple(t for t, _ in view.samples))
        prime = view.prime
        if self._words and prime and not prime[-1].isspace():
            prime += " "  # word models: the continuation is the next word, not the same one
        for t, text in view.samples:
            self.boxes[t].set_text(prime, text)
        self.argmax_box.set_text(prime, view.argmax)

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
        text = self.probe_html(p, t, self._chunk, self._probe_lines)
        if text != self.probe_label.text():  # a rich-text relayout costs ~1 ms: skip when unchanged
            self.probe_label.setText(text)

    @staticmethod
    def probe_html(p: Probe, t: int, chunk: int = PROBE_CHUNK, max_lines: int = PROBE_LINES) -> str:
        """Two monospace lines per chunk: the probe tokens (token t highlighted) and, under each token,
        the model's guess for the next one (green right, red wrong). Characters sit side by side;
        words (word-lm) are padded to a common width and separated by a space so the rows line up."""
        v = p.view(ProbeText)
        text = None if v is None else v.text
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
            if current and used + width > chunk:
                chunks.append(current)
                current, used = [], 0
            current.append((i, width))
            used += width + len(sep)
        if current:
            chunks.append(current)
        at = next((n for n, ch in enumerate(chunks) if any(i == t for i, _ in ch)), 0)
        first = max(0, min(at, len(chunks) - max_lines))  # the line with t, and the next one(s)
        lines = []
        for ch in chunks[first: first + max_lines]:

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
