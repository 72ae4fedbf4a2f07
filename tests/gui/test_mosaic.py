"""The studio's mosaics are imaging.grid's, in colour; titles, labels and the selection."""
import numpy as np

from genae_studio.gui.mosaic import MosaicView, Panel, as_grid, tile
from genae_studio.imaging import grid


def test_tile_is_the_grid_in_colour_with_every_cell_in_place():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (2, 3, 1, 5, 4), dtype=np.uint8)
    out = tile(grey, pad=2)
    assert out.shape == (2 * 7 + 2, 3 * 6 + 2, 3)
    assert np.array_equal(out, np.repeat(grid(grey, 2), 3, axis=2))
    assert np.array_equal(out[2 + 7:2 + 7 + 5, 2 + 12:2 + 12 + 4, 1], grey[1, 2, 0])
    colour = rng.integers(0, 256, (1, 2, 3, 4, 4), dtype=np.uint8)
    assert np.array_equal(tile(colour, pad=0), grid(colour, 0))


def test_as_grid_fills_the_last_row_with_blank_cells():
    images = np.zeros((5, 1, 2, 2), np.uint8)
    rows = as_grid(images)
    assert rows.shape == (2, 3, 1, 2, 2) and (rows[1, 2] == 255).all()


def shown(items) -> list:
    return [item for item in items if item.isVisible()]


def test_titles_labels_and_selection_boxes_show_only_what_the_panels_need(qtbot):
    view = MosaicView(cell_labels=True)
    qtbot.addWidget(view)
    cells = np.zeros((2, 3, 3, 8, 8), np.uint8)
    view.set_panels([Panel(cells, "t = 0"), Panel(cells, "t = 5")],
                    labels=[str(k) for k in range(6)])
    assert [item.toPlainText() for item in shown(view._titles)] == ["t = 0", "t = 5"]
    assert [item.toPlainText() for item in shown(view._labels)] == list("012345")
    view.select(4)  # outlined in both panels
    assert [box.rect() for box in shown(view._boxes)] == [view.cell_rect(0, 4),
                                                          view.cell_rect(1, 4)]
    # Fewer panels and labels later: the extra items are hidden, not left behind.
    view.set_panels([Panel(cells, "t = 1")], labels=["a", "b"])
    view.select(1)
    assert [item.toPlainText() for item in shown(view._titles)] == ["t = 1"]
    assert [item.toPlainText() for item in shown(view._labels)] == ["a", "b"]
    assert [box.rect() for box in shown(view._boxes)] == [view.cell_rect(0, 1)]
    assert len(view._titles) == 2 and len(view._boxes) == 2  # items are reused
    view.select(None)
    assert shown(view._boxes) == []


def test_the_shown_image_is_the_mosaic_pixel_for_pixel(qtbot):
    """The uint8 mosaic goes to the screen as it is (no levels: no rescale of every pixel)."""
    view = MosaicView()
    qtbot.addWidget(view)
    images = np.random.default_rng(0).integers(0, 256, (6, 3, 8, 8), np.uint8)
    view.set_panels([Panel(as_grid(images, 3))])
    view.image.render()
    shown = view.image.qimage.convertToFormat(view.image.qimage.Format.Format_RGB888)
    h, w, _ = view.mosaic.shape
    rows = np.frombuffer(shown.constBits().asstring(shown.sizeInBytes()), np.uint8)
    pixels = rows.reshape(h, shown.bytesPerLine())[:, :3 * w].reshape(h, w, 3)
    np.testing.assert_array_equal(pixels, view.mosaic)
    assert view.image.levels is None
