"""Image arrays to uint8, grids and PNG files."""
import numpy as np
import pytest
import torch
from PIL import Image

from genae_studio.imaging import grid, save_png, to_float, to_float_tensor, to_uint8


def test_to_uint8_scales_rounds_and_clips():
    x = np.array([-0.5, 0.0, 0.5, 1.0, 2.0, 1 / 255 * 0.49, 1 / 255 * 0.51], np.float32)
    assert to_uint8(x).tolist() == [0, 0, 128, 255, 255, 0, 1]


def test_to_uint8_takes_tensors_with_gradients_and_leaves_uint8_alone():
    t = torch.full((1, 2, 2), 0.25, requires_grad=True)
    out = to_uint8(t)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 2) and (out == 64).all()
    already = np.arange(6, dtype=np.uint8)
    assert to_uint8(already) is already


def test_to_float_scales_uint8_only_and_keeps_numpy_or_torch():
    u8 = np.array([0, 51, 255], np.uint8)
    assert to_float(u8).dtype == np.float32 and to_float(u8).tolist() == pytest.approx([0, .2, 1])
    f64 = np.array([0.5, 2.0])
    assert to_float(f64).dtype == np.float32 and to_float(f64).tolist() == [0.5, 2.0]
    t = to_float(torch.from_numpy(u8))
    assert t.dtype == torch.float32 and t.tolist() == pytest.approx([0, .2, 1])
    assert np.array_equal(to_uint8(to_float(u8)), u8)  # the round trip is exact


def test_to_float_tensor_takes_numpy_or_torch_and_moves_to_the_device():
    u8 = np.full((2, 1, 2, 2), 255, np.uint8)
    for images in (u8, torch.from_numpy(u8)):
        x = to_float_tensor(images, "cpu")
        assert x.dtype == torch.float32 and x.device.type == "cpu" and (x == 1).all()
    assert not (u8 != 255).any()  # the caller's array is left alone


def test_grid_places_each_image_in_its_cell_with_padding():
    images = np.zeros((2, 3, 1, 4, 5), np.float32)
    for r in range(2):
        for c in range(3):
            images[r, c] = (r * 3 + c + 1) / 10
    mosaic = grid(images, pad=1, pad_value=7)
    assert mosaic.shape == (2 * 5 + 1, 3 * 6 + 1, 1) and mosaic.dtype == np.uint8
    assert (mosaic[0] == 7).all() and (mosaic[:, 0] == 7).all() and (mosaic[5] == 7).all()
    cell = mosaic[1 + 5:1 + 5 + 4, 1 + 2 * 6:1 + 2 * 6 + 5]  # row 1, column 2
    assert (cell == to_uint8(np.float32(0.6))).all()


def test_grid_keeps_colour_channels_last():
    images = np.zeros((1, 1, 3, 2, 2), np.float32)
    images[0, 0, 2] = 1.0  # blue
    mosaic = grid(images, pad=0)
    assert mosaic.shape == (2, 2, 3) and mosaic[..., 2].min() == 255 and mosaic[..., :2].max() == 0


@pytest.mark.parametrize("channels,mode", [(1, "L"), (3, "RGB")])
def test_save_png_writes_grey_or_colour_and_creates_the_folder(tmp_path, channels, mode):
    mosaic = np.random.default_rng(0).integers(0, 256, (6, 7, channels), dtype=np.uint8)
    path = save_png(mosaic, tmp_path / "new" / "grid.png")
    with Image.open(path) as image:
        assert image.mode == mode and image.size == (7, 6)
        back = np.asarray(image)
    assert np.array_equal(back.reshape(mosaic.shape), mosaic)


# --- wrapping and row labels ---

def images(rows, cols, channels=3, size=8):
    rng = np.random.default_rng(0)
    return rng.integers(0, 200, (rows, cols, channels, size, size), dtype=np.uint8)


def test_columns_wrap_a_row_into_lines():
    x = images(2, 5)
    out = grid(x, pad=2, columns=2)  # each row: 3 lines of at most 2
    block = 3 * 10
    assert out.shape == (2 * block + 2, 2 * 10 + 2, 3)
    # row 1, image 4 sits on its row's third line, first column
    y = 2 + block + 2 * 10
    assert np.array_equal(out[y:y + 8, 2:10], x[1, 4].transpose(1, 2, 0))
    assert (out[y:y + 8, 12:20] == 255).all()  # the empty cell stays blank
    assert np.array_equal(grid(x, columns=5), grid(x)) and np.array_equal(grid(x, columns=9),
                                                                          grid(x))


@pytest.mark.parametrize("channels", [1, 3])
def test_row_labels_go_in_a_left_margin_beside_their_row(channels):
    x = images(3, 4, channels, size=32)
    plain = grid(x)
    out = grid(x, row_labels=["t = 0", "t = 1", "t = 10"])
    margin = out.shape[1] - plain.shape[1]
    assert margin > 10 and np.array_equal(out[:, margin:], plain)
    ink = (out[:, :margin] < 128).any(axis=(1, 2))
    for r in range(3):  # every row's band holds text, the padding between rows none
        assert ink[2 + r * 34:2 + r * 34 + 32].any()
    assert not ink[:2].any()
    wider = grid(x, row_labels=["t = 0", "t = 1", "t = 1000"])
    assert wider.shape[1] > out.shape[1]


def test_row_labels_must_match_the_rows():
    with pytest.raises(ValueError, match="2 row labels for 3 rows"):
        grid(images(3, 2), row_labels=["a", "b"])


def test_label_margin_kept_as_bands_equals_the_full_strip_and_stores_only_its_labels():
    from genae_studio.imaging import LabelMargin, label_margin

    labels, tops, line = ["t = 0", "t = 10"], [2, 202], 64
    full = label_margin(400, 3, labels, tops, line)
    lazy = LabelMargin(400, 3, labels, tops, line)
    assert lazy.shape == full.shape
    assert all(np.array_equal(lazy[y], full[y]) for y in range(400))
    tall = LabelMargin(400_000, 3, labels, tops, line)  # sample --n 20000 is about this tall
    assert tall.bands.nbytes == lazy.bands.nbytes < full.nbytes
