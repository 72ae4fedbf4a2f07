import pytest
import torch

from genae_studio.sampling import four_corner_grid, interpolate, lerp, slerp


def test_endpoints_are_returned_at_t_0_and_1_and_beyond():
    a, b = torch.randn(16), torch.randn(16)
    for t in (0.0, -0.5):
        assert torch.equal(slerp(a, b, t), a)
    for t in (1.0, 1.5):
        assert torch.equal(slerp(a, b, t), b)


def test_slerp_keeps_gaussian_norms_where_lerp_shrinks_them():
    torch.manual_seed(0)
    a, b = torch.randn(200), torch.randn(200)
    mid_s, mid_l = slerp(a, b, 0.5), lerp(a, b, 0.5)
    expected = (a.norm() + b.norm()) / 2
    assert abs(mid_s.norm() - expected) / expected < 0.05
    assert mid_l.norm() < 0.8 * expected  # the linear midpoint falls inside the shell


def test_slerp_follows_the_great_circle_at_a_constant_angular_speed():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    p = slerp(a, b, 1 / 3)
    assert torch.allclose(p, torch.tensor([0.8660254, 0.5]), atol=1e-6)


def test_identical_endpoints_give_that_point():
    a = torch.randn(10)
    for t in (0.25, 0.5, 0.75):
        assert torch.allclose(slerp(a, a.clone(), t), a, atol=1e-6)


def test_zero_vectors_fall_back_to_linear():
    a, b = torch.zeros(5), torch.ones(5)
    assert torch.allclose(slerp(a, b, 0.3), 0.3 * b)
    assert torch.isfinite(slerp(a, a, 0.5)).all()


def test_opposite_endpoints_stay_finite_on_the_sphere():
    a = torch.randn(12)
    for t in (0.25, 0.5, 0.75):
        p = slerp(a, -a, t)
        assert torch.isfinite(p).all()
        assert torch.allclose(p.norm(), a.norm(), rtol=1e-5)
    # halfway is perpendicular to both ends
    assert abs(torch.dot(slerp(a, -a, 0.5), a)) < 1e-4 * a.norm() ** 2


def test_interpolate_shapes_and_methods():
    a, b = torch.randn(8), torch.randn(8)
    path = interpolate(a, b, 5)
    assert path.shape == (5, 8)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.allclose(interpolate(a, b, 3, "linear")[1], (a + b) / 2)
    with pytest.raises(ValueError):
        interpolate(a, b, 1)
    with pytest.raises(ValueError):
        interpolate(a, b, 4, "cubic")


def test_four_corner_grid_has_the_corners_in_place():
    corners = torch.randn(4, 6)
    g = four_corner_grid(corners, 5)
    assert g.shape == (5, 5, 6)
    for (i, j), k in {(0, 0): 0, (0, -1): 1, (-1, 0): 2, (-1, -1): 3}.items():
        assert torch.allclose(g[i, j], corners[k], atol=1e-6)
    with pytest.raises(ValueError):
        four_corner_grid(corners[:3], 5)
