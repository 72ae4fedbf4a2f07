"""Help ▸ What am I looking at? (F1): a short page on each view, the mouse and the keys."""
from __future__ import annotations

from html import escape

from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

#: (view, what it shows): one paragraph each, in the order the window shows them.
VIEWS = [
    ("Chain grid (middle)",
     "N Markov chains started from z₀ ~ P(Z), each cell one chain's decoded image at step t. "
     "One step decodes z, (corrupts x for denoising models,) and encodes again: the samples "
     "move from the prior's codes towards codes the decoder was trained on. The slider picks "
     "t; <i>Compare</i> shows t = 0 beside it; the strip under the grid follows the selected "
     "chain."),
    ("Latent space",
     "A 2-D view of the latent space: encoded held-out data P̂(Z) (blue), prior samples P(Z) "
     "(grey), the chains' trajectories z₀ → z_t (orange) and their points at t coloured by "
     "the data score P(data), with 2σ ellipses of each. <i>view</i> picks how the two axes "
     "are fitted; the axis titles say how much of the data's variance they hold. Beside it: "
     "P(data) of the chains against t."),
    ("Chain metrics",
     "Sample quality of the chains against t (Fréchet distance, precision and recall, "
     "density and coverage, …) with confidence bands and the data's and reconstructions' "
     "floors. Hover a plot to read the values; File ▸ Export saves them as CSV or JSON."),
    ("Interpolation",
     "Paths between two images (drag one gallery face onto another, or four onto the 2×2 "
     "target), before and after k chain steps; their codes appear as green paths in the "
     "latent view."),
    ("Training",
     "Train a model on a dataset with the settings shown; its losses are plotted live. A "
     "finished run is offered, never opened by itself."),
    ("Run",
     "The runs opened in this session (double-click one to open it again), the open run's "
     "settings (model, data, training, versions) and its training losses per epoch. "
     "<i>Beside the grid</i> shows a listed run's chains next to the open run's, from the "
     "same z₀ (their latent sizes must match)."),
    ("Log and status bar",
     "Every job's start, end and error; the status bar shows the open model, run, data, the "
     "running jobs (with cancel) and the device."),
]

MOUSE = [
    ("Click a grid cell", "select that chain: its trajectory in the latent view, its frames "
                          "in the strip"),
    ("Hover a grid cell", "its chain is highlighted (light blue) in the latent view"),
    ("Hover a chain point in the latent view", "its decoded image and t appear beside the "
                                                "cursor, and its cell is outlined in the grid"),
    ("Shift + drag in the latent view", "select the chains whose points lie in the rectangle: "
                                        "their cells are outlined (dotted) in the grid; a "
                                        "Shift+click clears"),
    ("Drag / wheel in a plot", "pan / zoom; the small A button fits the view again"),
    ("Drag a gallery face onto another", "interpolate between them"),
]


def help_html(shortcuts: list[tuple[str, str]]) -> str:
    """The page: the views, the mouse, and ``shortcuts`` (action, key)."""
    views = "".join(f"<h4>{escape(name, quote=False)}</h4><p>{text}</p>" for name, text in VIEWS)
    mouse = "".join(f"<tr><td><b>{escape(a)}</b></td><td>&nbsp;&nbsp;{escape(b)}</td></tr>"
                    for a, b in MOUSE)
    keys = "".join(f"<tr><td><b>{escape(key)}</b></td><td>&nbsp;&nbsp;{escape(text)}</td></tr>"
                   for text, key in shortcuts)
    return (f"<h3>What am I looking at?</h3>{views}<h3>Mouse</h3><table>{mouse}</table>"
            "<h3>Keys</h3><p>They work anywhere in the window unless you are typing in a box "
            f"(click the chain grid to leave it).</p><table>{keys}</table>")


class HelpDialog(QDialog):
    """The help page in a window of its own (not modal: the studio goes on working)."""

    def __init__(self, parent, shortcuts: list[tuple[str, str]]):
        super().__init__(parent)
        self.setWindowTitle("genae-studio: what am I looking at?")
        self.browser = QTextBrowser(openExternalLinks=False)
        self.browser.setHtml(help_html(shortcuts))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
        self.resize(620, 560)
