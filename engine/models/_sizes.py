"""How big each architecture is, torch-free: one entry per ``engine/models/<arch>.py``.

:mod:`engine.control.budget` asks these before a run has a row, so a run that
cannot fit in memory is refused at once instead of dying in the allocator.
Each entry is a function of the recipe's ``model`` section and a
:class:`DataShape` that returns a :class:`Size`: exact parameter counts, and
honest orders of magnitude for the rest.

The underscore keeps this module out of the architecture registry (which
takes every public file here for an architecture). It must never import
torch. ``tests/engine/test_budget.py`` builds every architecture at several
sizes and compares ``params`` with the real count and ``acts`` with the
tensors autograd really keeps, and it fails for an architecture without an
entry, so an entry cannot drift from its file unnoticed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec

#: Rows per chunk of the trainer's evaluation (``engine.training.trainer.evaluate``).
EVAL_CHUNK = 4096
#: Rows of the fixed training subset each evaluation also scores (``Batches.train_eval_tensors``).
TRAIN_EVAL_ROWS = 1000
#: The GAN's noise size and generated points per evaluation (``engine.models.gan``).
GAN_NOISE_DIM = 8
GAN_EVAL_POINTS = 1000
#: The transformer uses at most this many attention heads (``engine.models.transformer._heads``).
MAX_HEADS = 4
#: Gate blocks per recurrent cell, as PyTorch stacks them in ``weight_ih_l<k>``.
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
#: Floats a recurrent cell keeps for backward per hidden unit, step and layer, as measured on PyTorch's
#: CPU kernels (about 2 for the RNN, 7 for the GRU, 17 in the workspace of oneDNN's LSTM), rounded up.
KEPT_PER_UNIT = {"rnn": 3, "gru": 9, "lstm": 20}


@dataclass(frozen=True)
class DataShape:
    """What a size formula needs to know about the data: one sample's shape, the outputs and the split."""

    input_shape: tuple[int, ...]
    n_outputs: int
    n_train: int
    n_val: int


@dataclass(frozen=True)
class Size:
    """One architecture at one spec, counted without building it."""

    params: int  # trainable parameters, exactly
    macs: int  # multiply-accumulates of one sample's forward pass
    acts: int  # floats one training sample's forward pass keeps for backward, its input included
    eval_floats: int  # floats an evaluation holds at its peak (no gradients, so only what is live)


SIZES: dict[str, Callable[[ModelSpec, DataShape], Size]] = {}


def size(arch: str) -> Callable[[Callable[[ModelSpec, DataShape], Size]], Callable[[ModelSpec, DataShape], Size]]:
    """``@size("mlp")`` registers the size formula of ``engine/models/mlp.py``."""

    def add(fn: Callable[[ModelSpec, DataShape], Size]) -> Callable[[ModelSpec, DataShape], Size]:
        if arch in SIZES:
            raise ValueError(f"architecture {arch!r} has two size entries")
        SIZES[arch] = fn
        return fn

    return add


def size_of(spec: ModelSpec, shape: DataShape) -> Size:
    """The :class:`Size` of ``spec.arch`` built as ``spec`` for data of ``shape``."""
    try:
        formula = SIZES[spec.arch]
    except KeyError:
        raise KeyError(f"architecture {spec.arch!r} has no size entry in engine/models/_sizes.py") from None
    return formula(spec, shape)


# --- shared pieces ------------------------------------------------------------


def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def _norm(spec: ModelSpec, features: int) -> int:
    """Parameters of one ``model.norm`` layer: a scale and a shift per feature (BatchNorm, LayerNorm, GroupNorm)."""
    return 0 if spec.norm == "none" else 2 * features


def _per_block(spec: ModelSpec) -> int:
    """Tensors of one block's width a ``Block`` produces: the layer, the norm, the activation, dropout, the skip."""
    return 2 + (spec.norm != "none") + (spec.dropout > 0) + bool(spec.residual)


def _dense(n_in: int, spec: ModelSpec) -> tuple[int, int, int]:
    """(params, macs, acts) of ``base.dense_blocks(n_in, spec)``: the MLP, autoencoder and GAN bodies."""
    w, d = spec.width, spec.depth
    params = _linear(n_in, w) + (d - 1) * _linear(w, w) + d * _norm(spec, w)
    macs = n_in * w + (d - 1) * w * w
    return params, macs, d * w * _per_block(spec)


def _chunked_eval(shape: DataShape, widest: int) -> int:
    """The trainer's own evaluation: chunks of rows, each holding a layer's input, output and a temporary."""
    return min(max(shape.n_val, TRAIN_EVAL_ROWS), EVAL_CHUNK) * 3 * widest


def sequence_shape(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(steps, features)``, as ``engine.models.base.sequence_shape`` reads a sample (images: rows are
    steps; video: frames are steps, each frame's pixels its features)."""
    if len(input_shape) == 1:
        return input_shape[0], 1
    if len(input_shape) == 2:
        return input_shape[0], input_shape[1]
    if len(input_shape) == 4:
        t, c, h, w = input_shape
        return t, c * h * w
    c, h, w = input_shape[-3:]
    return h, c * w


def _frames(input_shape: tuple[int, ...]) -> tuple[int, tuple[int, int, int]]:
    """``(frames, (C, H, W))``: video ``(T, C, H, W)`` is T images through the same conv stack; an image is one."""
    if len(input_shape) == 4:
        t, c, h, w = input_shape
        return t, (c, h, w)
    if len(input_shape) == 3:
        c, h, w = input_shape
        return 1, (c, h, w)
    return 1, (1, 1, math.prod(input_shape))


@dataclass(frozen=True)
class _ConvStack:
    """``base.conv_blocks`` on one frame, with the 2x2 max-pool after the first block (cnn, crnn)."""

    params: int
    macs: int
    acts: int  # the frame itself, every block's tensors and the pooled map
    first: int  # floats of the first block's output (before the pool): an evaluation's widest layer
    pooled: tuple[int, int]  # (H, W) after the pool


def _conv_stack(spec: ModelSpec, c: int, h: int, wd: int) -> _ConvStack:
    w, d = spec.width, spec.depth
    # A 2x2 max-pool after the first block, when the image is at least 2x2.
    hp, wp = (h // 2, wd // 2) if min(h, wd) >= 2 else (h, wd)
    params = _linear(9 * c, w) + (d - 1) * _linear(9 * w, w) + d * _norm(spec, w)
    macs = 9 * c * w * h * wd + (d - 1) * 9 * w * w * hp * wp
    first, rest = w * h * wd, w * hp * wp
    acts = c * h * wd + first * _per_block(spec) + rest + (d - 1) * rest * _per_block(spec)
    return _ConvStack(params, macs, acts, first, (hp, wp))


# --- one entry per architecture -------------------------------------------------


@size("mlp")
def mlp(spec: ModelSpec, shape: DataShape) -> Size:
    n_in, w = math.prod(shape.input_shape), spec.width
    params, macs, acts = _dense(n_in, spec)
    head = _linear(w, shape.n_outputs)
    acts += n_in + shape.n_outputs
    return Size(params + head, macs + w * shape.n_outputs, acts, _chunked_eval(shape, max(n_in, w)))


@size("cnn")
def cnn(spec: ModelSpec, shape: DataShape) -> Size:
    frames, (c, h, wd) = _frames(shape.input_shape)  # video: every frame through the stack, then averaged
    conv, w = _conv_stack(spec, c, h, wd), spec.width
    params = conv.params + _linear(w, shape.n_outputs)
    macs = frames * conv.macs + w * shape.n_outputs
    acts = frames * conv.acts + shape.n_outputs
    return Size(params, macs, acts, _chunked_eval(shape, frames * max(c * h * wd, conv.first)))


@size("crnn")
def crnn(spec: ModelSpec, shape: DataShape) -> Size:
    frames, (c, h, wd) = _frames(shape.input_shape)
    conv, w = _conv_stack(spec, c, h, wd), spec.width
    g, features = GATES["gru"], w * conv.pooled[0] * conv.pooled[1]  # each frame's pooled map, flattened
    weights = g * w * (features + w)
    params = conv.params + weights + 2 * g * w + _linear(w, shape.n_outputs)
    macs = frames * (conv.macs + weights) + w * shape.n_outputs
    # The GRU's input is the last block's map (counted in the stack); its own state per step and unit.
    acts = frames * (conv.acts + w * KEPT_PER_UNIT["gru"]) + w * (1 + (spec.dropout > 0)) + shape.n_outputs
    return Size(params, macs, acts, _chunked_eval(shape, frames * max(c * h * wd, conv.first)))


def _recurrent(cell: str, spec: ModelSpec, shape: DataShape) -> Size:
    steps, features = sequence_shape(shape.input_shape)
    g, w, d = GATES[cell], spec.width, spec.depth
    weights = sum(g * w * ((features if layer == 0 else w) + w) for layer in range(d))
    params = weights + d * 2 * g * w + _norm(spec, w) + _linear(w, shape.n_outputs)
    acts = steps * (features + d * w * KEPT_PER_UNIT[cell]) + w + shape.n_outputs
    widest = steps * w * (g + 2)  # one layer's gates and states over the whole sequence
    return Size(params, steps * weights + w * shape.n_outputs, acts, _chunked_eval(shape, widest))


@size("rnn")
def rnn(spec: ModelSpec, shape: DataShape) -> Size:
    return _recurrent("rnn", spec, shape)


@size("lstm")
def lstm(spec: ModelSpec, shape: DataShape) -> Size:
    return _recurrent("lstm", spec, shape)


@size("gru")
def gru(spec: ModelSpec, shape: DataShape) -> Size:
    return _recurrent("gru", spec, shape)


@size("transformer")
def transformer(spec: ModelSpec, shape: DataShape) -> Size:
    steps, features = sequence_shape(shape.input_shape)
    w, d = spec.width, spec.depth
    # A block: qkv (w -> 3w), out (w -> w), fc1 (w -> 2w), fc2 (2w -> w), two pre-norms.
    block = _linear(w, 3 * w) + _linear(w, w) + _linear(w, 2 * w) + _linear(2 * w, w) + 2 * _norm(spec, w)
    params = _linear(features, w) + steps * w + d * block + _norm(spec, w) + _linear(w, shape.n_outputs)
    macs = steps * (features * w + d * 8 * w * w) + d * 2 * steps * steps * w + w * shape.n_outputs  # QK' and AV
    # Per step and block: norms, qkv, attention out, projections, the MLP's 2w hidden units twice, the skips.
    # The fused attention kernels never hold the steps x steps weights, but attention dropout needs the
    # plain kernel, which keeps the weights, the mask and the dropped weights of every head.
    attention = 3 * MAX_HEADS * steps * steps if spec.dropout > 0 else 0
    acts = steps * features + d * (steps * w * 14 + attention) + steps * w
    widest = steps * 3 * w
    return Size(params, macs, acts, _chunked_eval(shape, widest))


@size("autoencoder")
def autoencoder(spec: ModelSpec, shape: DataShape) -> Size:
    n_in, w = math.prod(shape.input_shape), spec.width
    code = max(2, w // 8)
    enc, enc_macs, enc_acts = _dense(n_in, spec)
    dec, dec_macs, dec_acts = _dense(code, spec)
    params = enc + _linear(w, code) + dec + _linear(w, n_in)
    macs = enc_macs + w * code + dec_macs + w * n_in
    # Its evaluation scores the whole validation set at once, then the training subset.
    rows = max(shape.n_val, min(shape.n_train, TRAIN_EVAL_ROWS))
    return Size(params, macs, n_in + enc_acts + dec_acts + code + n_in, rows * 3 * max(n_in, w))


@size("gan")
def gan(spec: ModelSpec, shape: DataShape) -> Size:
    w = spec.width
    gen, gen_macs, gen_acts = _dense(GAN_NOISE_DIM, spec)
    disc, disc_macs, disc_acts = _dense(2, spec)
    params = gen + _linear(w, 2) + disc + _linear(w, 1)
    # Per real sample a step runs the generator once and the discriminator on three points (real, fake, fake).
    macs = gen_macs + 2 * w + 3 * (disc_macs + w)
    acts = GAN_NOISE_DIM + gen_acts + 2 + 3 * (2 + disc_acts + 1)
    # The MMD and the mode coverage compare every pair of points: a few (n x n) distance matrices live at once.
    n = max(shape.n_val, GAN_EVAL_POINTS)
    return Size(params, macs, acts, 5 * n * n + GAN_EVAL_POINTS * 3 * w)
