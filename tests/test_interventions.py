"""helpers.evaluate.interventions: hiding the cells a map ranks first, checked against brute force and by hand."""

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from helpers import InterventionResult, intervention_check
from helpers.evaluate.substrates import ROAD_NOISE, noisy_linear_imputation

from bad_arguments import int_error
from side_effects import (
    MODE_SETTINGS,
    assert_model_untouched,
    dropout_cnn_in,
    global_rngs_untouched,
    input_untouched,
    modes,
    pass_sizes,
    snapshot,
)

CLASS = 1  # the class whose logit the linear case's map explains


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def linear():
    """A linear model on (6, 2, 8, 8) images, and each pixel's exact contribution W_c * x to class 1's logit."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(128, 3))
    with torch.no_grad():
        model.get_parameter("1.weight").copy_(rand(3, 128, seed=1) - 0.5)
        model.get_parameter("1.bias").copy_(torch.tensor([0.1, -0.2, 0.3]))
    x = rand(6, 2, 8, 8, seed=2) + 0.05
    return model, x, model.get_parameter("1.weight")[CLASS].detach().reshape(2, 8, 8) * x


def cell_masks(height: int, width: int, patch: int) -> torch.Tensor:
    """``(cells, 1, H, W)`` bool: one mask per ``patch x patch`` cell, row by row (patch divides the sizes)."""
    rows, columns = height // patch, width // patch
    masks = torch.zeros(rows * columns, 1, height, width, dtype=torch.bool)
    for cell in range(rows * columns):
        r, c = divmod(cell, columns)
        masks[cell, :, r * patch : (r + 1) * patch, c * patch : (c + 1) * patch] = True
    return masks


def top_cells(maps: torch.Tensor, patch: int, k: int, largest: bool = True) -> torch.Tensor:
    """``(N, 1, H, W)`` bool: the ``k`` cells whose map sums (over pixels and channels) are largest (or smallest)."""
    masks = cell_masks(maps.shape[2], maps.shape[3], patch)
    sums = (maps[:, None] * masks[None]).sum(dim=(2, 3, 4))  # (N, cells)
    chosen = sums.topk(k, dim=1, largest=largest).indices
    return masks[chosen].any(dim=1)


# --- what the edits do to the model ---------------------------------------------------------


@pytest.mark.parametrize(("order", "pick"), [("most", torch.min), ("least", torch.max)])
def test_the_first_cell_is_the_single_cell_that_moves_the_logit_most(linear, order, pick):
    """Brute force over every single cell: "most" lowers class 1's logit the most, "least" raises it the most."""
    model, x, maps = linear
    masks = cell_masks(8, 8, 2)
    with torch.no_grad():
        single = torch.stack([model(torch.where(mask, 0.0, x))[:, CLASS] for mask in masks], dim=1)  # (N, 16)
    result = intervention_check(model, x, maps, k=1, patch=2, order=order)
    torch.testing.assert_close(result.logits[:, 0, CLASS], pick(single, dim=1).values)
    assert single.std(dim=1).min() > 0.01  # not vacuous: the cells differ


def test_hiding_every_cell_gives_the_model_on_the_substrate(linear):
    model, x, maps = linear
    result = intervention_check(model, x, maps, k=(16, 3), patch=2)
    assert result.k == (3, 16)
    with torch.no_grad():
        torch.testing.assert_close(result.logits[:, 1], model(torch.zeros_like(x)))
        torch.testing.assert_close(result.logits[:, 0], model(result.edited[:, 0]))


def test_predictions_and_original_are_the_argmax_of_the_logits(linear):
    model, x, maps = linear
    result = intervention_check(model, x, maps, k=(1, 5, 10), patch=2)
    assert result.predictions.dtype == result.original.dtype == torch.long
    assert torch.equal(result.predictions, result.logits.argmax(-1))
    with torch.no_grad():
        assert torch.equal(result.original, model(x).argmax(1))
    assert result.changed.any() and not result.changed.all()  # not vacuous


def test_a_prediction_that_flips_at_k_2_is_changed_from_k_2_on():
    """Logit 0 = the sum of the four pixels, logit 1 = 2.5: ones lose class 0 once two pixels are black."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model.get_parameter("1.weight").copy_(torch.tensor([[1.0] * 4, [0.0] * 4]))
        model.get_parameter("1.bias").copy_(torch.tensor([0.0, 2.5]))
    x = torch.stack([torch.ones(1, 2, 2), torch.zeros(1, 2, 2)])  # class 0, and class 1 whatever is hidden
    result = intervention_check(model, x, rand(2, 1, 2, 2), k=(1, 2, 3, 4), patch=1)
    assert result.original.tolist() == [0, 1]
    assert result.changed.tolist() == [[False, True, True, True], [False] * 4]
    assert result.changed_at.tolist() == [2, 0]


def test_changed_at_is_the_smallest_k_that_changed_not_its_index():
    result = InterventionResult(
        k=(2, 5, 9),
        original=torch.tensor([7, 7, 7]),
        predictions=torch.tensor([[7, 1, 7], [3, 3, 3], [7, 7, 7]]),
        logits=torch.zeros(3, 3, 10),
        edited=torch.zeros(3, 3, 1, 4, 4),
    )
    assert result.changed_at.tolist() == [5, 2, 0]
    assert result.changed_at.dtype == torch.long


# --- which pixels are hidden, and what they become ----------------------------------------------


@pytest.mark.parametrize("substrate", ["number", "tensor"])
@pytest.mark.parametrize("order", ["most", "least"])
def test_the_k_top_cells_become_the_substrate_and_nothing_else_changes(linear, substrate, order):
    model, x, maps = linear
    fill: Any = 0.5 if substrate == "number" else -x  # neither equals any pixel of x
    result = intervention_check(model, x, maps, k=(1, 4, 7), patch=2, order=order, substrate=fill)
    target = torch.full_like(x, 0.5) if substrate == "number" else -x
    for j, k in enumerate(result.k):
        edited = result.edited[:, j]
        hidden = edited != x
        expected = top_cells(maps, 2, k, largest=order == "most").expand_as(x)
        assert torch.equal(hidden, expected)
        assert torch.equal(edited[hidden], target[hidden])
        assert (hidden.sum(dim=(2, 3)) == k * 4).all()  # per input and channel


def test_single_pixels_with_patch_1(linear):
    model, x, maps = linear
    result = intervention_check(model, x, maps, k=5, patch=1)
    hidden = result.edited[:, 0] != x
    assert torch.equal(hidden, top_cells(maps, 1, 5).expand_as(x))


def test_edge_cells_are_smaller_and_a_cells_relevance_is_its_sum():
    """5 x 5 with patch 2: nine cells, the corner one a single pixel. A constant map's smallest sum is that corner."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(25, 2))
    x = rand(1, 1, 5, 5) + 0.05
    least = intervention_check(model, x, torch.ones_like(x), k=(1, 9), patch=2, order="least").edited
    assert (least[0, 0, 0] == 0).nonzero().tolist() == [[4, 4]]
    assert (least[0, 1] == 0).all()


def test_a_constant_map_hides_the_first_cells_in_raster_order(linear):
    model, x, _ = linear
    result = intervention_check(model, x, torch.ones_like(x), k=3, patch=4)
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[:4] = True  # cells 0, 1 (the top half) ...
    expected[4:, :4] = True  # ... and 2
    assert ((result.edited[:, 0] == 0) == expected).all()


def test_random_order_follows_the_seed_and_ignores_the_map(linear):
    model, x, maps = linear
    first = intervention_check(model, x, maps, k=3, patch=2, order="random", seed=1).edited
    assert torch.equal(first, intervention_check(model, x, -maps, k=3, patch=2, order="random", seed=1).edited)
    assert not torch.equal(first, intervention_check(model, x, maps, k=3, patch=2, order="random", seed=2).edited)
    assert not torch.equal(first, intervention_check(model, x, maps, k=3, patch=2).edited)


# --- ROAD, batching -----------------------------------------------------------------------------


def test_road_is_noisy_linear_imputation_of_the_hidden_cells_with_a_per_input_noise(linear):
    model, x, maps = linear
    result = intervention_check(model, x, maps, k=(2, 6), patch=2, substrate="road", seed=3)
    noise = torch.stack(
        [torch.from_numpy(np.random.default_rng([3, i]).standard_normal((2, 8, 8))).float() for i in range(6)]
    )
    for j, k in enumerate(result.k):
        hidden = top_cells(maps, 2, k).expand_as(x)
        expected = noisy_linear_imputation(x, hidden, noise=0.0) + ROAD_NOISE * noise * hidden
        torch.testing.assert_close(result.edited[:, j], expected, atol=1e-4, rtol=0)
        assert torch.equal(result.edited[:, j][~hidden], x[~hidden])
    again = intervention_check(model, x, maps, k=(2, 6), patch=2, substrate="road", seed=3)
    assert torch.equal(again.edited, result.edited)
    other = intervention_check(model, x, maps, k=(2, 6), patch=2, substrate="road", seed=4)
    assert not torch.allclose(other.edited, result.edited, atol=1e-3)


@pytest.mark.parametrize("substrate", [0.0, "road"])
def test_batch_size_changes_the_passes_not_the_result(linear, substrate):
    model, x, maps = linear
    kwargs: dict[str, Any] = {"k": (1, 2, 3), "patch": 2, "substrate": substrate}
    whole = intervention_check(model, x, maps, **kwargs)
    sizes = pass_sizes(model, lambda: intervention_check(model, x, maps, **kwargs, batch_size=1))
    assert sizes == [1] * (6 + 6 * 3)  # the unedited inputs, then every edited one, once
    single = intervention_check(model, x, maps, **kwargs, batch_size=1)
    torch.testing.assert_close(single.edited, whole.edited, atol=1e-4, rtol=0)
    torch.testing.assert_close(single.logits, whole.logits, atol=1e-4, rtol=0)
    assert torch.equal(single.predictions, whole.predictions)


# --- arguments and side effects -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"maps": torch.zeros(6, 1, 8, 8)}, ValueError, "maps must have x's shape"),
        ({"maps": np.zeros((6, 2, 8, 8))}, TypeError, "maps must be a torch.Tensor"),
        ({"x": torch.zeros(6, 128)}, ValueError, "x must be an image batch"),
        ({"x": torch.zeros(6, 2, 8, 8, dtype=torch.long)}, TypeError, "x has dtype"),
        ({"k": 0}, ValueError, "k must be an int between 1 and 16"),
        ({"k": 17}, ValueError, "k must be an int between 1 and 16"),
        ({"k": (1, 17)}, ValueError, r"k\[1\] must be an int between 1 and 16"),
        ({"k": 1.0}, TypeError, "k must be an int or a sequence"),
        ({"k": "3"}, TypeError, "k must be an int or a sequence"),
        ({"k": (1, 2.5)}, TypeError, r"k\[1\] must be"),
        ({"k": True}, TypeError, "k must be"),
        ({"k": (2, 1, 2)}, ValueError, "k must hold distinct"),
        ({"k": ()}, ValueError, "k is empty"),
        ({"patch": 2.0}, TypeError, "patch must be"),
        ({"patch": 0}, ValueError, "patch must be"),
        ({"order": "best"}, ValueError, "order must be one of"),
        ({"ties": "first"}, ValueError, "ties must be one of"),
        ({"substrate": "blur"}, ValueError, "substrate must be one of 'road'"),
        ({"substrate": torch.zeros(1, 2, 8, 8)}, ValueError, "substrate must be a number or a tensor"),
        ({"substrate": None}, TypeError, "substrate must be a number"),
        ({"seed": -1}, ValueError, "seed must be"),
        ({"batch_size": 0}, ValueError, "batch_size must be"),
    ],
)
def test_bad_arguments_are_named(linear, kwargs, error, message):
    model, x, maps = linear
    arguments: dict[str, Any] = {"model": model, "x": x, "maps": maps, "patch": 2, **kwargs}
    if "x" in kwargs:
        arguments["maps"] = torch.zeros(kwargs["x"].shape)
    with pytest.raises(error, match=message):
        intervention_check(**arguments)


@pytest.mark.parametrize("value", [2.0, True, "1"])
def test_integer_arguments_of_the_wrong_type_are_a_type_error(linear, value):
    model, x, maps = linear
    for name in ("patch", "seed", "batch_size"):
        with pytest.raises(int_error(value), match=f"{name} must be"):
            intervention_check(model, x, maps, **{"patch": 2, name: value})


@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_the_callers_model_inputs_and_global_rngs_are_left_alone(setting):
    model = dropout_cnn_in(setting)
    params, before = snapshot(model), modes(model)
    x, maps = rand(3, 1, 8, 8).requires_grad_(), rand(3, 1, 8, 8, seed=1).requires_grad_()
    seen: list[list[bool]] = []
    handle = model.register_forward_pre_hook(lambda m, _: seen.append(modes(m)))
    try:
        with global_rngs_untouched(), input_untouched(x), input_untouched(maps):
            options: list[dict[str, Any]] = [{"order": "random"}, {"ties": "random"}, {"substrate": "road"}]
            for kwargs in options:
                result = intervention_check(model, x, maps, k=(1, 3), patch=2, **kwargs)
                assert not result.logits.requires_grad and not result.edited.requires_grad
    finally:
        handle.remove()
    assert seen and all(not any(flags) for flags in seen), "every forward pass runs in eval mode"
    assert_model_untouched(model, params, before)
