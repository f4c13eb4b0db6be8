"""A hyperparameter form generated from an experiment's ``params`` declaration.

One editor per ``core.config.Param``: a slider plus a text field for floats
(log-scale slider when ``log=True``), a spin box for ints, a checkbox for bools,
a combo box for choices, a line edit for text, paths (with a browse button) and
lists of floats. Tooltips are the help lines.

Live parameters emit ``live_changed(name, value)`` when the user commits an edit
(slider released, Enter pressed, focus left). Structural parameters are only
*marked pending* (``pending_changed``) until the window rebuilds the model with
``pending()`` applied. Invalid input is shown on the field and reported through
``invalid(message)``; nothing is applied then.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from PySide6 import QtCore, QtWidgets

from core.config import ConfigError, Param

SLIDER_STEPS = 1000


def format_value(value: Any) -> str:
    """Compact text for a value: 0.03, 1e-05, 128, true, "0.2, 0.6, 1.2"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


class _Field(QtWidgets.QWidget):
    """Base editor: ``value()``, ``set_value(v)`` (no signal), ``committed`` when the user is done."""

    committed = QtCore.Signal()

    def __init__(self, param: Param):
        super().__init__()
        self.param = param
        self.error = ""
        self.setToolTip(param.help)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(1)
        self.layout_ = QtWidgets.QHBoxLayout()
        self.layout_.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(self.layout_)
        # the reason a value is refused, next to the field (the same rule for every field and value)
        self.error_label = QtWidgets.QLabel("")
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        outer.addWidget(self.error_label)

    def raw(self) -> Any:  # the unvalidated value
        raise NotImplementedError

    def value(self) -> Any:
        """The validated value; raises ConfigError naming the field."""
        return self.param.validate(self.raw())

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def set_error(self, message: str | None) -> None:
        """Mark the field invalid and show why right under it (``None``: valid again)."""
        self.error = message or ""
        self.setProperty("invalid", bool(message))
        self.setToolTip(self.param.help + (f"\n\n⚠ {message}" if message else ""))
        for w in self.findChildren(QtWidgets.QWidget):
            w.style().unpolish(w)
            w.style().polish(w)
        self.error_label.setText(f"⚠ {message}" if message else "")
        self.error_label.setVisible(bool(message))


class _FloatField(_Field):
    """Slider (linear or log) + text field."""

    def __init__(self, param: Param):
        super().__init__(param)
        self.edit = QtWidgets.QLineEdit()
        self.edit.setMaximumWidth(110)
        self.edit.editingFinished.connect(self._on_edit)
        lo, hi = param.low, param.high
        self.log = bool(param.log and lo is not None and lo > 0 and hi is not None)
        self.slider = None
        if lo is not None and hi is not None and hi > lo:
            self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
            self.slider.setRange(0, SLIDER_STEPS)
            self.slider.setMinimumWidth(60)
            self.slider.valueChanged.connect(self._on_slide)
            self.slider.sliderReleased.connect(self.committed)
            self.layout_.addWidget(self.slider, 1)
        self.layout_.addWidget(self.edit)
        self._last_text = ""

    def _to_slider(self, v: float) -> int:
        lo, hi = self.param.low, self.param.high
        if self.log:
            f = (math.log(max(v, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            f = (v - lo) / (hi - lo)
        return int(round(min(max(f, 0.0), 1.0) * SLIDER_STEPS))

    def _from_slider(self, i: int) -> float:
        lo, hi = self.param.low, self.param.high
        f = i / SLIDER_STEPS
        v = math.exp(math.log(lo) + f * (math.log(hi) - math.log(lo))) if self.log else lo + f * (hi - lo)
        return float(f"{v:.3g}")  # round numbers: 0.0301 -> 0.0301, 3.0e-5

    def _on_slide(self, i: int) -> None:
        self.edit.setText(format_value(self._from_slider(i)))
        if not self.slider.isSliderDown():  # keyboard / click on the groove: commit at once
            self.committed.emit()

    def _on_edit(self) -> None:
        if self.edit.text() != self._last_text:
            self._last_text = self.edit.text()
            try:
                v = self.value()
            except ConfigError:
                pass
            else:
                if self.slider is not None:
                    self.slider.blockSignals(True)
                    self.slider.setValue(self._to_slider(v))
                    self.slider.blockSignals(False)
            self.committed.emit()

    def raw(self) -> Any:
        return self.edit.text()

    def set_value(self, value: Any) -> None:
        self.edit.setText(format_value(value))
        self._last_text = self.edit.text()
        if self.slider is not None:
            self.slider.blockSignals(True)
            self.slider.setValue(self._to_slider(float(value)))
            self.slider.blockSignals(False)


class _RangeSpin(QtWidgets.QSpinBox):
    """A spin box that takes any typed integer (validation says what is wrong) but whose arrows and
    wheel stay inside [low, high]."""

    def __init__(self, low: float | None, high: float | None):
        super().__init__()
        self.low = None if low is None else int(low)
        self.high = None if high is None else int(high)
        self.setRange(-(2**31) + 1, 2**31 - 1)

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt name)
        v = self.value() + steps * self.singleStep()
        if self.low is not None:
            v = max(v, self.low)
        if self.high is not None:
            v = min(v, self.high)
        self.setValue(int(v))

    def stepEnabled(self) -> QtWidgets.QAbstractSpinBox.StepEnabledFlag:  # noqa: N802
        flags = QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepNone
        if self.low is None or self.value() > self.low:
            flags |= QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if self.high is None or self.value() < self.high:
            flags |= QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 (the range's 10 digits would make it very wide)
        return QtCore.QSize(min(super().sizeHint().width(), 120), super().sizeHint().height())

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(min(super().minimumSizeHint().width(), 90), super().minimumSizeHint().height())


class _IntField(_Field):
    def __init__(self, param: Param):
        super().__init__(param)
        # the box accepts any integer: a value out of the Param's range is refused with its reason next
        # to the field (a QSpinBox would silently cut 999999 to its maximum); the arrows stop at the range
        self.spin = _RangeSpin(param.low, param.high)
        self.spin.setKeyboardTracking(False)  # valueChanged on Enter / focus out / arrows only
        self.spin.valueChanged.connect(self.committed)
        self.spin.setMinimumWidth(90)
        self.layout_.addWidget(self.spin)
        self.layout_.addStretch(1)

    def raw(self) -> Any:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(int(value))
        self.spin.blockSignals(False)


class _BoolField(_Field):
    def __init__(self, param: Param):
        super().__init__(param)
        self.check = QtWidgets.QCheckBox()
        self.check.toggled.connect(self.committed)
        self.layout_.addWidget(self.check)
        self.layout_.addStretch(1)

    def raw(self) -> Any:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self.check.blockSignals(True)
        self.check.setChecked(bool(value))
        self.check.blockSignals(False)


class _ChoiceField(_Field):
    def __init__(self, param: Param):
        super().__init__(param)
        self.combo = QtWidgets.QComboBox()
        self.combo.addItems(list(param.options()))
        self.combo.currentIndexChanged.connect(self.committed)
        self.layout_.addWidget(self.combo, 1)

    def raw(self) -> Any:
        return self.combo.currentText()

    def set_value(self, value: Any) -> None:
        self.combo.blockSignals(True)
        self.combo.setCurrentText(str(value))
        self.combo.blockSignals(False)


class _TextField(_Field):
    """str, path (with a browse button) and floats (comma-separated)."""

    def __init__(self, param: Param):
        super().__init__(param)
        self.edit = QtWidgets.QLineEdit()
        if param.type == "path":
            self.edit.setPlaceholderText("(built-in default)")
        elif param.type == "floats":
            self.edit.setPlaceholderText("e.g. 0.2, 0.6, 1.2")
        self.edit.editingFinished.connect(self._on_edit)
        self.layout_.addWidget(self.edit, 1)
        self._last_text = ""
        if param.type == "path":
            browse = QtWidgets.QToolButton()
            browse.setText("…")
            browse.setToolTip(f"Choose a {'folder' if param.kind == 'dir' else 'file'}")
            browse.clicked.connect(self._browse)
            self.layout_.addWidget(browse)

    def _on_edit(self) -> None:
        if self.edit.text() != self._last_text:
            self._last_text = self.edit.text()
            self.committed.emit()

    def _browse(self) -> None:
        if self.param.kind == "dir":
            path = QtWidgets.QFileDialog.getExistingDirectory(self, self.param.name)
        else:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, self.param.name)
        if path:
            self.edit.setText(path)
            self._on_edit()

    def raw(self) -> Any:
        return self.edit.text()

    def set_value(self, value: Any) -> None:
        self.edit.setText(format_value(value))
        self._last_text = self.edit.text()


def make_field(param: Param) -> _Field:
    if param.type == "bool":
        return _BoolField(param)
    if param.options():
        return _ChoiceField(param)
    if param.type == "int":
        return _IntField(param)
    if param.type == "float":
        return _FloatField(param)
    return _TextField(param)


class ParamForm(QtWidgets.QWidget):
    """The form for one experiment. ``applied`` is the running model's config."""

    live_changed = QtCore.Signal(str, object)  # name, validated value
    pending_changed = QtCore.Signal(bool)  # structural edits waiting for "Apply & restart"
    invalid = QtCore.Signal(str)  # a message naming the field, the value and what is accepted

    def __init__(self, params: tuple[Param, ...], values: Mapping[str, Any], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.params = tuple(params)
        self.fields: dict[str, _Field] = {}
        self.labels: dict[str, QtWidgets.QLabel] = {}
        self.applied: dict[str, Any] = dict(values)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        groups = (("Live — applied at once", [p for p in self.params if p.live]),
                  ("Structure — on restart", [p for p in self.params if not p.live]))
        for title, params_ in groups:
            if not params_:
                continue
            box = QtWidgets.QGroupBox(title)
            box.setToolTip("Applied to the running model at once" if params_[0].live else
                           "Changes rebuild the model: press Apply & restart (● marks pending edits)")
            form = QtWidgets.QFormLayout(box)
            form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for p in params_:
                field = make_field(p)
                field.set_value(self.applied.get(p.name, p.default))
                field.committed.connect(self._make_commit(p.name))
                label = QtWidgets.QLabel(p.name)
                label.setToolTip(p.help)
                self.fields[p.name] = field
                self.labels[p.name] = label
                form.addRow(label, field)
            outer.addWidget(box)
        outer.addStretch(1)

    def _make_commit(self, name: str) -> Callable[[], None]:
        return lambda: self._commit(name)

    def _commit(self, name: str) -> None:
        field = self.fields[name]
        try:
            value = field.value()
        except ConfigError as exc:
            field.set_error(str(exc))
            self.invalid.emit(str(exc))
            return
        field.set_error(None)
        if field.param.live:
            if value != self.applied.get(name):
                self.applied[name] = value
                self.live_changed.emit(name, value)
        else:
            self._mark(name, value != self.applied.get(name))
            self.pending_changed.emit(bool(self.pending()))

    def _mark(self, name: str, pending: bool) -> None:
        label = self.labels[name]
        label.setText(f"● {name}" if pending else name)
        label.setProperty("pending", pending)
        label.style().unpolish(label)
        label.style().polish(label)

    # -- public API ------------------------------------------------------------
    def set_value(self, name: str, value: Any) -> None:
        """Set a field as if the user typed it and committed (for tests and presets)."""
        self.fields[name].set_value(value)
        self._commit(name)

    def show_value(self, name: str, value: Any) -> None:
        """A live value applied elsewhere (another panel, a checkpoint): show it, emit nothing."""
        if name in self.fields and self.fields[name].param.live:
            self.applied[name] = value
            self.fields[name].set_value(value)
            self.fields[name].set_error(None)

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` as the applied config (after a rebuild/load): clears pending marks."""
        self.applied = dict(values)
        for name, field in self.fields.items():
            if name in values:
                field.set_value(values[name])
            field.set_error(None)
            self._mark(name, False)
        self.pending_changed.emit(False)

    def pending(self) -> dict[str, Any]:
        """Structural values edited but not applied yet (valid ones only)."""
        out = {}
        for p in self.params:
            if p.live:
                continue
            try:
                v = self.fields[p.name].value()
            except ConfigError:
                continue
            if v != self.applied.get(p.name):
                out[p.name] = v
        return out

    def values(self) -> dict[str, Any]:
        """The config the form shows: applied values with valid edits on top."""
        return {**self.applied, **self.pending()}
