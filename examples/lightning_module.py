"""The deep sigmoid network of ``plain_loop.py`` as a Lightning module, watched by one callback.

``ClinicCallback`` is the watch API driven by Lightning's hooks: add it to the Trainer's
callbacks and the fit is a run in the store the dashboard reads, with the same probes and
findings. Needs the optional extra: ``pip install 'gradclinic[lightning]'``.

    python examples/lightning_module.py [--seed 0] [--steps 300] [--relu]
"""

import argparse

import lightning as L
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

from gradclinic.lightning import ClinicCallback


class DeepNet(L.LightningModule):
    """Twenty layers of 64 units (sigmoid, or ReLU with He init), then ten outputs."""

    def __init__(self, depth=20, width=64, relu=False, lr=0.01):
        super().__init__()
        act = nn.ReLU if relu else nn.Sigmoid
        layers = [nn.Linear(64, width), act()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), act()]
        layers.append(nn.Linear(width, 10))
        self.net = nn.Sequential(*layers)
        if relu:
            for m in self.net:
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
        self.lr = lr
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.criterion(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        self.log("val_loss", self.criterion(out, y))
        self.log("val_accuracy", (out.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def loaders(seed):
    digits = load_digits()  # bundled with scikit-learn: no download
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=seed)
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    return train, DataLoader(TensorDataset(x_val, y_val), batch_size=512)


def main(argv=None, **clinic_options):
    parser = argparse.ArgumentParser(description="A deep MLP on the digits, in Lightning, watched.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--relu", action="store_true", help="ReLU and He init instead of sigmoid")
    args = parser.parse_args(argv)
    L.seed_everything(args.seed, verbose=False)
    train, val = loaders(args.seed)
    clinic = ClinicCallback(name="lightning-" + ("relu" if args.relu else "sigmoid"), **clinic_options)
    trainer = L.Trainer(
        max_steps=args.steps,
        val_check_interval=50,
        check_val_every_n_epoch=None,  # every 50 steps, across epochs
        callbacks=[clinic],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(DeepNet(relu=args.relu), train, val)
    return clinic


if __name__ == "__main__":
    print("run", main().run_id)
