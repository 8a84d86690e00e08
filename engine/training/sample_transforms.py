"""Per-sample CPU transforms for ``data.loader.cpu_augment``: one image at a time, in numpy.

This is how a torchvision-style pipeline augments: each ``__getitem__`` transforms one sample on
the CPU, so the cost grows with the batch and lands on the data loader, not the device. The
names match ``data.augment``'s kornia transforms (same ranges), so a lesson can move the same
augmentation from the loader onto the batch. Torch-free: the recipe's validation lists the names.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.config.registry import Registry

#: name -> fn(image (C, H, W) float32, rng) -> image of the same shape
TRANSFORMS = Registry("per-sample transform")
Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@TRANSFORMS.register("affine")
def affine(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the time: rotate by up to 10°, shift by up to 10%, scale by 0.9-1.1 (kornia's RandomAffine ranges)."""
    if rng.random() >= 0.5:
        return image
    from scipy.ndimage import affine_transform

    angle = np.deg2rad(rng.uniform(-10.0, 10.0))
    scale = rng.uniform(0.9, 1.1)
    h, w = image.shape[-2:]
    shift = rng.uniform(-0.1, 0.1, 2) * (h, w)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    offset = centre - rot @ (centre + shift)
    return np.stack([affine_transform(c, rot, offset=offset, order=1, mode="nearest") for c in image])


@TRANSFORMS.register("hflip")
def hflip(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the time: mirror left to right."""
    return image[..., ::-1].copy() if rng.random() < 0.5 else image


@TRANSFORMS.register("noise")
def noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the time: add Gaussian noise of standard deviation 0.1 (the data are standardised)."""
    if rng.random() >= 0.5:
        return image
    return (image + rng.normal(0.0, 0.1, image.shape)).astype(np.float32)


class Compose:
    """``names`` applied in order. A class, not a closure: a DataLoader started with ``spawn`` (macOS,
    Windows, or a spawned parent) pickles its dataset, transforms included, into each worker."""

    def __init__(self, names: tuple[str, ...] | list[str]):
        self.names = tuple(names)
        for name in self.names:
            TRANSFORMS.get(name)  # an unknown name fails here, naming the known ones

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for name in self.names:
            image = TRANSFORMS.get(name)(image, rng)
        return np.ascontiguousarray(image, dtype=np.float32)


def compose(names: tuple[str, ...] | list[str]) -> Compose | None:
    """One transform applying ``names`` in order, or None for none."""
    return Compose(names) if names else None
