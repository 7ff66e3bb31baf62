"""Loss values on hand-made inputs: weight-map effect, hinge values, feature matching."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from reenact.nn.losses import (
    detail_l1,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_hinge_loss,
    weighted_l1,
)


def _region_error() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pred differs from target by 0.5 inside an 8x8 'mouth' square only, and a mask of that square."""
    target = torch.zeros(2, 3, 32, 32)
    pred = target.clone()
    pred[:, :, 16:24, 8:16] = 0.5
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 16:24, 8:16] = 1.0
    return pred, target, mask


def test_weighted_l1_without_weights_is_l1() -> None:
    pred, target = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(weighted_l1(pred, target), F.l1_loss(pred, target))
    torch.testing.assert_close(weighted_l1(pred, target, torch.ones(2, 1, 16, 16)), F.l1_loss(pred, target))


def test_weight_on_the_erring_region_scales_the_loss() -> None:
    pred, target, mask = _region_error()
    plain = weighted_l1(pred, target)
    assert plain.item() == pytest.approx(0.5 * 64 / 1024)
    assert weighted_l1(pred, target, 1 + 4 * mask).item() == pytest.approx(5 * plain.item())


def test_weight_elsewhere_leaves_the_loss_alone() -> None:
    pred, target, mask = _region_error()
    elsewhere = torch.zeros_like(mask)
    elsewhere[:, :, 0:8, 0:8] = 1.0
    assert weighted_l1(pred, target, 1 + 4 * elsewhere).item() == pytest.approx(weighted_l1(pred, target).item())
    assert weighted_l1(pred, target, 1 - mask).item() == 0.0


def test_weighted_l1_rejects_bad_shapes() -> None:
    x = torch.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match="weight"):
        weighted_l1(x, x, torch.ones(2, 3, 8, 8))
    with pytest.raises(ValueError, match="differ in shape"):
        weighted_l1(x, torch.zeros(2, 3, 4, 4))


def test_detail_l1_scores_texture_not_level() -> None:
    """A brightness offset costs plain L1 but no detail; a blur costs detail at every octave."""
    torch.manual_seed(0)
    target = torch.rand(2, 3, 64, 64)
    brighter = target + 0.2
    blurred = F.avg_pool2d(F.pad(target, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    assert detail_l1(target, target).item() == 0.0
    assert detail_l1(brighter, target).item() == pytest.approx(0.0, abs=1e-6)
    assert weighted_l1(brighter, target).item() == pytest.approx(0.2)
    assert detail_l1(blurred, target).item() > 0.05
    for scales in (1, 2, 3):
        print(f"detail L1 of a 5x5 blur over {scales} octave(s): {detail_l1(blurred, target, scales=scales).item():.4f}")


def test_detail_l1_weight_follows_the_image_down_the_octaves() -> None:
    """Noise inside a square counts where the weight is; outside it only the square's blurred rim does."""
    torch.manual_seed(0)
    target = torch.zeros(2, 3, 64, 64)
    square = torch.zeros(2, 1, 64, 64)
    square[..., 16:48, 16:48] = 1.0
    pred = target + 0.3 * torch.rand_like(target) * square
    assert detail_l1(pred, target, 1 - square).item() < 0.3 * detail_l1(pred, target, square).item()


@pytest.mark.parametrize(
    "real, fake, expected",
    [(1.0, -1.0, 0.0), (2.0, -3.0, 0.0), (0.0, 0.0, 2.0), (-1.0, 1.0, 4.0), (0.5, -0.5, 1.0)],
)
def test_discriminator_hinge_known_values(real: float, fake: float, expected: float) -> None:
    loss = discriminator_hinge_loss([torch.full((2, 1, 4, 4), real)], [torch.full((2, 1, 4, 4), fake)])
    assert loss.item() == pytest.approx(expected)


def test_hinge_averages_over_scales() -> None:
    real = [torch.full((1, 1, 8, 8), 1.0), torch.full((1, 1, 4, 4), 0.0)]
    fake = [torch.full((1, 1, 8, 8), -1.0), torch.full((1, 1, 4, 4), 0.0)]
    assert discriminator_hinge_loss(real, fake).item() == pytest.approx((0.0 + 2.0) / 2)
    assert generator_hinge_loss(
        [torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 4, 4), -1.5)]
    ).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="scales"):
        discriminator_hinge_loss(real, fake[:1])


def test_feature_matching() -> None:
    real = [[torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4)], [torch.randn(2, 4, 4, 4), torch.randn(2, 8, 2, 2)]]
    assert feature_matching_loss(real, real).item() == 0.0
    fake = [[(f + 0.5).requires_grad_() for f in scale] for scale in real]
    real = [[f.clone().requires_grad_() for f in scale] for scale in real]
    loss = feature_matching_loss(fake, real)
    assert loss.item() == pytest.approx(0.5)
    loss.backward()
    assert fake[0][0].grad is not None and real[0][0].grad is None
    with pytest.raises(ValueError, match="layers"):
        feature_matching_loss([fake[0][:1]], [real[0]])
