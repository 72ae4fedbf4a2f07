"""The training panel: settings, Start/Stop, live loss curves, progress, ETA and previews."""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QStandardPaths, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..env import runs_dir
from ..model_settings import SettingField
from ..tasks.live_training import Preview, train_task
from .mosaic import MosaicView, Panel
from .session import Session

FORM_LEAST = 90  # px of the settings form kept on a short screen (it scrolls on its own)
PLOT_ROOM = 40  # px the loss plot gets above its minimum before the form takes more room
CURVE_COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14),
                 (148, 103, 189), (140, 86, 75)]
# Model settings with widgets of their own in the form; the model's other settings are generated.
SHOWN_SETTINGS = ("latent_dim", "width", "noise_std")


def runs_root() -> Path:
    """Where new runs go: $GENAE_STUDIO_RUNS or Documents/genae-studio/runs."""
    if runs_dir() is not None:
        return runs_dir()
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs or Path.home()) / "genae-studio" / "runs"


class TrainPanel(QWidget):
    """Train a model; the finished (or stopped) run is announced with ``trained(path)``."""

    trained = pyqtSignal(object, str)  # Path of the run folder, what was done

    def __init__(self, session: Session, parent=None):
        super().__init__(parent)
        self.session = session
        self.job = None
        self.out: Path | None = None
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.data: dict[str, tuple[list, list]] = {}
        self.last_progress = None
        self._first: int | None = None  # the first global step of this session (resume)
        self._started = 0.0
        self._build()
        self._timer = QTimer(self, singleShot=True, interval=200)
        self._timer.timeout.connect(self._draw_curves)
        self._update_enabled()

    # --- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        host = self.session.host
        self.model_combo = QComboBox()
        for spec in host.models.values():
            self.model_combo.addItem(spec.name)
            self.model_combo.setItemData(self.model_combo.count() - 1,
                                         f"{spec.description} (plugin {spec.plugin})",
                                         Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setToolTip("The model to train (every loaded plugin's models)")
        self.model_combo.currentTextChanged.connect(self._model_changed)
        self.data_combo = QComboBox(editable=True)
        self.data_combo.addItems([n for n, s in host.datasets.items() if s.detect is None])
        self.data_combo.setToolTip("A built-in dataset, or type / browse to a folder or file")
        browse_data = QToolButton(text="…")
        browse_data.setToolTip("Choose a folder of images or a dataset file")
        browse_data.clicked.connect(self._browse_data)
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=20)
        self.batch = QSpinBox(minimum=2, maximum=4096, value=64)
        self.lr = QDoubleSpinBox(minimum=1e-6, maximum=1.0, decimals=6, singleStep=1e-4,
                                 value=2e-4)
        # Latent size, noise std and width show the model's registered defaults (_model_changed).
        self.latent = QSpinBox(minimum=1, maximum=4096)
        self.epochs.setToolTip("Passes over the training images (the paper: 20)")
        self.batch.setToolTip("Images per optimiser step (the paper: 64)")
        self.lr.setToolTip("Adam learning rate (the paper: 0.0002, beta1 0.5)")
        self.latent.setToolTip("Size of the latent code z (the model's default; the paper: 200)")
        self.noise = QDoubleSpinBox(minimum=0.0, maximum=5.0, singleStep=0.05)
        self.noise.setToolTip("Corruption std of denoising models (0.5: variance 0.25 as in "
                              "the paper)")
        self.width_spin = QSpinBox(minimum=4, maximum=512)
        self.width_spin.setToolTip("Filters in the first conv layer (DCGAN: 64)")
        self.size_combo = QComboBox()
        self.size_combo.addItems(["dataset", "32", "64"])
        self.size_combo.setToolTip("Image size; 'dataset' uses the dataset's own")
        self.limit = QSpinBox(minimum=0, maximum=10_000_000, value=0, specialValueText="all")
        self.limit.setToolTip("Use only the first N training images (all: 0)")
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda"])
        self.device_combo.setToolTip("Where training runs: auto picks cuda, then mps, then cpu")
        self.precision_combo = QComboBox()
        self.precision_combo.addItems(["auto", "fp32", "bf16"])
        self.precision_combo.setToolTip(
            "bf16: bfloat16 autocast with fp32 weights and losses, faster on CPUs with "
            "AVX512-BF16/AMX and on recent GPUs; refused where bfloat16 is not native.\n"
            "auto: bf16 on GPUs that support it, fp32 elsewhere")
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText(f"auto: {runs_root()}/MODEL-DATE")
        self.out_edit.setToolTip("The run folder to write (config, weights, training state)")
        browse_out = QToolButton(text="…")
        browse_out.setToolTip("Choose the run folder")
        browse_out.clicked.connect(self._browse_out)

        self.start_button = QPushButton("Start training")
        self.start_button.setToolTip("Train in the background; the result becomes the active "
                                     "run  [Ctrl+T]")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after this batch; the checkpoint is kept  "
                                    "[Ctrl+Shift+T]")
        self.stop_button.clicked.connect(self.stop)
        fields = [("Model", self.model_combo), ("Dataset", _row(self.data_combo, browse_data)),
                  ("Epochs", self.epochs), ("Batch size", self.batch),
                  ("Learning rate", self.lr), ("Latent size", self.latent),
                  ("Noise std", self.noise), ("Width", self.width_spin),
                  ("Image size", self.size_combo), ("Limit", self.limit),
                  ("Device", self.device_combo), ("Precision", self.precision_combo),
                  ("Run folder", _row(self.out_edit, browse_out))]
        form = QGridLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(6)
        for k, (label, widget) in enumerate(fields):
            row, col = divmod(k, 2)
            form.addWidget(QLabel(label), row, 2 * col)
            form.addWidget(widget, row, 2 * col + 1)
        rows = (len(fields) + 1) // 2
        form.addWidget(self._make_model_box(), rows, 0, 1, 4)  # the model's own settings
        rows += 1
        form.setRowStretch(rows, 1)
        self.form = form
        left = QWidget()
        left.setLayout(form)
        # The form scrolls on its own: on a short screen the loss curves and the preview
        # stay in view, however many settings the form has (_fit_split).
        self.form_area = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self.form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.form_area.setWidget(left)
        self.form_area.setMinimumHeight(FORM_LEAST)

        self.bar = QProgressBar()
        self.bar.setFormat("%p%")
        self.bar_label = QLabel("Not training.", wordWrap=True)
        self.log_box = QCheckBox("log scale", checked=True)
        self.log_box.setToolTip("Loss axis on a log scale")
        self.log_box.toggled.connect(lambda on: self.plot.setLogMode(False, on))
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(160)
        self.plot.setLogMode(False, True)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "batch")
        self.plot.setLabel("left", "loss")
        self.plot.addLegend(offset=(-8, 8), labelTextColor=(30, 30, 30),
                            brush=(255, 255, 255, 200))
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()  # below the form, never scrolled away with it
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.stop_button, 1)
        ml.addLayout(buttons)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.bar, 1)
        bar_row.addWidget(self.log_box)
        ml.addLayout(bar_row)
        ml.addWidget(self.bar_label)
        ml.addWidget(self.plot, 1)
        self.preview = MosaicView()
        self.preview.setMinimumHeight(110)
        self.preview.setToolTip("Held-out images, their reconstructions, and samples decoded "
                                "from fixed prior codes")
        self.preview.set_placeholder("Reconstructions and samples appear while training")
        self.preview_label = QLabel("Preview", wordWrap=True)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.preview_label)
        rl.addWidget(self.preview, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        for w in (self.form_area, middle, right):
            split.addWidget(w)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 2)
        for k in range(3):
            split.setCollapsible(k, False)
        self.split = split
        self._user_split = False  # the user moved a handle: the sizes are theirs
        split.splitterMoved.connect(lambda *_: setattr(self, "_user_split", True))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)
        self._model_changed(self.model_combo.currentText())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self._user_split:
            self._fit_split()

    def _fit_split(self) -> None:
        """The whole form where it fits beside a readable loss plot and the preview; on a
        short screen the form gives way (it scrolls) and the curves stay above the fold."""
        split = self.split
        total = split.height() - 2 * split.handleWidth()
        middle, right = (split.widget(k).minimumSizeHint().height() for k in (1, 2))
        natural = self.form_area.widget().sizeHint().height()
        form = max(FORM_LEAST, min(natural, total - middle - PLOT_ROOM - right))
        rest = max(0, total - form)
        split.setSizes([form, rest * 2 // 3, rest - rest * 2 // 3])

    def _model_changed(self, name: str) -> None:
        """Show the model's registered defaults, as the command line would use them."""
        spec = self.session.host.models.get(name)
        self.noise.setEnabled(bool(spec and spec.denoising))
        if spec is not None:
            self.latent.setValue(spec.config.latent_dim)
            self.width_spin.setValue(spec.config.width)
            self.noise.setValue(spec.config.noise_std)
            chosen = self.size_combo.currentText()
            self.size_combo.clear()  # the sizes the model builds (ModelSpec.image_sizes)
            self.size_combo.addItems(["dataset", *map(str, spec.image_sizes)])
            self.size_combo.setCurrentText(chosen)
        self._make_model_fields(spec)

    def _make_model_box(self) -> QGroupBox:
        """The box of the model's own settings (its config's other fields), filled per model
        by ``_make_model_fields``."""
        self.model_box = QGroupBox("Model settings")
        self.model_box.setToolTip("The fields of the model's config (its plugin's ModelConfig "
                                  "subclass); on the command line: train --set NAME=VALUE")
        self.model_form = QGridLayout(self.model_box)
        self.model_form.setContentsMargins(4, 4, 4, 4)
        self.model_fields: dict[str, tuple[SettingField, QWidget]] = {}
        return self.model_box

    def _make_model_fields(self, spec) -> None:
        """One widget per setting of the model beyond those the form shows, by its type."""
        while self.model_form.count():
            old = self.model_form.takeAt(0).widget()
            old.hide()
            old.deleteLater()
        self.model_fields = {}
        extra = [f for f in (spec.settings().values() if spec else ())
                 if f.name not in SHOWN_SETTINGS]
        for k, field in enumerate(extra):
            widget = _setting_widget(field)
            widget.setObjectName(f"setting_{field.name}")
            widget.setToolTip(f"{field.name}: {field.type_name}, default {field.default!r} "
                              f"(command line: --set {field.name}=VALUE)")
            self.model_fields[field.name] = (field, widget)
            row, col = divmod(k, 2)
            self.model_form.addWidget(QLabel(field.name), row, 2 * col)
            self.model_form.addWidget(widget, row, 2 * col + 1)
        self.model_box.setVisible(bool(extra))
        if not getattr(self, "_user_split", True):  # built before the splitter: fitted then
            self._fit_split()

    def model_settings(self) -> dict:
        """The model's settings changed from their defaults: text where the user types."""
        changed = {}
        for name, (field, widget) in self.model_fields.items():
            value = _widget_value(widget)
            if value != _widget_text(field):
                changed[name] = value
        return changed

    def _browse_data(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder of images")
        if path:
            self.data_combo.setCurrentText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the run folder")
        if path:
            self.out_edit.setText(path)

    # --- settings --------------------------------------------------------------------------
    def settings(self):
        from ..training import TrainSettings

        size = self.size_combo.currentText()
        return TrainSettings(
            model=self.model_combo.currentText(), data=self.data_combo.currentText().strip(),
            epochs=self.epochs.value(), batch_size=self.batch.value(), lr=self.lr.value(),
            latent_dim=self.latent.value(), image_size=None if size == "dataset" else int(size),
            width=self.width_spin.value(), noise_std=self.noise.value(),
            device=self.device_combo.currentText(), limit=self.limit.value() or None,
            precision=self.precision_combo.currentText(), model_settings=self.model_settings())

    def state(self) -> dict:
        state = {k: v for k, v in vars(self.settings()).items() if k != "betas"}
        state["model_settings"] = json.dumps(state["model_settings"])
        return state

    def restore(self, state: dict) -> None:
        def get(key, cast, default):
            try:
                return cast(state.get(key, default))
            except (TypeError, ValueError):
                return default

        if state.get("model") in self.session.host.models:
            self.model_combo.setCurrentText(state["model"])  # shows the model's defaults
        self.data_combo.setCurrentText(str(state.get("data") or self.data_combo.itemText(0)))
        self.epochs.setValue(get("epochs", int, 20))
        self.batch.setValue(get("batch_size", int, 64))
        self.lr.setValue(get("lr", float, 2e-4))
        self.latent.setValue(get("latent_dim", int, self.latent.value()))
        self.noise.setValue(get("noise_std", float, self.noise.value()))
        self.width_spin.setValue(get("width", int, self.width_spin.value()))
        size = state.get("image_size")
        self.size_combo.setCurrentText(str(size) if size and str(size) != "None" else "dataset")
        limit = state.get("limit")
        self.limit.setValue(get("limit", int, 0) if limit not in (None, "None") else 0)
        self.device_combo.setCurrentText(str(state.get("device") or "auto"))
        precision = str(state.get("precision") or "auto")
        self.precision_combo.setCurrentText(precision if precision in ("fp32", "bf16")
                                            else "auto")
        try:
            saved = json.loads(state.get("model_settings") or "{}")
        except (TypeError, ValueError):
            saved = {}
        for name, value in (saved.items() if isinstance(saved, dict) else ()):
            if name in self.model_fields:
                _set_widget_value(self.model_fields[name][1], value)

    # --- training --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None

    def _update_enabled(self) -> None:
        self.start_button.setEnabled(not self.running)
        self.stop_button.setEnabled(self.running)

    def start(self) -> None:
        if self.running:
            return
        settings = self.settings()
        text = self.out_edit.text().strip()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out = Path(text) if text else runs_root() / f"{settings.model}-{stamp}"
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.plot.plotItem.legend.clear()
        self.curves, self.data, self.last_progress, self._first = {}, {}, None, None
        self.bar.setValue(0)
        self.bar_label.setText(f"Starting: {settings.model} on {settings.data} → {self.out}")
        self._started = time.perf_counter()
        self.job = self.session.jobs.start(
            "Training", train_task, settings=settings, out=self.out, host=self.session.host,
            key="train",
            on_yield=self._update, on_return=self._done, on_finish=self._finished,
            essential=True)
        self._update_enabled()

    def stop(self) -> None:
        if self.job is not None:
            self.job.abort()
            self.bar_label.setText("Stopping after this batch; the checkpoint is kept…")

    def _update(self, value) -> None:
        if isinstance(value, Preview):
            self._show_preview(value)
            return
        for step, losses in zip(value.steps, value.losses, strict=True):
            for name, loss in losses.items():
                xs, ys = self.data.setdefault(name, ([], []))
                xs.append(step)
                ys.append(loss)
        p = value.progress
        self.last_progress = p
        total = p.epochs * p.steps_per_epoch
        done = p.epoch * p.steps_per_epoch + p.step
        self.bar.setMaximum(total)
        self.bar.setValue(done)
        if self._first is None:
            self._first = value.steps[0] - 1
        eta = (total - done) * p.elapsed_s / max(1, done - self._first)
        losses = "  ".join(f"{k} {v:.4g}" for k, v in p.losses.items())
        self.bar_label.setText(f"epoch {p.epoch + 1}/{p.epochs} · batch {p.step}/"
                               f"{p.steps_per_epoch} · {p.images_per_s:,.0f} images/s · "
                               f"ETA {_duration(eta)} · {losses}")
        if not self._timer.isActive():
            self._timer.start()

    def _draw_curves(self) -> None:
        for k, (name, (xs, ys)) in enumerate(self.data.items()):
            curve = self.curves.get(name)
            if curve is None:
                colour = CURVE_COLOURS[k % len(CURVE_COLOURS)]
                curve = self.plot.plot(pen=pg.mkPen(colour, width=1.5), name=name)
                self.curves[name] = curve
            curve.setData(np.asarray(xs), np.asarray(ys))

    def _show_preview(self, p: Preview) -> None:
        rows = np.concatenate([p.recon, p.samples])
        self.preview.set_panels([Panel(rows)])
        self.preview_label.setText(f"Epoch {p.epoch + 1}, batch {p.step}. Rows: held-out "
                                   "images, reconstructions, samples")

    def _done(self, result) -> None:
        self._draw_curves()
        summary = trained_summary(result.stopped, self.last_progress,
                                  time.perf_counter() - self._started)
        self.bar_label.setText(f"{summary}; run saved to {result.out}")
        if not result.stopped:
            self.bar.setValue(self.bar.maximum())
        self.trained.emit(Path(result.out), summary)

    def _finished(self) -> None:
        self.job = None
        self._update_enabled()


def trained_summary(stopped: bool, progress, seconds: float) -> str:
    """"Training stopped after 8 of 8 batches (1 epoch) in 3:05": batches counted from the
    last progress report, whole epochs from them (a stop after an epoch's last batch counts
    that epoch)."""
    what = "stopped" if stopped else "finished"
    if progress is None:
        return f"Training {what} before its first batch, in {_duration(seconds)}"
    per = max(1, progress.steps_per_epoch)
    done = progress.epoch * per + progress.step
    total = progress.epochs * per
    epochs, rest = divmod(done, per)
    count = f"{epochs} epoch{'s' if epochs != 1 else ''}" + (f" and {rest} batches" if rest
                                                              else "")
    return f"Training {what} after {done} of {total} batches ({count}) in {_duration(seconds)}"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _widget_text(field: SettingField):
    """A setting's default as its widget holds it: a bool, an int, or text."""
    if field.kind in (bool, int) and field.default is not None:
        return field.default
    if field.kind is str and field.default is not None:
        return field.default
    return "none" if field.default is None else json.dumps(field.default)


def _setting_widget(field: SettingField) -> QWidget:
    """A check box for a bool, a spin box for an int, a line edit for the rest."""
    default = _widget_text(field)
    if isinstance(default, bool):
        return QCheckBox(checked=default)
    if isinstance(default, int):
        return QSpinBox(minimum=-10**9, maximum=10**9, value=default)
    return QLineEdit(default)


def _widget_value(widget: QWidget):
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QSpinBox):
        return widget.value()
    return widget.text().strip()


def _set_widget_value(widget: QWidget, value) -> None:
    try:
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        else:
            widget.setText(str(value))
    except (TypeError, ValueError):
        pass  # a saved value of another type: keep the default


def _row(*widgets) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        lay.addWidget(x)
    return w
