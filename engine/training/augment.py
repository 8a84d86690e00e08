"""Batch augmentation registry (kornia, on the training device, image data only).

``data.augment: [hflip, affine, noise]`` builds one ``nn.Sequential`` that the
trainer applies to each training batch of shape (N, C, H, W).
"""

from __future__ import annotations

from engine.config.registry import Registry

AUGMENTATIONS = Registry("augmentation")


@AUGMENTATIONS.register("hflip")
def hflip():
    import kornia.augmentation as K

    return K.RandomHorizontalFlip(p=0.5)


@AUGMENTATIONS.register("affine")
def affine():
    import kornia.augmentation as K

    return K.RandomAffine(degrees=10.0, translate=(0.1, 0.1), scale=(0.9, 1.1), p=0.5)


@AUGMENTATIONS.register("noise")
def noise():
    import kornia.augmentation as K

    return K.RandomGaussianNoise(mean=0.0, std=0.1, p=0.5)


def build(names: list[str] | tuple[str, ...]):
    """An ``nn.Sequential`` of the named augmentations, or None when there are none."""
    if not names:
        return None
    import torch.nn as nn

    return nn.Sequential(*(AUGMENTATIONS.get(n)() for n in names))
