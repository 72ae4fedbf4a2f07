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
