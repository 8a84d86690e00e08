"""Post-training int8 quantization with ``torch.ao.quantization``, on the CPU.

Dynamic quantization (``quantize_dynamic``) stores the weights of every ``nn.Linear``, ``nn.LSTM``
and ``nn.GRU`` as int8 and quantizes their inputs on the fly at each call; it needs no data, and
leaves everything else (convolutions, a plain ``nn.RNN``, norms) in float. Static quantization
also fixes the activations' int8 ranges from a calibration pass over training rows, so a whole
network runs in int8; it is tried on the CNN (FX graph mode, which also handles a residual
``x + y``), and where it cannot apply (no quantized kernel for an activation, say) the result
says why instead of failing.

PyTorch marks ``torch.ao.quantization`` deprecated in favour of torchao, which is not a
dependency here; its deprecation warnings are silenced around our calls, since they would
otherwise print on every use.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

log = logging.getLogger(__name__)

#: Quantized kernels, best first: x86 and fbgemm for x86 CPUs, qnnpack for ARM.
ENGINES = ("x86", "fbgemm", "qnnpack")
DYNAMIC_TYPES = (nn.Linear, nn.LSTM, nn.GRU)
CALIBRATION_ROWS = 512
_INT8_MODULES = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")  # where int8 modules live


@dataclass
class Quantized:
    """A quantized model, or why there is none."""

    method: str  # "dynamic" or "static"
    model: nn.Module | None  # None when it did not apply
    engine: str | None
    layers: list[str] = field(default_factory=list)  # the modules now in int8 ("layers.0.layer", "lstm", ...)
    why_not: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the model."""
        out: dict[str, Any] = {"method": self.method, "engine": self.engine, "int8_layers": self.layers}
        if self.why_not is not None:
            out["why_not"] = self.why_not
        return out


def engine() -> str | None:
    """The quantized engine to use: the current one when it is real, else the best this build has."""
    supported = torch.backends.quantized.supported_engines
    if torch.backends.quantized.engine in ENGINES:
        return torch.backends.quantized.engine
    for name in ENGINES:
        if name in supported:
            torch.backends.quantized.engine = name  # packed weights only run under the engine that packed them
            return name
    return None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantize_per_tensor.*deprecated.*")
        warnings.filterwarnings("ignore", message=r".*reduce_range will be deprecated.*")
        yield


def dynamic_int8(model: nn.Module) -> Quantized:
    """Dynamic int8 of every Linear, LSTM and GRU of (a CPU copy of) ``model``."""
    name = engine()
    if name is None:
        return Quantized("dynamic", None, None, why_not="this PyTorch build has no quantized CPU engine")
    layers = [n for n, m in model.named_modules() if type(m) in DYNAMIC_TYPES]
    if not layers:
        return Quantized("dynamic", None, name, why_not="no Linear, LSTM or GRU layer to quantize")
    source = copy.deepcopy(model).cpu().eval()
    with _quiet():
        q = torch.ao.quantization.quantize_dynamic(source, set(DYNAMIC_TYPES), dtype=torch.qint8)
    return Quantized("dynamic", q.eval(), name, layers)


def static_int8(model: nn.Module, calibration: torch.Tensor) -> Quantized:
    """Static int8 of a whole network (FX graph mode), calibrated on ``calibration`` rows.

    Anything that keeps it from applying (an op with no int8 kernel, a graph FX cannot trace)
    is reported in ``why_not``: what this model cannot do is a result, not a crash.
    """
    name = engine()
    if name is None:
        return Quantized("static", None, None, why_not="this PyTorch build has no quantized CPU engine")
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    x = calibration[:CALIBRATION_ROWS].cpu()
    source = copy.deepcopy(model).cpu().eval()
    try:
        with _quiet(), torch.no_grad():
            prepared = prepare_fx(source, get_default_qconfig_mapping(name), example_inputs=(x[:1],))
            prepared(x)  # the observers record each activation's range
            q = convert_fx(prepared)
            q(x[:2])  # an op without an int8 kernel fails here, not at measurement time
    except Exception as exc:  # any failure means "does not apply": logged here, reported in the result
        log.info("static int8 did not apply", exc_info=True)
        return Quantized("static", None, name, why_not=f"static int8 does not apply: {type(exc).__name__}: {exc}"[:300])
    layers = [
        n for n, m in q.named_modules() if type(m).__module__.startswith(_INT8_MODULES) and "_packed_params" not in n
    ]
    return Quantized("static", q.eval(), name, layers)


def int8(model: nn.Module, arch: str, calibration: torch.Tensor) -> list[Quantized]:
    """``--quantize int8``: dynamic for every model, and static as well for the CNN."""
    out = [dynamic_int8(model)]
    if arch == "cnn":
        out.append(static_int8(model, calibration))
    return out
