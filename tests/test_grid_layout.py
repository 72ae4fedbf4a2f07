"""One grid layout for both grid builders: imaging.grid (in memory) and outputs.GridWriter
(a batch at a time) draw the same picture from the same GridLayout."""
import numpy as np
import pytest
from PIL import Image

from genae_studio.imaging import GridLayout, grid
from genae_studio.outputs import GridWriter


def test_a_row_wraps_into_runs_of_cells_on_consecutive_lines():
    layout = GridLayout(rows=2, items=7, columns=3)
    assert (layout.per_line, layout.lines) == (3, 3)
    assert list(layout.runs(1, 2, 5)) == [(3, 2, 0, 1), (4, 0, 1, 4), (5, 0, 4, 5)]
    assert layout.tops(10) == [2, 2 + 3 * 12]
    assert layout.shape(10, 8) == (2 * 3 * 12 + 2, 3 * 10 + 2)
    assert GridLayout(2, 5, columns=9).lines == 1  # fewer items than columns: no wrapping
    with pytest.raises(IndexError, match="outside the 2 x 7 grid"):
        list(layout.runs(0, 5, 3))


@pytest.mark.parametrize("columns,labels", [(None, None), (3, ["t = 0", "t = 10"])])
def test_the_writer_filled_in_odd_batches_draws_what_grid_draws(tmp_path, columns, labels):
    images = np.random.default_rng(0).integers(0, 256, (2, 7, 3, 40, 40), dtype=np.uint8)
    writer = GridWriter(tmp_path / "g.png", 2, 7, 3, 40, columns=columns, row_labels=labels)
    for row in range(2):
        for start, stop in [(0, 4), (4, 5), (5, 7)]:
            writer.put(row, start, images[row, start:stop])
    writer.finish()
    expected = grid(images, columns=columns, row_labels=labels)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "g.png")), expected)
