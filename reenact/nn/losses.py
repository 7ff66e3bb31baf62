"""Training losses: weighted L1 reconstruction and its detail bands, hinge adversarial loss, feature matching.

Hinge rather than LSGAN: with the spectrally normalised discriminators of
`reenact.nn.discriminator` it is the tested SNGAN / SPADE recipe, and its
margin stops the discriminator from pushing logits further once a sample is
judged confidently (LSGAN keeps pulling them to exact targets), which keeps the
generator's gradients from vanishing or exploding when the discriminator wins.

Multi-scale discriminators give lists (one entry per scale); the adversarial
and feature-matching losses average over scales so that their size does not
change with the number of scales.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from reenact.nn.discriminator import detail_band


def weighted_l1(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean over B, C, H, W of weight * |pred - target|; plain L1 when weight is None.

    pred, target: B x C x S x S; weight: B x 1 x S x S, >= 0, the same for all
    channels (e.g. 1 + k * mouth_and_eyes_mask from the rendered masks). The mean
    is over all pixels, not normalised by the weights, so raising a region's
    weight to k raises exactly that region's share of the loss k times.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    error = (pred - target).abs()
    if weight is None:
        return error.mean()
    if (
        weight.dim() != 4
        or weight.shape[1] != 1
        or weight.shape[0] != pred.shape[0]
        or weight.shape[2:] != pred.shape[2:]
    ):
        raise ValueError(
            f"weight: expected {pred.shape[0]} x 1 x {pred.shape[2]} x {pred.shape[3]}, got {tuple(weight.shape)}"
        )
    return (error * weight).mean()


def detail_l1(pred: Tensor, target: Tensor, weight: Tensor | None = None, scales: int = 3) -> Tensor:
    """Weighted L1 between the detail bands of pred and target at `scales` octaves, averaged over them.

    A network learns low frequencies first (spectral bias), and in plain L1 a
    missing texture costs little: the finest band holds ~6% of the image's
    amplitude on the sample clips. Scoring each octave's band (the image minus
    its 3x3 blur, at full, 1/2, 1/4 size) on its own gives texture errors a
    weight of their own, as a Laplacian-pyramid loss does. Shapes as in
    `weighted_l1`; the weight is average-pooled with the image.
    """
    losses = []
    for scale in range(scales):
        if scale:
            pred, target = F.avg_pool2d(pred, 2), F.avg_pool2d(target, 2)
            weight = None if weight is None else F.avg_pool2d(weight, 2)
        losses.append(weighted_l1(detail_band(pred), detail_band(target), weight))
    return torch.stack(losses).mean()


def discriminator_hinge_loss(real_logits: Sequence[Tensor], fake_logits: Sequence[Tensor]) -> Tensor:
    """Discriminator hinge loss mean(relu(1 - real)) + mean(relu(1 + fake)), averaged over scales."""
    if len(real_logits) != len(fake_logits) or not real_logits:
        raise ValueError(f"need the same, non-zero number of scales, got {len(real_logits)} and {len(fake_logits)}")
    losses = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real_logits, fake_logits)]
    return torch.stack(losses).mean()


def generator_hinge_loss(fake_logits: Sequence[Tensor]) -> Tensor:
    """Generator side of the hinge loss: -mean(fake logits), averaged over scales."""
    if not fake_logits:
        raise ValueError("need at least one scale of logits")
    return -torch.stack([f.mean() for f in fake_logits]).mean()


def feature_matching_loss(
    fake_features: Sequence[Sequence[Tensor]], real_features: Sequence[Sequence[Tensor]]
) -> Tensor:
    """L1 between the discriminator's features of fake and real, averaged over layers and scales.

    Real features are detached: the loss trains the generator only (pix2pixHD).
    """
    if len(fake_features) != len(real_features) or not fake_features:
        raise ValueError(f"need the same, non-zero number of scales, got {len(fake_features)} and {len(real_features)}")
    per_scale = []
    for fake, real in zip(fake_features, real_features):
        if len(fake) != len(real) or not fake:
            raise ValueError(f"need the same, non-zero number of layers per scale, got {len(fake)} and {len(real)}")
        per_scale.append(torch.stack([F.l1_loss(f, r.detach()) for f, r in zip(fake, real)]).mean())
    return torch.stack(per_scale).mean()
