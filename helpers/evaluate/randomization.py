"""Model-parameter randomisation for sanity checks (Adebayo et al., 2018).

Every function returns re-initialised **copies**; the model passed in is never changed.
:func:`efficient_mprt` scores a method by comparing its maps of the trained and randomised models.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Protocol, cast

import numpy as np
import torch
from torch import nn

from helpers._checks import check_bool, check_int, check_model
from helpers._random import cuda_devices, forked_global_rng
from helpers.evaluate.similarity import _pairs


class _Resettable(Protocol):
    """A layer that can draw new initial weights, as ``nn.Linear`` and ``nn.Conv2d`` can."""

    def reset_parameters(self) -> None: ...


def _check_names(names: object, argument: str) -> None:
    if isinstance(names, str):
        raise TypeError(f"{argument} must be a sequence of layer names, e.g. [{names!r}], not a string.")
    if names is not None and not isinstance(names, Sequence):
        raise TypeError(f"{argument} must be a list or tuple of layer names, got {type(names).__name__}.")


def parameterized_layers(model: nn.Module) -> list[str]:
    """Names of the submodules that hold parameters of their own and can be re-initialised, input first.

    The layers the sanity checks of notebook 03 randomise by default.

    Examples::

        >>> from helpers import SimpleCNN, parameterized_layers
        >>> parameterized_layers(SimpleCNN())
        ['conv1', 'fc1']
    """
    check_model(model)
    return [
        name
        for name, module in model.named_modules()
        if name and hasattr(module, "reset_parameters") and any(True for _ in module.parameters(recurse=False))
    ]


def randomize_layers(model: nn.Module, layers: Sequence[str], *, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with the named layers re-initialised (their own ``reset_parameters``).

    ``seed`` makes the new weights reproducible; the global random state is not touched.
    The copy keeps ``model``'s training/eval modes; ``model`` itself is left bit-identical.
    Derived in notebook 03, section "Sanity checks".

    Examples::

        >>> import torch
        >>> from helpers import SimpleCNN, randomize_layers
        >>> model = SimpleCNN()
        >>> copy = randomize_layers(model, ["fc1"], seed=0)
        >>> torch.equal(copy.conv1.weight, model.conv1.weight), torch.equal(copy.fc1.weight, model.fc1.weight)
        (True, False)
    """
    check_model(model)
    seed = check_int(seed, "seed", minimum=0)
    if layers is None:
        raise TypeError("layers must be a list of layer names, e.g. ['fc1']; see parameterized_layers(model).")
    _check_names(layers, "layers")
    available = parameterized_layers(model)
    unknown = [name for name in layers if name not in available]
    if unknown:
        raise ValueError(f"unknown or parameter-free layer(s) {unknown}; the model's layers are {available}.")
    randomized = copy.deepcopy(model)
    with forked_global_rng(seed, devices=cuda_devices(randomized)):
        for name in layers:
            # parameterized_layers listed it, so it has reset_parameters (nn.Module's typing can't tell)
            cast(_Resettable, randomized.get_submodule(name)).reset_parameters()
    return randomized


def cascading_randomization(
    model: nn.Module, layers: Sequence[str] | None = None, *, seed: int = 0
) -> list[tuple[str, nn.Module]]:
    """Randomise layers cumulatively from the top (output) down: one ``(label, copy)`` per stage.

    ``layers``: the layers in the order they are randomised; default :func:`parameterized_layers`
    reversed (for ``SimpleCNN``: ``fc1``, then ``fc1`` and ``conv1``). Labels read ``"fc1"``,
    ``"fc1+conv1"``, ... Used in notebooks 03 and 08.

    Examples::

        >>> from helpers import SimpleCNN, cascading_randomization
        >>> [label for label, _ in cascading_randomization(SimpleCNN(), seed=0)]
        ['fc1', 'fc1+conv1']
    """
    _check_names(layers, "layers")
    stages = list(reversed(parameterized_layers(model))) if layers is None else list(layers)
    return [
        ("+".join(stages[: k + 1]), randomize_layers(model, stages[: k + 1], seed=seed)) for k in range(len(stages))
    ]


def independent_randomization(
    model: nn.Module, layers: Sequence[str] | None = None, *, seed: int = 0
) -> list[tuple[str, nn.Module]]:
    """Randomise one layer at a time, the others kept trained: one ``(layer, copy)`` per layer.

    ``layers``: default :func:`parameterized_layers`, input first. Used in notebook 03,
    section "Sanity checks", beside :func:`cascading_randomization`.

    Examples::

        >>> from helpers import SimpleCNN, independent_randomization
        >>> [label for label, _ in independent_randomization(SimpleCNN(), seed=0)]
        ['conv1', 'fc1']
    """
    _check_names(layers, "layers")
    layers = parameterized_layers(model) if layers is None else list(layers)
    return [(name, randomize_layers(model, [name], seed=seed)) for name in layers]


def _histogram_entropy(maps: np.ndarray, bins: int) -> np.ndarray:
    """Shannon entropy (nats) of the histogram of each flattened map's values, ``bins`` bins over its own range."""
    entropies = []
    for values in maps.reshape(len(maps), -1):
        counts, _ = np.histogram(values, bins=bins)
        shares = counts[counts > 0] / counts.sum()
        entropies.append(float(-(shares * np.log(shares)).sum()) + 0.0)  # + 0.0: one bin gives 0, not -0
    return np.array(entropies)


def efficient_mprt(
    maps: torch.Tensor | np.ndarray,
    randomized_maps: torch.Tensor | np.ndarray,
    *,
    bins: int = 100,
    absolute: bool = False,
) -> np.ndarray:
    """Efficient MPRT (Hedström et al., 2023): how much more complex a map becomes when the model is randomised.

    Instead of correlating the trained model's map with the randomised model's (which ties and
    the choice of similarity measure can sway), compare the **complexity** of the two: the
    entropy of the histogram of each map's values (``bins`` bins over the map's own range). A
    map that explains what the model learned should become noisier, so more complex, once the
    weights are random: the score ``H(randomized) / H(trained)`` is above 1. A map that does
    not depend on the model at all (a control map) scores exactly 1.
    Used in notebook 08, section "Sanity".

    Args:
        maps: ``(N, ...)`` maps of the trained model (tensor or array).
        randomized_maps: the same inputs' maps from the fully randomised model, same shape.
        bins: histogram bins per map (the paper's default, 100).
        absolute: histogram ``|map|`` instead of the signed values (the paper uses signed).

    Returns:
        ``(N,)`` NumPy array of ratios; NaN where a trained map is constant (zero entropy).

    Examples::

        >>> import numpy as np
        >>> from helpers import efficient_mprt
        >>> rng = np.random.default_rng(0)
        >>> peaked = np.zeros((1, 400))
        >>> peaked[0, :20] = 1.0  # a few bright pixels: a simple map
        >>> bool(efficient_mprt(peaked, rng.random((1, 400)))[0] > 10)  # noise: far more complex
        True
        >>> efficient_mprt(peaked, peaked)
        array([1.])
    """
    check_bool(absolute, "absolute")
    bins = check_int(bins, "bins", minimum=2)
    arrays = _pairs(maps, randomized_maps, ("maps", "randomized_maps"))
    for name, array in zip(("maps", "randomized_maps"), arrays, strict=True):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} must be finite: a NaN or infinity has no place in a histogram.")
    if absolute:
        arrays = (np.abs(arrays[0]), np.abs(arrays[1]))
    trained, randomized = (_histogram_entropy(array, bins) for array in arrays)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(trained > 0, randomized / np.where(trained > 0, trained, 1.0), np.nan)
