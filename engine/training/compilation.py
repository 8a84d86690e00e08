"""``train.compile`` and ``train.channels_last``: the same model, run faster.

``torch.compile`` traces the model's forward once and generates fused kernels (C++ on a CPU,
Triton on CUDA); the first step pays for it, in seconds. The compiled module shares the eager
model's parameters, so the optimizer, the probes, the checkpoints and the evaluations all see
one model. Only the training forward runs compiled: a step on which the probes hook the
activation layers runs the eager model instead, because a compiled graph is specialised to the
hooks present when it was traced (adding or removing one would recompile it, every time).

``channels_last`` stores a CNN's weights and input images as NHWC, the layout the fast
convolution kernels (oneDNN, cuDNN) prefer; the numbers are the same.
"""

from __future__ import annotations

import importlib.util
import shutil
from typing import Any, cast

import torch

from engine.config.errors import RecipeError
from engine.config.recipe import TrainSpec


def compiled_forward(model: torch.nn.Module, train: TrainSpec, device: torch.device | None = None) -> Any:
    """The compiled model when ``train.compile`` asks for it, else None (the eager model is used).

    Refuses, before the first step, a machine that cannot compile: torch.compile is lazy, and its
    failure at the first step would otherwise be a page of compiler traceback.
    """
    if not train.compile:
        return None
    device = device or next(model.parameters()).device
    if device.type == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        raise RecipeError(
            "train.compile: torch.compile needs a C++ compiler on a CPU (g++ or clang++), and none is on PATH; "
            "install one or set train.compile: false"
        )
    if device.type == "cuda" and importlib.util.find_spec("triton") is None:
        raise RecipeError("train.compile: torch.compile on CUDA needs the triton package; set train.compile: false")
    return torch.compile(model)


def to_channels_last(model: torch.nn.Module, train: TrainSpec) -> bool:
    """Convert ``model``'s 4-d weights to channels-last when ``train.channels_last``; True when it did."""
    if not train.channels_last:
        return False
    # Module.to takes memory_format (documented); some torch versions' stubs lack that overload.
    cast(Any, model).to(memory_format=torch.channels_last)
    return True


def input_channels_last(x: torch.Tensor) -> torch.Tensor:
    """A batch of images ``(N, C, H, W)`` as channels-last (other shapes as they are)."""
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x
