"""``watched_loop.py`` with the remedy its diagnosis names first, as the code change it is written as:

"replace nn.Sigmoid with nn.ReLU and initialise with kaiming_normal_". The gradient reaches the
first layers again, the network learns the digits, and the watch finds no vanishing gradients.

    python examples/fixed_loop.py [--seed 0] [--epochs 20]
"""

import argparse

import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

import gradclinic


class DeepReLUNet(nn.Module):
    """Twenty ReLU layers of 64 units with He (kaiming) init, then ten outputs."""

    def __init__(self, depth=20, width=64):
        super().__init__()
        layers = [nn.Linear(64, width), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.ReLU()]
        layers.append(nn.Linear(width, 10))
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)


def load_data(seed):
    digits = load_digits()  # 1,797 8x8 images, bundled with scikit-learn: no download
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=seed)
    return TensorDataset(x_train, y_train), TensorDataset(x_val, y_val)


def evaluate(model, loader, criterion):
    model.eval()
    total, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            total += criterion(out, y).item() * len(x)
            correct += (out.argmax(dim=1) == y).sum().item()
            n += len(x)
    model.train()
    return total / n, correct / n


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train a deep ReLU MLP (He init) on the digits.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    train_set, val_set = load_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=512)

    model = DeepReLUNet()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

    with gradclinic.watch(model, optimizer, name="deep-relu") as clinic:
        for epoch in range(args.epochs):
            for x, y in train_loader:
                optimizer.zero_grad()
                loss = criterion(model(x), y)
                loss.backward()
                optimizer.step()
                clinic.step(loss)
            val_loss, val_acc = evaluate(model, val_loader, criterion)
            print(f"epoch {epoch + 1}: val loss {val_loss:.3f}, val accuracy {val_acc:.1%}")
    return model


if __name__ == "__main__":
    main()
