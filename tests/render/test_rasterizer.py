"""The rasteriser: exact coverage, the depth test, interpolation, and the fast path against the reference."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from reenact.render.crop import apply_affine, crop_matrix, face_windows
from reenact.render.rasterizer import interpolate, rasterize, rasterize_reference
from reenact.tracking.canonical_face import canonical_face


def mesh(vertices: list[list[float]], triangles: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor([vertices], dtype=torch.float32), torch.tensor(triangles)


def exact_coverage(corners: list[tuple[float, float]], height: int, width: int) -> np.ndarray:
    """Pixels whose centre is inside or on the triangle, in exact rational arithmetic."""
    (x0, y0), (x1, y1), (x2, y2) = [(Fraction(x), Fraction(y)) for x, y in corners]

    def edge(ax, ay, bx, by, px, py):
        return (bx - ax) * (py - ay) - (by - ay) * (px - ax)

    out = np.zeros((height, width), dtype=bool)
    for i in range(height):
        for j in range(width):
            px, py = Fraction(2 * j + 1, 2), Fraction(2 * i + 1, 2)
            e = [edge(x0, y0, x1, y1, px, py), edge(x1, y1, x2, y2, px, py), edge(x2, y2, x0, y0, px, py)]
            out[i, j] = all(v >= 0 for v in e) or all(v <= 0 for v in e)
    return out


def test_right_triangle_covers_centres_on_its_edges():
    # x + y <= 4 holds for the centres (j + 0.5, i + 0.5) with i + j <= 3: 10 pixels, 4 of them on the hypotenuse.
    vertices, triangles = mesh([[0, 0, 1], [4, 0, 1], [0, 4, 1]], [[0, 1, 2]])
    covered = rasterize(vertices, triangles, (6, 6)).mask[0].numpy()
    i, j = np.mgrid[:6, :6]
    np.testing.assert_array_equal(covered, i + j <= 3)


@pytest.mark.parametrize(
    "corners",
    [
        [(1.2, 1.3), (9.7, 2.1), (3.4, 8.8)],
        [(10.5, 0.25), (0.75, 5.5), (11.0, 11.5)],
        [(-3, -2), (14, 3), (2, 15)],  # pixel centres exactly on edges, e.g. (5.5, 0.5)
    ],
)
def test_coverage_is_exact(corners):
    vertices, triangles = mesh([[x, y, 0.0] for x, y in corners], [[0, 1, 2]])
    covered = rasterize(vertices, triangles, (12, 13)).mask[0].numpy()
    np.testing.assert_array_equal(covered, exact_coverage(corners, 12, 13))


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_nearer_triangle_wins(order):
    far = [[0, 0, 5.0], [10, 0, 5.0], [0, 10, 5.0]]
    near = [[2, 2, 1.0], [12, 2, 1.0], [2, 12, 1.0]]
    faces = [[0, 1, 2], [3, 4, 5]]
    vertices, triangles = mesh(far + near, [faces[k] for k in order])
    seen = rasterize(vertices, triangles, (12, 12)).triangle_image()[0].numpy()
    near_id, far_id = order.index(1), order.index(0)
    assert (seen[3, 3], seen[8, 2], seen[0, 0]) == (near_id, near_id, far_id)  # overlap, near only, far only
    # A tilted near triangle passing through the far one: each wins where it is nearer.
    vertices, triangles = mesh(far + [[0, 0, 0.0], [10, 0, 10.0], [0, 10, 0.0]], [[0, 1, 2], [3, 4, 5]])
    seen = rasterize(vertices, triangles, (10, 10)).triangle_image()[0].numpy()
    assert seen[1, 1] == 1 and seen[1, 7] == 0  # z = x there: 1.5 < 5 and 7.5 > 5


def test_interpolation_follows_barycentric_weights():
    corners = [[1.5, 2.25, 3.0], [20.0, 4.0, 7.0], [6.0, 17.5, 11.0]]
    vertices, triangles = mesh(corners, [[0, 1, 2]])
    fragments = rasterize(vertices, triangles, (20, 24))
    weights = fragments.barycentric
    np.testing.assert_allclose(weights.sum(0).numpy(), 1.0, atol=1e-5)
    assert (weights >= 0).all()
    # Weights reproduce the pixel centre, and an affine attribute (x, y, z, a constant) is reproduced exactly.
    centres = torch.stack([fragments.pixel % 24 + 0.5, fragments.pixel // 24 + 0.5]).float()
    np.testing.assert_allclose((vertices[0, :, :2].T @ weights).numpy(), centres.numpy(), atol=1e-4)
    attributes = torch.cat([vertices, torch.ones(1, 3, 1)], 2)
    values = interpolate(fragments, triangles, attributes)
    np.testing.assert_allclose(values[:2].numpy(), centres.numpy(), atol=1e-4)
    np.testing.assert_allclose(values[3].numpy(), 1.0, atol=1e-5)
    image = fragments.image(values, background=-1.0)
    assert image.shape == (1, 4, 20, 24)
    assert (image[0, 3][~fragments.mask[0]] == -1).all()


def assert_same(vertices: torch.Tensor, triangles: torch.Tensor, size: tuple[int, int]) -> None:
    fast, reference = rasterize(vertices, triangles, size), rasterize_reference(vertices, triangles, size)
    np.testing.assert_array_equal(fast.triangle_image().numpy(), reference.triangle_image().numpy())
    attributes = torch.rand(vertices.shape[0], vertices.shape[1], 3)
    np.testing.assert_allclose(
        fast.image(interpolate(fast, triangles, attributes)).numpy(),
        reference.image(interpolate(reference, triangles, attributes)).numpy(),
        atol=1e-4,
    )


def test_fast_path_matches_reference_on_random_meshes():
    generator = torch.Generator().manual_seed(1)
    # Two images of 150 random triangles, some reaching outside the image, some degenerate, a few huge.
    vertices = torch.rand(2, 300, 3, generator=generator) * torch.tensor([60.0, 44.0, 10.0])
    vertices -= torch.tensor([6.0, 4.0, 0.0])
    triangles = torch.randperm(300, generator=generator).view(-1, 3)[:100]
    triangles = torch.cat([triangles, torch.randint(0, 300, (50, 3), generator=generator)])
    vertices[:, triangles[-1]] = torch.tensor([[-30.0, -30.0, 3.0], [100.0, -20.0, 4.0], [10.0, 90.0, 5.0]])
    vertices[:, triangles[-2, 2]] = vertices[:, triangles[-2, 0]]  # degenerate
    assert_same(vertices, triangles, (37, 49))


def test_fast_path_matches_reference_on_a_real_mesh(d0_track):
    params = d0_track.params[40]
    vertices = apply_affine(params.vertices(d0_track.model), crop_matrix(face_windows(params), 96))
    assert_same(torch.from_numpy(vertices), torch.from_numpy(canonical_face().triangles).long(), (96, 96))


def test_empty_and_off_image_meshes():
    off_image, degenerate = [[-10, -10, 0], [-5, -10, 0], [-10, -5, 0]], [[1, 1, 0], [2, 2, 0], [3, 3, 0]]
    vertices, triangles = mesh(off_image + degenerate, [[0, 1, 2], [3, 4, 5]])
    fragments = rasterize(vertices, triangles, (8, 8))
    assert len(fragments.pixel) == 0 and not fragments.mask.any()
    assert fragments.image(torch.zeros(2, 0), background=-1.0).eq(-1).all()


def test_bad_shapes_raise():
    vertices, triangles = mesh([[0, 0, 0], [4, 0, 0], [0, 4, 0]], [[0, 1, 2]])
    with pytest.raises(ValueError, match="B x V x 3"):
        rasterize(vertices[0], triangles, (8, 8))
    with pytest.raises(ValueError, match="F x 3"):
        rasterize(vertices, triangles.float(), (8, 8))
    with pytest.raises(ValueError, match="size"):
        rasterize(vertices, triangles, (0, 8))
    with pytest.raises(ValueError, match="B x V x C"):
        interpolate(rasterize(vertices, triangles, (8, 8)), triangles, torch.zeros(3, 2))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_agree():
    generator = torch.Generator().manual_seed(2)
    vertices = torch.rand(2, 300, 3, generator=generator) * torch.tensor([120.0, 90.0, 10.0])
    triangles = torch.randint(0, 300, (400, 3), generator=generator)
    attributes = torch.rand(2, 300, 4, generator=generator)
    on_cpu = rasterize(vertices, triangles, (90, 120))
    on_gpu = rasterize(vertices.cuda(), triangles.cuda(), (90, 120))
    np.testing.assert_array_equal(on_cpu.triangle_image().numpy(), on_gpu.triangle_image().cpu().numpy())
    np.testing.assert_allclose(
        on_cpu.image(interpolate(on_cpu, triangles, attributes)).numpy(),
        on_gpu.image(interpolate(on_gpu, triangles.cuda(), attributes.cuda())).cpu().numpy(),
        atol=1e-5,
    )
