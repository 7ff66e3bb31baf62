"""Z-buffered triangle rasterisation in torch: one code path for CPU and CUDA.

Conventions (shared by `rasterize` and `rasterize_reference`):

- vertices are image-space, float32 B x V x 3: x right and y down in pixels, z
  smaller = nearer (as `FaceParams.vertices` gives); the projection is
  orthographic, so barycentric weights taken in the image are the true ones;
- pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5);
- a pixel is covered by a triangle when its centre lies inside or on the
  triangle's edges (all three barycentric weights >= 0); degenerate triangles
  cover nothing; both faces of a triangle are drawn (no culling);
- the nearest triangle wins; of triangles at exactly the same depth, the one
  with the smaller index wins.

The fast path is a vectorised scanline rasteriser: each triangle is cut into
the pixel rows of its bounding box, each row into the span of pixels its edges
allow (one pixel of slack each side, then the exact edge test), and every
candidate pixel's depth, packed with its candidate number into one int64, goes
into the z-buffer by a scatter-min. Work grows with the pixels the triangles
cover rather than with triangles x image size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_EMPTY = torch.iinfo(torch.int64).max
"""z-buffer value of a pixel no triangle covers."""


@dataclass
class Fragments:
    """What the covered pixels show, stored compactly: only the P covered pixels of B images of H x W."""

    size: tuple[int, int, int]
    """(B, H, W)."""
    pixel: torch.Tensor
    """int64 P flat index b * H * W + row * W + column of each covered pixel (each once, in no set order)."""
    triangle: torch.Tensor
    """int64 P index of the triangle seen at that pixel."""
    barycentric: torch.Tensor
    """float32 3 x P weights of that triangle's three vertices at the pixel centre (planar: fast to combine)."""

    def image(self, values: torch.Tensor, background: float = 0.0) -> torch.Tensor:
        """Per-pixel values C x P laid out as B x C x H x W images, `background` where nothing is covered."""
        batch, height, width = self.size
        channels = values.shape[0]
        out = torch.full((channels, batch * height * width), background, dtype=values.dtype, device=values.device)
        out.index_copy_(1, self.pixel, values)
        return out.view(channels, batch, height, width).transpose(0, 1).contiguous()

    @property
    def mask(self) -> torch.Tensor:
        """bool B x H x W: pixels some triangle covers."""
        out = torch.zeros(math.prod(self.size), dtype=torch.bool, device=self.pixel.device)
        return out.index_fill_(0, self.pixel, True).view(self.size)

    def triangle_image(self) -> torch.Tensor:
        """int64 B x H x W index of the triangle seen at each pixel, -1 where none."""
        out = torch.full((math.prod(self.size),), -1, dtype=torch.int64, device=self.pixel.device)
        return out.index_copy_(0, self.pixel, self.triangle).view(self.size)

    def global_triangle(self, n_faces: int) -> torch.Tensor:
        """int64 P index b * n_faces + triangle into the B meshes' triangles taken together."""
        if self.size[0] == 1:
            return self.triangle
        return self.triangle + self.pixel // (self.size[1] * self.size[2]) * n_faces


def take(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values[index] along the first axis (index_select: several times faster than advanced indexing on CPU)."""
    return torch.index_select(values, 0, index)


def _check(vertices: torch.Tensor, triangles: torch.Tensor, size: tuple[int, int]) -> None:
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must be B x V x 3, got shape {tuple(vertices.shape)}")
    if not vertices.is_floating_point():
        raise ValueError(f"vertices must be floating point, got {vertices.dtype}")
    if triangles.ndim != 2 or triangles.shape[-1] != 3 or triangles.is_floating_point():
        raise ValueError(f"triangles must be an integer F x 3 tensor, got {triangles.dtype} {tuple(triangles.shape)}")
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width) >= 1, got {size}")


def _setup(corners: torch.Tensor, width: int, height: int) -> tuple[torch.Tensor, ...]:
    """Per triangle (corners N x 3 x 3): pixel bounding box, edge and depth planes, inverse double area.

    Returns the first pixel (column, row) and the last (int64 N x 2 each,
    inclusive; the box is empty when last < first, and for degenerate
    triangles); float32 12 x N planes, rows b0..b2 bz, a0..a2 az, c0..c2 cz, so
    that e_k = a_k * u + b_k * v + c_k at the pixel offset (u, v) from the first
    pixel's centre, where e_k is vertex k's edge function (its barycentric
    weight times the double area, signed to be >= 0 inside) and z the depth;
    and float32 N 1 / |double area|. Edge functions rather than weights are
    tested, so that coverage is exact wherever they are (corners on a grid).
    """
    limit = torch.tensor([width, height], dtype=corners.dtype, device=corners.device)
    xy = corners[..., :2]
    first = torch.minimum(torch.ceil(xy.amin(1) - 0.5).clamp(min=0), limit)
    last = torch.minimum(torch.floor(xy.amax(1) - 0.5), limit - 1).clamp(min=-1)
    local = xy - (first + 0.5)[:, None, :]  # corners relative to the first pixel's centre: precise planes
    x, y = local.unbind(-1)
    one = torch.ones_like(x)
    # The weights are the rows of inverse([x; y; 1]), the adjugate (cross products) over the determinant;
    # the edge functions are the adjugate's rows alone.
    adjugate = torch.stack([torch.linalg.cross(one, x), torch.linalg.cross(y, one), torch.linalg.cross(x, y)], 1)
    area2 = (x * adjugate[:, 1]).sum(1, keepdim=True)
    good = torch.isfinite(area2[:, 0]) & (area2[:, 0].abs() > 1e-10)
    inverse_area2 = torch.where(good, 1 / area2[:, 0].abs(), 0.0)
    edges = adjugate * torch.sign(area2)[:, :, None]
    depth = (edges * corners[:, None, :, 2]).sum(2, keepdim=True) * inverse_area2[:, None, None]
    planes = torch.cat([edges, depth], 2)
    first = torch.where(good[:, None], first, 0.0)  # also clears NaN corners before the integer cast
    last = torch.where(good[:, None], last, -1.0)
    return first.long(), last.long(), planes.view(-1, 12).t(), inverse_area2


def _depth_key(z: torch.Tensor) -> torch.Tensor:
    """int64 keys in [-2^31, 2^31) ordered like the float32 depths z (an exact, order-preserving bit trick)."""
    bits = z.contiguous().view(torch.int32)
    return torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits).long()


def rasterize(vertices: torch.Tensor, triangles: torch.Tensor, size: tuple[int, int]) -> Fragments:
    """Rasterise B meshes (vertices B x V x 3, shared triangles F x 3) into H x W pixels (`size` = (H, W)).

    See the module docstring for the conventions. Runs on the vertices' device.
    """
    _check(vertices, triangles, size)
    height, width = size
    batch, n_faces = vertices.shape[0], triangles.shape[0]
    device = vertices.device
    corners = vertices.float().index_select(1, triangles.long().view(-1)).view(batch * n_faces, 3, 3)
    first, last, planes, inverse_area2 = _setup(corners, width, height)

    # Rows: every pixel row of every triangle's bounding box.
    n_rows = (last[:, 1] - first[:, 1] + 1).clamp(min=0) * (last[:, 0] >= first[:, 0])
    row_tri = torch.repeat_interleave(n_rows)
    corner_pixel = (first[:, 1] * width + first[:, 0]).view(batch, n_faces)
    corner_pixel = corner_pixel + torch.arange(batch, device=device)[:, None] * (height * width)
    local_tri = torch.arange(n_faces, device=device).repeat(batch)
    first_row = torch.cumsum(n_rows, 0) - n_rows
    tri_ints = torch.stack([first_row, corner_pixel.view(-1), last[:, 0] - first[:, 0], local_tri])
    row_ints = tri_ints.index_select(1, row_tri)
    row_v = torch.arange(len(row_tri), device=device) - row_ints[0]
    row_planes = planes.index_select(1, row_tri)
    row_planes[8:].addcmul_(row_planes[:4], row_v)  # c at the row's first pixel
    row_a, row_c = row_planes[4:8], row_planes[8:]

    # Span of each row: where all three edge functions can be >= 0, with a pixel of slack each side.
    root = -row_c[:3] / row_a[:3]
    lo = torch.where(row_a[:3] > 0, root, -1.0).amax(0).clamp(max=width)
    hi = torch.where(row_a[:3] < 0, root, width).amin(0).clamp(min=-1.0)
    u_lo = (torch.ceil(lo).long() - 1).clamp(min=0)
    u_hi = torch.minimum(torch.floor(hi).long() + 1, row_ints[2])
    n_cand = (u_hi - u_lo + 1).clamp(min=0)

    # Candidates: every pixel of every span, tested exactly, written to the z-buffer by a scatter-min.
    cand_row = torch.repeat_interleave(n_cand)
    index = torch.arange(len(cand_row), device=device)
    shift = u_lo - (torch.cumsum(n_cand, 0) - n_cand)
    cand_ints = torch.stack([shift, row_ints[1] + row_v * width + shift]).index_select(1, cand_row)
    u = (index + cand_ints[0]).float()
    cand_planes = row_planes[4:].index_select(1, cand_row)
    w = torch.addcmul(cand_planes[4:], cand_planes[:4], u)
    inside = w[:3].amin(0) >= 0
    key = torch.where(inside, _depth_key(w[3]) * 2**32 + index, _EMPTY)
    pixel = index + cand_ints[1]
    zbuffer = torch.full((batch * height * width,), _EMPTY, dtype=torch.int64, device=device)
    zbuffer.scatter_reduce_(0, pixel, key, "amin")

    won = torch.nonzero((take(zbuffer, pixel) == key) & inside).squeeze(1)  # one winner per covered pixel
    won_row = take(cand_row, won)
    barycentric = w[:3].index_select(1, won) * take(inverse_area2, take(row_tri, won_row))
    return Fragments((batch, height, width), take(pixel, won), take(row_ints[3], won_row), barycentric)


def rasterize_reference(vertices: torch.Tensor, triangles: torch.Tensor, size: tuple[int, int]) -> Fragments:
    """The plain rasteriser `rasterize` must agree with: every triangle tested against every pixel, in order.

    Textbook edge functions and barycentric weights, a dense depth buffer and a
    strict depth test (so of equally near triangles the first drawn, the
    smaller index, stays).
    Slow (a Python loop over triangles); for tests.
    """
    _check(vertices, triangles, size)
    height, width = size
    batch = vertices.shape[0]
    device = vertices.device
    py, px = torch.meshgrid(
        torch.arange(height, device=device) + 0.5, torch.arange(width, device=device) + 0.5, indexing="ij"
    )
    depth = torch.full((batch, height, width), float("inf"), device=device)
    triangle = torch.full((batch, height, width), -1, dtype=torch.int64, device=device)
    weights = torch.zeros(batch, height, width, 3, device=device)
    for i in range(batch):
        for f, (k0, k1, k2) in enumerate(triangles.long().tolist()):
            (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = vertices[i, [k0, k1, k2]].float()
            area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
            if not torch.isfinite(area2) or area2.abs() <= 1e-10:
                continue
            e0 = (x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)  # edge functions: weights times area2
            e1 = (x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)
            e2 = (x0 - px) * (y1 - py) - (x1 - px) * (y0 - py)
            w0, w1, w2 = e0 / area2, e1 / area2, e2 / area2
            z = w0 * z0 + w1 * z1 + w2 * z2
            inside = (e0 * area2 >= 0) & (e1 * area2 >= 0) & (e2 * area2 >= 0)
            wins = inside & (z < depth[i])
            depth[i] = torch.where(wins, z, depth[i])
            triangle[i] = torch.where(wins, f, triangle[i])
            weights[i] = torch.where(wins[..., None], torch.stack([w0, w1, w2], -1), weights[i])
    pixel = torch.nonzero(triangle.view(-1) >= 0).squeeze(1)
    return Fragments((batch, height, width), pixel, triangle.view(-1)[pixel], weights.view(-1, 3)[pixel].t())


def interpolate(fragments: Fragments, triangles: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Per-vertex attributes B x V x C at the covered pixels: float32 C x P (lay out with `Fragments.image`)."""
    batch = fragments.size[0]
    if attributes.ndim != 3 or attributes.shape[0] != batch:
        raise ValueError(f"attributes must be B x V x C with B = {batch}, got shape {tuple(attributes.shape)}")
    n_faces, channels = triangles.shape[0], attributes.shape[-1]
    corner_values = attributes.float()[:, triangles.long()].permute(2, 3, 0, 1).reshape(3 * channels, -1)
    values = corner_values.index_select(1, fragments.global_triangle(n_faces)).view(3, channels, -1)
    w = fragments.barycentric[:, None]
    return (values[0] * w[0]).addcmul_(values[1], w[1]).addcmul_(values[2], w[2])
