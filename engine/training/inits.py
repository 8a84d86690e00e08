"""Weight-init registry: ``model.init`` name -> fn(weight, activation, std).

Applied by :func:`apply_init` to every weight matrix or kernel (ndim >= 2);
biases are zeroed for any scheme but ``default``, which keeps PyTorch's own
initialisation untouched; ``model.init_bias`` sets every bias to one value
instead.
"""

from __future__ import annotations

from engine.config.registry import Registry

INITS = Registry("init")


@INITS.register("default")
def default(weight, activation, std):
    return None


@INITS.register("xavier_uniform")
def xavier_uniform(weight, activation, std):
    import torch.nn as nn

    nn.init.xavier_uniform_(weight, gain=_gain(activation))


@INITS.register("xavier_normal")
def xavier_normal(weight, activation, std):
    import torch.nn as nn

    nn.init.xavier_normal_(weight, gain=_gain(activation))


@INITS.register("he_uniform")
def he_uniform(weight, activation, std):
    import torch.nn as nn

    nn.init.kaiming_uniform_(weight, mode="fan_in", nonlinearity="relu")


@INITS.register("he_normal")
def he_normal(weight, activation, std):
    import torch.nn as nn

    nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")


@INITS.register("orthogonal")
def orthogonal(weight, activation, std):
    import torch.nn as nn

    nn.init.orthogonal_(weight, gain=_gain(activation))


@INITS.register("normal")
def normal(weight, activation, std):
    import torch.nn as nn

    nn.init.normal_(weight, mean=0.0, std=0.01 if std is None else std)


def _gain(activation: str) -> float:
    import torch.nn as nn

    from engine.training.activations import get

    name = get(activation).gain_name
    if name == "leaky_relu":
        return nn.init.calculate_gain("leaky_relu", 0.01)
    return nn.init.calculate_gain(name)  # type: ignore[arg-type]  # a registered gain name


def apply_init(model, scheme: str, activation: str, std: float | None = None, bias: float | None = None) -> None:
    """Initialise every weight matrix/kernel of ``model`` with ``scheme``, and its biases (to ``bias``)."""
    import torch

    fn = INITS.get(scheme)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim >= 2:
                if scheme != "default":
                    fn(param, activation, std)
            # RNN biases are named bias_ih_l0 / bias_hh_l0, not just "bias".
            elif name.rsplit(".", 1)[-1].startswith("bias"):
                if bias is not None:
                    param.fill_(bias)
                elif scheme != "default":
                    param.zero_()
