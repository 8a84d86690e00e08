"""Smaller, faster variants of a trained run (``gradclinic compress``): pruning, int8 quantization,
and the measurements that compare them with the dense model.

``prune`` (torch.nn.utils.prune), ``quantize`` (torch.ao.quantization), ``measure`` (task metric,
parameter counts, size on disk, CPU latency) and ``run``, the driver that stores each variant as a
run of its own. Knowledge distillation's training hook is :mod:`engine.training.distill`.
"""
