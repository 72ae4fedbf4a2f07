"""The studio's latent view: the method menu, the held share and its warning, active units,
and chains coloured by the data score."""
import numpy as np
import pyqtgraph as pg
import pytest

from genae_studio.gui.latent_view import LatentView
from genae_studio.latent import CHOICES, DataScore, EncodedData, fit_views
from genae_studio.tasks.latent_cloud import LatentCloud

from .gui_helpers import wait_idle


def constructed_cloud(structured: bool, k: int = 100, n: int = 500) -> LatentCloud:
    """Codes in ``k`` dimensions: two active units (structured) or isotropic means (not)."""
    rng = np.random.default_rng(0)
    if structured:
        means = np.zeros((n, k), np.float32)
        means[:, 0] = 2 * rng.standard_normal(n)
        means[:, 1] = rng.standard_normal(n)
    else:
        means = rng.standard_normal((n, k)).astype(np.float32)
    codes = means + 0.3 * rng.standard_normal((n, k)).astype(np.float32)
    encoded = EncodedData(means, codes, rng.standard_normal((n, k)).astype(np.float32))
    return LatentCloud(encoded, fit_views(encoded), DataScore.fit(encoded))


@pytest.fixture
def view(qtbot):
    widget = LatentView()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    return widget


def axis_text(view, axis):
    return view.plot.getAxis(axis).labelText


def test_a_view_that_holds_little_shows_a_warning(view, shots):
    low = constructed_cloud(structured=False)
    view.set_cloud(low)
    assert low.view.held < 0.05
    assert view.warning.isVisible() and "hold only" in view.warning.text()
    assert f"{100 * low.view.held:.1f}%" in view.warning.text()
    shots(view, "latent-view-low-share")
    view.set_cloud(constructed_cloud(structured=True))
    assert not view.warning.isVisible()
    assert view.cloud.view.held > 0.9


def test_method_menu_switches_the_view_and_its_axes(view):
    cloud = constructed_cloud(structured=True)
    view.set_cloud(cloud)
    combo = view.method_combo
    assert [combo.itemText(i).split(":")[0] for i in range(combo.count())] == list(CHOICES)
    assert combo.currentIndex() == 0 and combo.itemText(0) == f"auto: {cloud.view.method}"
    assert cloud.view.method == max(cloud.views, key=lambda m: cloud.views[m].held)
    emitted = []
    view.view_changed.connect(lambda: emitted.append(True))
    for method in ("joint", "discriminant", "means"):
        view.set_method(method)
        assert cloud.view is cloud.views[method]
        held = cloud.views[method].explained
        for k, axis in enumerate(("bottom", "left")):  # the long title where it fits
            assert f"({100 * held[k]:.1f}%" in axis_text(view, axis)
            assert f"({100 * held[k]:.1f}% of encoded-data variance)" in \
                view.plot.getAxis(axis).toolTip()
        prior = np.column_stack([view.prior.data["x"], view.prior.data["y"]])
        np.testing.assert_allclose(prior, cloud.views[method].project(cloud.encoded.prior),
                                   atol=1e-5)
    assert len(emitted) == 3
    assert "discriminant" in combo.itemData(3, pg.QtCore.Qt.ItemDataRole.ToolTipRole)


def test_active_units_are_shown_beside_the_plot(view):
    view.set_cloud(constructed_cloud(structured=True, k=30))
    text = view.info.text()
    assert "Active units" in text and ">2</span> of 30" in text
    assert view.info.isVisible()
    left = view.info.mapTo(view, pg.QtCore.QPoint(0, 0)).x()
    assert left > view.plot.geometry().right()  # beside the plot, not below it


def test_studio_points_are_coloured_by_the_data_score_and_the_score_is_plotted(qtbot, window,
                                                                             shots):
    from .test_studio import run_chain

    cv, lv = window.chain_view, window.latent_view
    run_chain(qtbot, window, 3)
    cloud = lv.cloud
    scores = np.stack([cloud.score(z) for z in cv.history.z])
    t, mean = lv.score_curve()
    np.testing.assert_array_equal(t, cv.history.t)
    np.testing.assert_allclose(mean, scores.mean(axis=1), atol=1e-6)
    brushes = [b.color().getRgb()[:3] for b in lv.points.data["brush"]]
    lut = pg.colormap.get("plasma").getLookupTable(0.0, 1.0, 256, alpha=False)
    shade = np.clip((scores[cv.index] * 255).round().astype(int), 0, 255)
    assert brushes == [tuple(int(c) for c in lut[k]) for k in shade]
    assert len(set(brushes)) > 1  # the chains differ in how data-like they look
    # Another method reprojects the stored chain and keeps the scores.
    lv.set_method("joint")
    wait_idle(qtbot, window)
    pts = np.column_stack([lv.points.data["x"], lv.points.data["y"]])
    np.testing.assert_allclose(pts, cloud.views["joint"].project(cv.history.z[cv.index]),
                               atol=1e-4)
    assert "Active units" in lv.info.text()
    np.testing.assert_allclose(lv.score_curve()[1], mean, atol=1e-6)
    shots(lv, "latent-view-score")


def test_the_data_score_is_never_computed_on_the_gui_thread(qtbot, window):
    """Issue 18 §5 / issue 21: scoring (scikit-learn) runs in the chain's worker per frame, and
    for steps stored before the view was fitted, in a scoring job."""
    import threading

    from .test_studio import run_chain

    cv, lv = window.chain_view, window.latent_view
    cloud = lv.cloud
    threads = []
    original = cloud.score

    def score(z):
        threads.append(threading.current_thread() is threading.main_thread())
        return original(z)

    cv.set_projection(cloud.project, score)  # as a new fit does: the stored steps are rescored
    run_chain(qtbot, window, 3)
    qtbot.waitUntil(lambda: cv.history.scores() is not None, timeout=30_000)
    wait_idle(qtbot, window)
    assert threads and not any(threads)
    t, mean = lv.score_curve()
    np.testing.assert_allclose(mean, cv.history.scores().mean(axis=1), atol=1e-6)


def test_a_cleared_view_keeps_its_range_until_the_next_fit(view):
    """A model switch clears the view, then fits the new cloud: one range change (each one
    re-renders the axes and their grid), and never the empty "-400...400" axes."""
    box = view.plot.getViewBox()
    np.testing.assert_allclose(box.viewRange(), [[-4, 4], [-4, 4]], atol=0.5)  # before a fit
    view.set_cloud(constructed_cloud(structured=True))
    fitted = box.viewRange()
    assert not any(box.autoRangeEnabled())  # fitted once, then kept while chains move
    changes = []
    box.sigRangeChanged.connect(lambda *_: changes.append(box.viewRange()))
    view.clear("Encoding held-out data…")
    assert changes == [] and box.viewRange() == fitted
    view.set_cloud(constructed_cloud(structured=False))
    assert len(changes) == 1
