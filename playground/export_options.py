"""The choices an export asks for before its file dialog: a figure's pixel size and DPI, an
animation's size, frame rate and training-step range. One small form each; Cancel exports
nothing. Plain values out, so the exporters never read a widget."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtWidgets


@dataclass(frozen=True)
class ImageOptions:
    size: tuple[int, int] | None  # None: the view's own size
    dpi: float


@dataclass(frozen=True)
class AnimationOptions:
    size: tuple[int, int]
    fps: float
    steps: tuple[int | None, int | None]  # training-step range, None: open end


def _spin(low: int, high: int, value: int, suffix: str = "") -> QtWidgets.QSpinBox:
    spin = QtWidgets.QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin


class _Form(QtWidgets.QDialog):
    def __init__(self, parent, title: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QtWidgets.QFormLayout(self)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons

    def finish(self) -> None:
        self.form.addRow(self.buttons)


class ImageOptionsDialog(_Form):
    """Pixel size (or the view's own) and DPI of a PNG; SVG takes the size only."""

    def __init__(self, parent, view_size: tuple[int, int], kind: str = "png") -> None:
        super().__init__(parent, f"Export {kind.upper()}")
        self.own_size = QtWidgets.QCheckBox("the view's size on screen")
        self.own_size.setChecked(True)
        self.width = _spin(64, 8000, max(64, view_size[0]), " px")
        self.height = _spin(64, 8000, max(64, view_size[1]), " px")
        self.dpi = _spin(72, 1200, 192, " dpi")
        self.form.addRow(self.own_size)
        self.form.addRow("width", self.width)
        self.form.addRow("height", self.height)
        if kind == "png":
            self.form.addRow("resolution", self.dpi)
        self.own_size.toggled.connect(self._on_own_size)
        self._on_own_size(True)
        self.finish()

    def _on_own_size(self, own: bool) -> None:
        self.width.setEnabled(not own)
        self.height.setEnabled(not own)

    def options(self) -> ImageOptions:
        size = None if self.own_size.isChecked() else (self.width.value(), self.height.value())
        return ImageOptions(size=size, dpi=float(self.dpi.value()))


class AnimationOptionsDialog(_Form):
    """Size, frame rate and the training steps to animate (the recorded history's range)."""

    def __init__(self, parent, first_step: int, last_step: int, sweep: bool = False) -> None:
        super().__init__(parent, "Export animation")
        self.width = _spin(320, 3840, 1280, " px")
        self.height = _spin(240, 2160, 800, " px")
        self.fps = _spin(1, 60, 10, " frames/s")
        self.first = _spin(first_step, max(first_step, last_step), first_step)
        self.last = _spin(first_step, max(first_step, last_step), last_step)
        self.form.addRow("width", self.width)
        self.form.addRow("height", self.height)
        self.form.addRow("frame rate", self.fps)
        if not sweep:
            self.form.addRow("from training step", self.first)
            self.form.addRow("to training step", self.last)
        self.finish()

    def options(self) -> AnimationOptions:
        low, high = sorted((self.first.value(), self.last.value()))
        return AnimationOptions(
            size=(self.width.value(), self.height.value()),
            fps=float(self.fps.value()),
            steps=(low, high),
        )


def ask_image_options(parent, view, kind: str) -> ImageOptions | None:
    dialog = ImageOptionsDialog(parent, (view.width(), view.height()), kind)
    return dialog.options() if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted else None


def ask_animation_options(parent, steps: list[int], sweep: bool) -> AnimationOptions | None:
    first, last = (min(steps), max(steps)) if steps else (0, 0)
    dialog = AnimationOptionsDialog(parent, first, last, sweep)
    return dialog.options() if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted else None
