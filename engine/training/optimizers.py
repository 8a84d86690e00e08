"""Optimizer registry: ``train.optimizer`` name -> factory(params, train).

Factories import torch in their bodies so that listing names stays torch-free.
``train.weight_decay`` is L2 for every optimizer except ``adamw``, where it is
decoupled, which is the whole point of AdamW.
"""

from __future__ import annotations

from engine.config.registry import Registry

OPTIMIZERS = Registry("optimizer")


@OPTIMIZERS.register("sgd")
def sgd(params, train):
    import torch

    return torch.optim.SGD(params, lr=train.lr, weight_decay=train.weight_decay)


@OPTIMIZERS.register("momentum")
def momentum(params, train):
    import torch

    return torch.optim.SGD(params, lr=train.lr, momentum=0.9, weight_decay=train.weight_decay)


@OPTIMIZERS.register("nesterov")
def nesterov(params, train):
    import torch

    return torch.optim.SGD(params, lr=train.lr, momentum=0.9, nesterov=True, weight_decay=train.weight_decay)


@OPTIMIZERS.register("adam")
def adam(params, train):
    import torch

    return torch.optim.Adam(params, lr=train.lr, weight_decay=train.weight_decay)


@OPTIMIZERS.register("adamw")
def adamw(params, train):
    import torch

    return torch.optim.AdamW(params, lr=train.lr, weight_decay=train.weight_decay)


@OPTIMIZERS.register("rmsprop")
def rmsprop(params, train):
    import torch

    return torch.optim.RMSprop(params, lr=train.lr, alpha=0.99, weight_decay=train.weight_decay)
