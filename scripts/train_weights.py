"""Rebuild the shipped weights in data/ (run: `make weights`): every model named in helpers.PRETRAINED.

Trains each model with helpers.RECIPES[name] on the 60,000 MNIST training digits: helpers.SimpleCNN
for "mnist" and "shortcut" (for "shortcut" each digit marked at its class's position,
helpers.shortcut_mnist), helpers.DeeperCNN for "deeper". Prints the test accuracy (for "shortcut"
also the share of moved-mark test digits whose prediction follows the mark) and the training time,
and saves the state dict with its SHA-256.

`python scripts/train_weights.py deeper` rebuilds only the models named.
"""

import hashlib
import sys
import time

import torch

from helpers import PRETRAINED, RECIPES, accuracy, mnist, shortcut_mnist, train_reference_model


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in PRETRAINED]
    if unknown:
        raise SystemExit(f"unknown model {', '.join(unknown)}; the shipped models are {', '.join(PRETRAINED)}.")
    for name in names or PRETRAINED:
        path = PRETRAINED[name]
        print(f"training {name!r} with {RECIPES[name]} on {torch.get_num_threads()} threads", flush=True)
        start = time.perf_counter()
        model = train_reference_model(name, progress=False)
        print(f"  {type(model).__name__} trained in {time.perf_counter() - start:.0f} s")
        print(f"  test accuracy, unmarked digits: {accuracy(model, mnist(train=False)):.2%}")
        if name == "shortcut":
            marked, moved = shortcut_mnist(train=False), shortcut_mnist(train=False, moved=True)
            with torch.no_grad():
                print(
                    f"  test accuracy, correctly marked digits: {(model(marked.images).argmax(1) == marked.labels).float().mean():.2%}"
                )
                print(
                    f"  moved-mark digits whose prediction follows the mark: {(model(moved.images).argmax(1) == moved.mark_labels).float().mean():.2%}"
                )
        torch.save(model.state_dict(), path)
        print(f"  saved data/{path.name}, SHA-256 {hashlib.sha256(path.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(sys.argv[1:])
