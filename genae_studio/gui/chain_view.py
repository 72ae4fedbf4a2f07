"""The chain view: a grid of N chains from z0 ~ P(Z), stepped in a worker, browsed with a slider."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel
from superqt.utils import qthrottled

from ..sampling import BN_MODES
from ..tasks.chains import ChainHistory, Frame, LiveScore, chain_task, score_task
from ..tasks.samplers import (
    SamplerStore,
    StartCodes,
    is_plain_prior,
    sampler_text,
    start_codes_task,
)
from . import theme
from .mosaic import MosaicView, Panel, as_grid
from .session import Session
from .workers import call_soon

REDRAW_MS = 33  # at most ~30 redraws a second
STRIP_FRAMES = 16


class ChainView(QWidget):
    """Step, run, stop and reset chains; browse t with a slider; click a sample to follow it."""

    changed = pyqtSignal()  # the history, t or the selection changed (throttled)
    selected_changed = pyqtSignal(object)  # chain index or None (the GIF export listens)
    chain_finished = pyqtSignal()  # a chain job of the current chain ended
    chains_reset = pyqtSignal()  # Reset: new z0, the stored chain is gone
    hovered_changed = pyqtSignal(object)  # the chain under the mouse in the grid, or None

    def __init__(self, session: Session, parent=None):
        super().__init__(parent)
        self.session = session
        self.settings = session.chain  # the chain's settings: this view edits, others observe
        self.history = ChainHistory()
        self.project = None  # z (n, K) -> (n, 2), set by the latent view
        self.live_score = LiveScore()  # the data score, applied in the chain's worker
        self.selected: int | None = None
        self.marked: list[int] = []  # chains selected with a rectangle in the latent view
        self.partner = None  # another run's chains from the same z0 (gui.partner), or None
        self.job = None
        self.step_mode = ""  # the batch-norm mode the last chain job ran with
        self.chain_id = 0
        self.chain_seed = 0  # the seed of the current chain's z0
        self.generator = None
        self.samplers = SamplerStore()  # the open run's built samplers (fitted once per run)
        self.start: StartCodes | None = None  # the current chain's sampler; None: N(0, I)
        self._build()
        # At most ~30 redraws a second: the requests within REDRAW_MS make one redraw, at the
        # end of the interval (superqt's throttle, owned by this view: it goes with it).
        self._throttle = qthrottled(self.redraw, timeout=REDRAW_MS, leading=False, parent=self)
        session.run_changed.connect(self._run_changed)
        self._bind_settings()
        self._update_enabled()

    def _bind_settings(self) -> None:
        """The boxes edit ``self.settings``; its events set the boxes (from anywhere)."""
        st, ev = self.settings, self.settings.events
        self.bn_combo.setCurrentText(st.bn_mode)
        self.seed_spin.setValue(st.seed)
        self.n_spin.setValue(st.n)
        self.noise_spin.setValue(st.noise_std)
        self.sampler_combo.setCurrentText(st.sampler)
        self.temperature_spin.setValue(st.temperature)
        self.sampler_combo.currentTextChanged.connect(
            lambda name: setattr(st, "sampler", name) if name else None)
        self.temperature_spin.valueChanged.connect(lambda tau: setattr(st, "temperature", tau))
        ev.sampler.connect(lambda name: self.sampler_combo.setCurrentText(name))
        ev.temperature.connect(lambda tau: self.temperature_spin.setValue(tau))
        ev.sampler.connect(self._sampler_changed)
        ev.temperature.connect(self._sampler_changed)
        self.bn_combo.currentTextChanged.connect(lambda mode: setattr(st, "bn_mode", mode))
        self.seed_spin.valueChanged.connect(lambda seed: setattr(st, "seed", seed))
        self.n_spin.valueChanged.connect(lambda n: setattr(st, "n", n))
        self.noise_spin.valueChanged.connect(lambda std: setattr(st, "noise_std", std))
        ev.bn_mode.connect(lambda mode: self.bn_combo.setCurrentText(mode))
        ev.bn_mode.connect(self._bn_changed)
        ev.seed.connect(lambda seed: self.seed_spin.setValue(seed))
        ev.n.connect(lambda n: self.n_spin.setValue(n))
        ev.noise_std.connect(lambda std: self.noise_spin.setValue(std))

    # --- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        def button(text, tip, slot):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            # A click leaves the keyboard focus where it was: a button that disables itself
            # would otherwise hand it to the next editor (the seed box), which then eats the
            # single-key shortcuts (S, R, C, arrows) and typed digits.
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            return b

        self.step_button = button("Step", "One chain step: decode, (corrupt,) encode  [S]",
                                  lambda: self.run_steps(1))
        self.run_button = button("Run", "Run k chain steps  [R]", lambda: self.run_steps())
        self.k_spin = QSpinBox(minimum=1, maximum=10000, value=10, suffix=" steps")
        self.k_spin.setToolTip("How many steps Run takes")
        self.stop_button = button("Stop", "Stop the running chain (Esc also stops the "
                                          "metrics and interpolation)  [Esc]", self.stop)
        self.reset_button = button("Reset", "New z0 ~ P(Z) with the next seed  [Ctrl+R]",
                                   lambda: self.reset(self.settings.seed + 1))
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1, value=0, prefix="seed ")
        self.seed_spin.setToolTip("Random seed of z0 and of the chain's noise  "
                                  "[Ctrl+L edits it]")
        self.seed_button = button("Seed", "Restart from z0 drawn with this seed "
                                          "(reproducible)  [Ctrl+Shift+R]",
                                  lambda: self.reset(self.settings.seed))
        self.compare_box = QCheckBox("Compare t=0 | t")
        self.compare_box.setToolTip("Show t = 0 beside the chosen t (the paper's Figure 4)  [C]")
        self.compare_box.toggled.connect(lambda _on: self.schedule())
        self.compare_box.setFocusPolicy(Qt.FocusPolicy.TabFocus)

        self.n_spin = QSpinBox(minimum=1, maximum=1024, value=64, prefix="N = ")
        self.n_spin.setToolTip("Number of chains (samples in the grid); applies on Reset")
        self.bn_combo = QComboBox()
        self.bn_combo.addItems(BN_MODES)
        self.bn_combo.setToolTip(
            "Batch norm while sampling: batch: minibatch statistics (the paper; a chain "
            "depends on its batch mates); eval: the running averages from training; precise: "
            "statistics re-estimated on 200 training batches with the weights fixed (once per "
            "model, cached; Esc cancels). With eval and precise every chain is independent")
        self._bn_shown = self.bn_combo.currentText()
        self.noise_spin = QDoubleSpinBox(minimum=0.0, maximum=5.0, singleStep=0.05, value=0.5,
                                         decimals=2)
        self.noise_spin.setToolTip("Corruption std of denoising models: x~ = x + N(0, std^2 I)")
        self.sampler_combo = QComboBox()
        self.sampler_combo.addItems(list(self.session.host.samplers))
        self.sampler_combo.setToolTip(
            "Sampler of z0, the chains' start: prior: N(0, τ² I) (the paper: τ = 1); gmm: a "
            "Gaussian mixture fitted on encoded training codes; reweighted: prior draws "
            "resampled by the data score's density ratio; or a plugin's. A fit runs once per "
            "run, in the background (Esc cancels). Changing it starts the chains over")
        self.temperature_spin = QDoubleSpinBox(minimum=0.05, maximum=3.0, singleStep=0.05,
                                               value=1.0, decimals=2, prefix="τ ")
        self.temperature_spin.setToolTip(
            "Temperature of the prior sampler: z0 ~ N(0, τ² I). With batch norm 'batch' the "
            "decoder's first batch norm divides out a global scale of z, so τ changes the "
            "images only with 'eval' or 'precise'")

        row1 = QHBoxLayout()
        for w in (self.step_button, self.k_spin, self.run_button, self.stop_button,
                  self.reset_button, self.seed_spin, self.seed_button):
            row1.addWidget(w)
        row1.addStretch(1)
        row2 = QHBoxLayout()  # Compare here: the first row sets the window's narrowest width
        self.noise_label = QLabel("corruption std")
        for w in (self.n_spin, QLabel("batch norm"), self.bn_combo, QLabel("z0"),
                  self.sampler_combo, self.temperature_spin, self.noise_label,
                  self.noise_spin, self.compare_box):
            row2.addWidget(w)
        # The note gives way first (it never makes the window wider), cut at its end with
        # "…" where it does not fit; its tooltip keeps the whole text.
        self.info = theme.dim(QElidingLabel())
        self.info.setElideMode(Qt.TextElideMode.ElideRight)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row2.addWidget(self.info, 1)

        self.grid = MosaicView()
        self.grid.setToolTip("Click a sample to follow its chain")
        self.grid.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # clicking it leaves an editor
        self.grid.cellClicked.connect(lambda panel, i: self.select(i))
        self.grid.cellHovered.connect(
            lambda i: self.hovered_changed.emit(i if i >= 0 else None))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Step t of the stored chain  [Left/Right, Home/End]")
        self.slider.valueChanged.connect(self._slider_moved)
        self.t_label = QLabel("t = 0")
        self.t_label.setMinimumWidth(110)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("t"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.t_label)
        self.strip = MosaicView(cell_labels=True)
        self.strip.setFixedHeight(120)
        self.strip.setToolTip("Frames of the selected chain")
        self.strip.cellClicked.connect(self._strip_clicked)
        self.strip.setVisible(False)

        content = QWidget()
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row1)
        lay.addLayout(row2)
        lay.addWidget(self.grid, 1)
        lay.addLayout(slider_row)
        lay.addWidget(self.strip)
        self.placeholder = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("font-size: 14px; padding: 40px")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.stack)
        self._show_placeholder("Opening a run…")

    def _show_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)
        self.stack.setCurrentIndex(0)

    # --- state -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None

    @property
    def index(self) -> int:
        return self.slider.value()

    @property
    def t(self) -> int:
        return self.history.t[self.index] if len(self.history) else 0

    def _update_enabled(self) -> None:
        has_run = self.session.run is not None
        for w in (self.step_button, self.run_button, self.reset_button, self.seed_button):
            w.setEnabled(has_run and not self.running)
        self.stop_button.setEnabled(self.running)
        denoising = bool(has_run and self.session.run.denoising)
        self.noise_spin.setEnabled(denoising)
        self.noise_label.setEnabled(denoising)
        self.temperature_spin.setEnabled(self.settings.sampler == "prior")

    def _run_changed(self, run) -> None:
        self.stop()
        if run is None:
            note = self.session.note or "No run is open."
            self._show_placeholder(
                f"<b>No run to show.</b><br><br>{note}<br><br>Open a run folder "
                "(File ▸ Open run…, Ctrl+O), drop one onto this window, or train a model in "
                "the Training panel.")
            self._update_enabled()
            return
        if run.denoising:
            self.settings.noise_std = run.model.noise_std
        self.stack.setCurrentIndex(1)
        self.reset(self.settings.seed)

    # --- actions ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Draw a new z0 ~ P(Z) (with ``seed``) and start a new stored chain."""
        run = self.session.run
        if run is None:
            return
        self._abort()
        if seed is not None:
            self.settings.seed = seed
        self.chain_id += 1
        self.history.clear()
        self.session.jobs.cancel("score")
        self.selected = None
        self.mark([])
        self.chain_seed = self.settings.seed
        self.generator = run.generator(self.chain_seed)  # z0 and every step's noise
        self.start = None
        self.chains_reset.emit()
        text = self.sampler_text
        if is_plain_prior(text):
            self._start(None, 0)  # the chain draws z0 ~ N(0, I) itself, as the paper
        else:
            self._start_codes(text)

    @property
    def sampler_text(self) -> str:
        """The chosen sampler as eval's --sampler text (``gmm``, ``prior:temperature=0.8``)."""
        return sampler_text(self.settings.sampler, self.settings.temperature)

    @property
    def start_label(self) -> str:
        """The sampler the current chain started from."""
        return self.start.label if self.start is not None else "prior"

    @property
    def tau_ignored(self) -> bool:
        """The chain starts from the prior at τ != 1 but runs with batch statistics, which
        divide out a global scale of z: its images are those of τ = 1."""
        return self.start_label.startswith("prior:temperature") and self.step_mode == "batch"

    def _start_codes(self, text: str) -> None:
        """z0 from the chosen sampler, built (fitted once per run) and drawn in a worker; the
        chain starts when they arrive."""
        run, chain_id = self.session.run, self.chain_id
        mode = self.settings.bn_mode
        if mode == "precise" and not run.has_bn_stats("precise"):
            mode = "batch"  # the codes are encoded as the chain will run until then
        store = self.samplers.for_run(run, mode, self.session.host)
        job = self.session.jobs.start(
            "Sampler", start_codes_task, run=run, lock=self.session.lock,
            host=self.session.host, store=store, text=text, n=self.settings.n,
            seed=self.chain_seed, key="sampler",
            on_return=lambda codes: self._codes_ready(job, chain_id, codes),
            on_finish=lambda: self._codes_done(job))
        self.job = job
        self._update_enabled()
        self.schedule()

    def _codes_ready(self, job, chain_id: int, codes: StartCodes) -> None:
        if chain_id != self.chain_id or job.aborted or self.job is not job:
            return  # stopped, or the chains were reset meanwhile
        self.start = codes
        self.job = None
        self.session.log.emit(f"chain: z0 from sampler {codes.label}"
                              + (f" ({_info_text(codes.info)})" if codes.info else ""))
        self._start(codes.z0, 0, start_frame=True)

    def _codes_done(self, job) -> None:
        """The sampler's job ended without codes (failed, shown as an error, or cancelled)."""
        if self.job is job:
            self.job = None
            self._update_enabled()
            self.schedule()

    def _sampler_changed(self, _value) -> None:
        """Another sampler or temperature: the chains start over from its codes."""
        self._update_enabled()
        if self.session.run is not None and self.stack.currentIndex() == 1:
            self.reset(self.settings.seed)

    def run_steps(self, k: int | None = None) -> None:
        """Continue the chain from its last z for ``k`` steps (default: the k box)."""
        if self.session.run is None or self.running or not len(self.history):
            return
        self._start(self.history.z[-1], k or self.k_spin.value())

    def stop(self) -> None:
        self._abort()

    def edit_seed(self) -> None:
        """Ctrl+L: the seed box takes the keyboard."""
        self.seed_spin.setFocus()
        self.seed_spin.selectAll()

    def _abort(self) -> None:
        """End the chain job."""
        if self.job is not None:
            self.job.abort()
            self.job = None
        self._update_enabled()

    def _start(self, z0, steps: int, start_frame: bool = False) -> None:
        """Start a chain job now. Precise batch norm never blocks the chain: until its
        statistics exist (estimated in a job), the chain runs with batch statistics and says
        so; when they arrive, the window says so and the next steps use them."""
        run = self.session.run
        if run is None:
            return
        mode = self.settings.bn_mode
        if mode == "precise" and not run.has_bn_stats("precise"):
            self._prepare_precise()
            mode = "batch"
        self._launch(z0, steps, mode, start_frame)
        self._update_enabled()

    def _launch(self, z0, steps: int, bn_mode: str, start_frame: bool = False) -> None:
        run = self.session.run
        noise = self.settings.noise_std if run.denoising else None
        n = self.settings.n if z0 is None else len(z0)
        chain_id = self.chain_id
        self.step_mode = bn_mode
        self.job = self.session.jobs.start(
            "Chain", chain_task, run=run, lock=self.session.lock, chain_id=chain_id, z0=z0,
            n=n, steps=steps, start_t=self.history.last_t, bn_mode=bn_mode, noise_std=noise,
            generator=self.generator, score=self.live_score, start_frame=start_frame,
            key="chain", on_yield=self._frame, on_finish=lambda: self._job_done(chain_id))

    @property
    def precise_pending(self) -> bool:
        """Precise was chosen and its statistics are being estimated."""
        run = self.session.run
        return self.settings.bn_mode == "precise" and run is not None \
            and not run.has_bn_stats("precise")

    def _prepare_precise(self) -> None:
        run = self.session.run
        estimated = not run.has_bn_stats("precise")  # False: cached, ready at once
        self.session.with_bn("precise", lambda: self._precise_ready(run, estimated),
                             lambda: self._bn_failed(self.chain_id))
        self.schedule()

    def _precise_ready(self, run, estimated: bool = True) -> None:
        """The precise statistics arrived after an estimate: the current chain, which ran
        with batch statistics meanwhile, starts over from its z0 (same seed) with them."""
        if estimated and run is self.session.run and self.settings.bn_mode == "precise":
            if self.step_mode != "precise":
                self.reset(self.chain_seed)
            self.session.message.emit("Precise batch-norm statistics are ready: the chains "
                                      "started over from their z0 with them")
        self.schedule()

    def _bn_changed(self, mode: str) -> None:
        """Precise statistics are prepared as soon as the mode is chosen; choosing another
        mode cancels their estimate."""
        if mode == "precise" and self.session.run is not None:
            self._prepare_precise()
        elif self.session.jobs.running("precise-bn"):
            self.session.jobs.cancel("precise-bn")
        self._bn_shown = mode if mode != "precise" else self._bn_shown
        self.schedule()

    def _bn_failed(self, chain_id: int) -> None:
        """The precise statistics failed (shown as an error) or were cancelled: back to the
        mode used before."""
        if self.settings.bn_mode == "precise":
            self.settings.bn_mode = self._bn_shown
        self._update_enabled()
        self.schedule()

    def _job_done(self, chain_id: int) -> None:
        if chain_id == self.chain_id and not self.session.jobs.running("chain"):
            self.job = None
            self._update_enabled()
            self.chain_finished.emit()

    def _frame(self, frame: Frame) -> None:
        if frame.chain_id != self.chain_id or (len(self.history) and
                                               frame.t <= self.history.last_t):
            return  # from a chain that was reset or stopped meanwhile
        follow = self.index >= len(self.history) - 1
        self.history.append(frame, self.project(frame.z) if self.project else None)
        if frame.score is None and self.live_score.current is not None:
            self._score_stored()
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.history) - 1)
        if follow:
            self.slider.setValue(len(self.history) - 1)
        self.slider.blockSignals(False)
        self.schedule()

    def set_projection(self, project, score=None) -> None:
        """The latent view's projection z -> (x, y) and data score z -> P(data) (None: no
        fitted view). The stored steps are reprojected here (cheap) and scored in a worker."""
        self.project = project
        self.history.reproject(project)
        if score is not self.live_score.current:
            self.live_score.current = score
            self.history.forget_scores()
            self.session.jobs.cancel("score")
        self._score_stored()
        self.schedule()

    def _score_stored(self) -> None:
        """Score the stored steps that have no data score yet, in a worker."""
        score, missing = self.live_score.current, self.history.unscored()
        if score is None or not missing or self.session.jobs.running("score"):
            return
        z = [self.history.z[k] for k in missing]

        def scored(scores) -> None:
            if score is self.live_score.current:
                self.history.set_scores(z, scores)
                self.schedule()
            call_soon(self, self._score_stored)  # steps that arrived meanwhile

        self.session.jobs.start("Score chains", score_task, z=z, score=score, key="score",
                                on_return=scored)

    def select(self, index: int | None) -> None:
        self.selected = index
        self.selected_changed.emit(index)
        self.schedule()

    def step_t(self, delta: int) -> None:
        self.slider.setValue(self.slider.value() + delta)

    def set_t_index(self, index: int) -> None:
        self.slider.setValue(index if index >= 0 else self.slider.maximum())

    def _slider_moved(self, _value: int) -> None:
        self.schedule()

    def _strip_clicked(self, _panel: int, k: int) -> None:
        indices = self._strip_indices()
        if k < len(indices):
            self.slider.setValue(int(indices[k]))

    # --- drawing ---------------------------------------------------------------------------
    def schedule(self) -> None:
        """Ask for a redraw; several requests within REDRAW_MS make one."""
        self._throttle()

    def redraw(self) -> None:
        h = self.history
        if not len(h):  # nothing of a previous run or chain stays on screen
            self.grid.clear_images()
            self.t_label.setText("t = –")
            self.info.setText("")
            self.strip.setVisible(False)
            self.changed.emit()
            return
        i = min(self.index, len(h) - 1)
        cols = max(1, int(np.ceil(np.sqrt(h.n))))
        panels = [Panel(as_grid(h.x[i], cols), f"t = {h.t[i]}", h.n)]
        if self.compare_box.isChecked():
            panels.insert(0, Panel(as_grid(h.x[0], cols), f"t = {h.t[0]}", h.n))
        beside = self.partner.panels(h.t[i], cols) if self.partner is not None else []
        if beside:  # two runs side by side: each panel names its run
            panels[-1].title = f"{self.session.run.name} · {panels[-1].title}"
            panels += beside
        self.grid.set_panels(panels)
        self.grid.select(self.selected)
        self.t_label.setText(f"t = {h.t[i]}  (T = {h.last_t})")
        self.info.setText(f"{h.n} chains from {self.start_label} · {len(h)} stored steps · "
                          f"batch norm {self.step_mode}"
                          + (" (precise: estimating its statistics…)" if self.precise_pending
                             else "")
                          + (" · τ is divided out by batch norm batch (eval or precise keep it)"
                             if self.tau_ignored else "")
                          + (f" · chain {self.selected} selected" if self.selected is not None
                             else "")
                          + (f" · {len(self.marked)} chains in the region" if self.marked
                             else ""))
        self.info.setToolTip(self.info.text())
        self._draw_strip()
        self.changed.emit()

    def _strip_indices(self) -> np.ndarray:
        n = len(self.history)
        if n <= STRIP_FRAMES:
            return np.arange(n)
        picks = set(np.linspace(0, n - 1, STRIP_FRAMES - 1).round().astype(int).tolist())
        picks.add(min(self.index, n - 1))
        return np.array(sorted(picks))

    def _draw_strip(self) -> None:
        if self.selected is None or self.selected >= self.history.n:
            self.strip.setVisible(False)
            return
        idx = self._strip_indices()
        frames = np.stack([self.history.x[k][self.selected] for k in idx])[None]
        labels = [("▸" if k == self.index else "") + f"t={self.history.t[k]}" for k in idx]
        self.strip.set_panels([Panel(frames)], labels)
        current = np.flatnonzero(idx == self.index)
        self.strip.select(int(current[0]) if len(current) else None)
        self.strip.setVisible(True)

    # --- exploring with the latent view ----------------------------------------------------
    def image_at(self, chain: int, index: int) -> np.ndarray | None:
        """The decoded image of ``chain`` at stored step ``index`` (already in the history)."""
        h = self.history
        if 0 <= index < len(h) and 0 <= chain < h.n:
            return h.x[index][chain]
        return None

    def set_hovered(self, chain: int | None) -> None:
        """Outline ``chain``'s cell: the chain under the mouse in the latent view."""
        self.grid.hover(chain)

    def mark(self, chains: list[int]) -> None:
        """Outline the cells of ``chains`` (a region of the latent view); [] clears."""
        self.marked = list(chains)
        self.grid.mark(self.marked)
        self.schedule()

    # --- settings --------------------------------------------------------------------------
    def state(self) -> dict:
        st = self.settings
        return {"n": st.n, "k": self.k_spin.value(), "bn_mode": st.bn_mode, "seed": st.seed,
                "compare": self.compare_box.isChecked(), "sampler": st.sampler,
                "temperature": st.temperature}

    def restore(self, state: dict) -> None:
        st = self.settings
        st.n = int(state.get("n", 64))
        self.k_spin.setValue(int(state.get("k", 10)))
        mode = str(state.get("bn_mode", "batch"))
        st.bn_mode = mode if mode in BN_MODES else "batch"
        st.seed = int(state.get("seed", 0))
        sampler = str(state.get("sampler", "prior"))
        st.sampler = sampler if sampler in self.session.host.samplers else "prior"
        try:
            st.temperature = min(3.0, max(0.05, float(state.get("temperature", 1.0))))
        except (TypeError, ValueError):
            st.temperature = 1.0
        self.compare_box.setChecked(str(state.get("compare", False)).lower() == "true"
                                    or state.get("compare") is True)


def _info_text(info: dict) -> str:
    """A sampler's info as one short line (``ess 3055, ess_share 0.31``)."""
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in info.items())
