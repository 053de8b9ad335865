"""Rebuild the shipped weights, data/simple_cnn_mnist.pt (run: `make weights`).

Trains helpers.course.models.SimpleCNN with helpers.course.models.REFERENCE_RECIPE on the 60,000
MNIST training images, prints the test accuracy and saves the state dict.
"""

import torch

from helpers.course.data import mnist
from helpers.course.models import PRETRAINED_PATH, REFERENCE_RECIPE, accuracy, train_reference_model


def main() -> None:
    print(f"training SimpleCNN with {REFERENCE_RECIPE} on {torch.get_num_threads()} threads")
    model = train_reference_model()
    print(f"test accuracy: {accuracy(model, mnist(train=False)):.2%}")
    torch.save(model.state_dict(), PRETRAINED_PATH)
    print(f"saved {PRETRAINED_PATH.name} in data/")


if __name__ == "__main__":
    main()
