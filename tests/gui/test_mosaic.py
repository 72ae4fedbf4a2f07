"""The studio's mosaics are imaging.grid's, in colour."""
import numpy as np

from genae_studio.gui.mosaic import as_grid, tile
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
