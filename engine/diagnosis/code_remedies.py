"""A watched run's remedies, written as code changes ("replace nn.Sigmoid with nn.ReLU ...").

Torch-free. A recipe run's remedy is a set of recipe overrides the dashboard can launch; a
watched run (``gradclinic.watch``) has no recipe to override, so its remedies are the same
remedies, chosen and ranked the same way, and then written as the change to make in the
user's own code. :func:`ranked` builds a recipe from what was inferred about the run
(:func:`ranking_recipe`: the activation, the init, norms, the optimizer, the learning rate),
lets :func:`engine.diagnosis.remedies.ranked` choose and order the remedies by their measured
evidence (a remedy the model already uses is not offered, one never measured to help is not
either), and words each one from the run's facts (:func:`change`). Where a fact is unknown the
words say so: a model whose activation no hook could see is told to use ReLU "if forward calls
torch.sigmoid or torch.tanh".

Each remedy keeps its registry ``name`` and ``why``; ``set`` is empty (nothing to launch), and
``change`` (one line) and ``code`` (a snippet) are added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.diagnosis import remedies
from engine.diagnosis.findings import Remedy


@dataclass
class CodeRemedy(Remedy):
    """A remedy as a change to the user's code: ``change`` in words, ``code`` a snippet (may be empty)."""

    change: str = ""
    code: str = ""


def _facts(recipe: Mapping[str, Any]) -> dict[str, Any]:
    return dict(recipe.get("watch") or {})


def ranking_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe :func:`remedies.ranked` reads for a watched run: only what was inferred, as recipe keys."""
    w = _facts(recipe)
    train = recipe.get("train") or {}
    model: dict[str, Any] = {"arch": w.get("arch_kind") or "mlp", "norm": w.get("norm") or "none"}
    for key in ("activation", "init"):
        if w.get(key):
            model[key] = w[key]
    if w.get("dropout"):
        model["dropout"] = float(w["dropout"])
    kind_data = {"cnn": "digits", "lstm": "adding", "gru": "adding", "rnn": "adding", "transformer": "adding"}
    return {
        "model": model,
        "train": {
            "optimizer": w.get("optimizer"),
            "lr": w.get("lr"),
            "weight_decay": w.get("weight_decay") or 0.0,
            "batch_size": train.get("batch_size"),
            "steps": train.get("steps"),
        },
        # The data's kind decides image augmentation: images for a conv net, a table otherwise.
        "data": {"name": kind_data.get(str(model["arch"]), "moons")},
    }


def ranked(
    names_in_order: list[str],
    recipe: Mapping[str, Any],
    trials: dict[str, Any] | None,
    code: str,
    *,
    syndrome: str | None = None,
) -> list[Remedy]:
    """The remedies ``remedies.ranked`` offers for finding ``code`` on this watched run, as code changes."""
    out: list[Remedy] = []
    for r in remedies.ranked(names_in_order, ranking_recipe(recipe), trials, code, syndrome=syndrome):
        words, snippet = change(r.name, recipe)
        out.append(CodeRemedy(r.name, {}, r.why, r.evidence, change=words, code=snippet))
    return out


_INIT_LOOP = """for m in model.modules():
    if isinstance(m, (nn.Linear, nn.Conv2d)):
        nn.init.{fn}(m.weight{args})
        if m.bias is not None:
            nn.init.zeros_(m.bias)"""


def _num(x: Any) -> str:
    return f"{float(x):.3g}"


def change(name: str, recipe: Mapping[str, Any]) -> tuple[str, str]:
    """(the change in words, a code snippet) for remedy ``name`` on this watched run."""
    w = _facts(recipe)
    act = w.get("activation_module")
    family = w.get("activation_family")
    opt = w.get("optimizer_class") or "SGD"
    lr = w.get("lr")
    batch = (recipe.get("train") or {}).get("batch_size")
    steps = (recipe.get("train") or {}).get("steps")
    layer = "nn.Conv2d" if w.get("conv") else "nn.Linear"
    unseen = (
        "" if act else " (no activation module was seen: if forward calls torch.sigmoid or torch.tanh, call torch.relu)"
    )
    swap = f"# in the model: nn.{act}() -> nn.ReLU()" if act else "# in forward: torch.sigmoid(x) -> torch.relu(x)"
    he = _INIT_LOOP.format(fn="kaiming_normal_", args=', nonlinearity="relu"')
    if name == "he_relu":
        what = f"replace nn.{act} with nn.ReLU" if act else "use ReLU as the activation"
        return f"{what} and initialise with kaiming_normal_{unseen}", f"{swap}\n{he}"
    if name == "relu":
        what = f"replace nn.{act} with nn.ReLU" if act else "use ReLU as the activation"
        return what + unseen, swap
    if name == "leaky_relu":
        was = f"nn.{act}" if act else "nn.ReLU"
        return f"replace {was} with nn.LeakyReLU(0.01)", f"# in the model: {was}() -> nn.LeakyReLU(negative_slope=0.01)"
    if name == "he_init":
        return "initialise the weights with kaiming_normal_ (sized for ReLU units)", he
    if name == "xavier_init":
        gain = {"Tanh": "tanh", "Sigmoid": "sigmoid"}.get(str(act), "sigmoid" if family == "saturating" else "relu")
        snippet = _INIT_LOOP.format(fn="xavier_normal_", args=f', gain=nn.init.calculate_gain("{gain}")')
        return f"initialise the weights with xavier_normal_ and the {gain} gain", snippet
    if name == "residual":
        return (
            "add a skip connection around each block whose input and output have the same shape",
            "def forward(self, x):\n    for block in self.blocks:\n        x = x + block(x)  # was: x = block(x)\n"
            "    return self.head(x)",
        )
    if name == "batch_norm":
        norm = "nn.BatchNorm2d" if w.get("conv") else "nn.BatchNorm1d"
        after = f"nn.{act}()" if act else "the activation"
        return (
            f"put a {norm} after each {layer}, before its activation",
            f"{layer}(n_in, n_out), {norm}(n_out), {after}  # was: {layer}(n_in, n_out), {after}",
        )
    if name == "adam":
        return (
            f"train with Adam at lr 0.001 instead of {opt}",
            "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)",
        )
    if name == "clip_norm":
        return (
            "clip the gradient norm to 1 between backward() and step()",
            "loss.backward()\n"
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # with a GradScaler: "
            "scaler.unscale_(optimizer) first\noptimizer.step()",
        )
    if name in ("lower_lr", "higher_lr") and isinstance(lr, (int, float)):
        new = remedies.REMEDIES.get(name).overrides({"train": {"lr": lr}})["train.lr"]
        return (
            f"{'lower' if name == 'lower_lr' else 'raise'} the learning rate from {_num(lr)} to {_num(new)}",
            f"optimizer = torch.optim.{opt}(model.parameters(), lr={_num(new)})",
        )
    if name == "dropout":
        return (
            "add nn.Dropout(0.3) after each hidden activation",
            f"{layer}(n_in, n_out), nn.{act or 'ReLU'}(), nn.Dropout(0.3)",
        )
    if name == "weight_decay":
        lr_arg = f"lr={_num(lr)}, " if isinstance(lr, (int, float)) else ""
        return (
            "add weight decay (L2) of 0.001 to the optimizer",
            f"optimizer = torch.optim.{opt}(model.parameters(), {lr_arg}weight_decay=1e-3)",
        )
    if name == "augmentation":
        return (
            "augment the training images (small shifts and rotations, a little noise)",
            "from torchvision import transforms\n"
            "augment = transforms.RandomAffine(degrees=10, translate=(0.1, 0.1))  # applied to each training batch",
        )
    if name == "early_stopping":
        return (
            "keep the weights of the best validation loss, and stop after 5 evaluations without improvement",
            "if val_loss < best:\n    best, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0\n"
            "else:\n    waited += 1\n    if waited >= 5:\n        break  # then model.load_state_dict(best_state)",
        )
    if name == "wider":
        return "make the hidden layers four times wider", f"{layer}(n_in, 4 * width)  # and the next layer's input"
    if name == "longer":
        more = f" ({steps} -> {2 * int(steps)} steps)" if isinstance(steps, int) else ""
        return f"train for twice as many steps{more}", ""
    if name == "bigger_batch" and isinstance(batch, int):
        return (
            f"train on batches four times bigger ({batch} -> {4 * batch})",
            f"DataLoader(train_set, batch_size={4 * batch}, shuffle=True)",
        )
    if name == "schedule":
        return (
            "decay the learning rate over the run (cosine)",
            "scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)\n"
            "# after each optimizer.step(): scheduler.step()",
        )
    if name == "more_workers":
        return (
            "load batches in worker processes",
            "DataLoader(train_set, batch_size=..., num_workers=4, persistent_workers=True)",
        )
    if name == "pin_memory":
        return "pin the batches' memory", "DataLoader(train_set, batch_size=..., pin_memory=True)"
    return remedies.REMEDIES.get(name).why, ""
