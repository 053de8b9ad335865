"""Tests of helpers.evaluate.ground_truth: relevance mass, relevance rank and the pointing game.

Each is checked on closed forms (an indicator of the mask, a uniform map, a map pointing
outside, signed and all-zero maps), batched against a loop, for its tie rule (relevance rank
against every tie-breaking order on small maps), and against the shared input checks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import pointing_game, relevance_mass, relevance_rank

SCORES = [relevance_mass, relevance_rank]
ALL = [relevance_mass, relevance_rank, pointing_game]


def planted_masks(n: int = 4, size: int = 8) -> torch.Tensor:
    """``(n, 1, size, size)`` masks: input i's mark is a square of side i + 1 in its own corner-ish place."""
    masks = torch.zeros(n, 1, size, size, dtype=torch.bool)
    for i in range(n):
        masks[i, 0, i : 2 * i + 1, size - 2 * i - 1 : size - i] = True
    return masks


def random_maps(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def area_share(masks: torch.Tensor) -> torch.Tensor:
    return masks.flatten(1).double().mean(dim=1)


# ---------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ALL)
def test_an_indicator_map_of_the_mask_scores_one(measure: Callable) -> None:
    masks = planted_masks()
    result = measure(masks.float(), masks)
    assert result.shape == (4,)
    if measure is pointing_game:
        assert result.dtype == torch.bool and bool(result.all())
    else:
        assert result.dtype == torch.float32
        assert torch.equal(result, torch.ones(4))


@pytest.mark.parametrize("measure", SCORES)
@pytest.mark.parametrize("value", [0.3, 7.0])
def test_a_uniform_map_scores_the_masks_area_share(measure: Callable, value: float) -> None:
    masks = planted_masks()
    result = measure(torch.full(masks.shape, value, dtype=torch.float64), masks)
    assert result.dtype == torch.float64
    torch.testing.assert_close(result, area_share(masks), rtol=1e-12, atol=1e-12)
    assert torch.equal(pointing_game(torch.full(masks.shape, value), masks), torch.zeros(4, dtype=torch.bool))


def test_a_mask_covering_the_whole_image_is_hit_even_by_a_constant_map() -> None:
    masks = torch.ones(2, 3, 3, dtype=torch.bool)
    for maps in (torch.zeros(2, 3, 3), torch.full((2, 3, 3), 2.0)):
        assert pointing_game(maps, masks).tolist() == [True, True]
        assert relevance_rank(maps, masks).tolist() == [1.0, 1.0]


def test_a_map_whose_maximum_lies_outside_the_mask_misses() -> None:
    masks = planted_masks()
    maps = masks.float() * 0.5
    maps[:, 0, -1, 0] = 1.0  # bottom-left corner: outside every mask
    assert not planted_masks()[:, 0, -1, 0].any()
    assert pointing_game(maps, masks).tolist() == [False] * 4
    k = masks.flatten(1).sum(dim=1).float()  # 1, 4, 9, 16
    torch.testing.assert_close(relevance_mass(maps, masks), 0.5 * k / (0.5 * k + 1))
    torch.testing.assert_close(relevance_rank(maps, masks), (k - 1) / k)  # K tied inside for K - 1 places


def test_ties_at_the_maximum_hit_only_if_every_tied_pixel_is_inside() -> None:
    masks = torch.tensor([[True, True, False, False]] * 2)
    maps = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0]])
    assert pointing_game(maps, masks).tolist() == [True, False]


def test_negative_values_do_not_count_toward_mass() -> None:
    masks = torch.tensor([[True, True, False, False]] * 3)
    maps = torch.tensor(
        [
            [1.0, -100.0, 1.0, 0.0],  # a large negative value inside: ignored, 1 of 2
            [1.0, 0.0, -100.0, 0.0],  # a large negative value outside: ignored, all of it inside
            [-1.0, -2.0, 3.0, 1.0],  # only negative values inside: none of the mass
        ]
    )
    torch.testing.assert_close(relevance_mass(maps, masks), torch.tensor([0.5, 1.0, 0.0]))
    torch.testing.assert_close(relevance_mass(maps.abs(), masks), torch.tensor([101 / 102, 1 / 101, 3 / 7]))


def test_signed_maps_rank_and_point_by_their_signed_value() -> None:
    masks = torch.tensor([[True, False, False, False]])
    maps = torch.tensor([[-5.0, 1.0, 0.0, 0.0]])  # the largest magnitude is inside, with a negative sign
    assert relevance_rank(maps, masks).tolist() == [0.0]
    assert pointing_game(maps, masks).tolist() == [False]
    assert relevance_rank(maps.abs(), masks).tolist() == [1.0]
    assert pointing_game(maps.abs(), masks).tolist() == [True]


def test_all_zero_and_all_negative_maps_have_defined_scores() -> None:
    masks = planted_masks()
    for maps in (torch.zeros(masks.shape), -torch.rand(masks.shape) - 0.1):
        mass = relevance_mass(maps, masks)
        assert not bool(mass.isnan().any())
        assert torch.equal(mass, torch.zeros(4))  # no positive relevance, so none in the mask
    zeros = torch.zeros(masks.shape)
    torch.testing.assert_close(relevance_rank(zeros, masks), area_share(masks).float())
    assert pointing_game(zeros, masks).tolist() == [False] * 4
    assert pointing_game(-zeros, masks).tolist() == [False] * 4  # -0.0 ties with 0.0


def test_relevance_rank_counts_a_tie_at_the_kth_value_fractionally() -> None:
    # K = 2: 0.9 is surely in the top 2; the second place is shared by three pixels, one of them inside
    masks = torch.tensor([[True, True, False, False, False]])
    maps = torch.tensor([[0.9, 0.5, 0.5, 0.5, 0.0]])
    torch.testing.assert_close(relevance_rank(maps, masks), torch.tensor([(1 + 1 / 3) / 2]))


def test_relevance_rank_without_ties_is_the_share_of_the_top_k_inside() -> None:
    maps = random_maps(6, 1, 7, 7, seed=1)
    masks = random_maps(6, 1, 7, 7, seed=2) > 0.5
    result = relevance_rank(maps, masks)
    for i in range(6):
        k = int(masks[i].sum())
        top = maps[i].flatten().argsort(descending=True)[:k]
        assert result[i].item() == pytest.approx(masks[i].flatten()[top].float().mean().item(), abs=1e-12)
    assert len(set(result.tolist())) > 1


# ---------------------------------------------------------------------------
# batches, inputs, types
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ALL)
def test_a_batch_equals_a_loop_over_its_inputs(measure: Callable) -> None:
    maps = torch.round(random_maps(5, 1, 6, 6, seed=3) * 2)  # few levels: ties too
    masks = random_maps(5, 1, 6, 6, seed=4) > 0
    batched = measure(maps, masks)
    looped = torch.cat([measure(maps[i : i + 1], masks[i : i + 1]) for i in range(5)])
    assert torch.equal(batched, looped)


@pytest.mark.parametrize("measure", ALL)
def test_inputs_are_not_modified_and_gradients_are_not_tracked(measure: Callable) -> None:
    maps = random_maps(3, 1, 5, 5).requires_grad_()
    masks = random_maps(3, 1, 5, 5, seed=1) > 0
    maps_before, masks_before = maps.detach().clone(), masks.clone()
    result = measure(maps, masks)
    assert torch.equal(maps.detach(), maps_before) and torch.equal(masks, masks_before)
    assert not result.requires_grad and maps.grad is None


@pytest.mark.parametrize("measure", ALL)
def test_numpy_arrays_give_the_same_scores_as_tensors(measure: Callable) -> None:
    maps = random_maps(3, 4, 4, seed=5).double()
    masks = random_maps(3, 4, 4, seed=6) > 0
    from_numpy = measure(maps.numpy()[:, ::-1], masks.numpy()[:, ::-1])  # reversed strides, too
    assert isinstance(from_numpy, torch.Tensor)
    assert torch.equal(from_numpy, measure(maps.flip(1), masks.flip(1)))


@pytest.mark.parametrize("measure", SCORES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_scores_keep_the_maps_dtype(measure: Callable, dtype: torch.dtype) -> None:
    masks = planted_masks()
    result = measure(masks.to(dtype), masks)
    assert result.dtype == dtype and torch.equal(result, torch.ones(4, dtype=dtype))


def test_huge_values_do_not_overflow_the_mass() -> None:
    maps = torch.tensor([[1e308, 1e308, 1e308, 0.0]], dtype=torch.float64)
    masks = torch.tensor([[True, True, False, False]])
    torch.testing.assert_close(relevance_mass(maps, masks), torch.tensor([2 / 3], dtype=torch.float64))


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------


def tie_broken_ranks(flat: np.ndarray, inside: np.ndarray) -> float:
    """Relevance rank averaged over every order of the pixels, each ranked by a stable sort (small maps only)."""
    k = int(inside.sum())
    shares = []
    for order in itertools.permutations(range(flat.size)):
        permuted = np.array(order)
        top = permuted[np.argsort(-flat[permuted], kind="stable")[:k]]
        shares.append(inside[top].mean())
    return float(np.mean(shares))


@st.composite
def small_cases(draw: st.DrawFn, max_pixels: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """One map of few pixels and few distinct values (so, many ties), and a non-empty mask."""
    pixels = draw(st.integers(1, max_pixels))
    values = draw(st.lists(st.integers(-2, 2), min_size=pixels, max_size=pixels))
    inside = draw(st.lists(st.booleans(), min_size=pixels, max_size=pixels).filter(any))
    return np.array(values, dtype=np.float64), np.array(inside)


@settings(max_examples=40, deadline=None)
@given(case=small_cases())
def test_relevance_rank_is_the_expected_share_under_random_tie_breaking(case) -> None:
    flat, inside = case
    result = relevance_rank(flat[None], inside[None])
    assert result.item() == pytest.approx(tie_broken_ranks(flat, inside), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(case=small_cases(max_pixels=30), seed=st.integers(0, 2**32 - 1))
def test_scores_do_not_depend_on_pixel_order(case, seed) -> None:
    flat, inside = case
    order = np.random.default_rng(seed).permutation(flat.size)
    maps, masks = np.stack([flat, flat[order]]), np.stack([inside, inside[order]])
    for measure in ALL:
        first, second = measure(maps, masks).tolist()
        assert first == second, measure.__name__


@settings(max_examples=40, deadline=None)
@given(case=small_cases(max_pixels=30))
def test_scores_lie_in_zero_one_and_a_hit_means_some_rank(case) -> None:
    flat, inside = case
    mass, rank = relevance_mass(flat[None], inside[None]).item(), relevance_rank(flat[None], inside[None]).item()
    assert 0.0 <= mass <= 1.0 and 0.0 <= rank <= 1.0
    if pointing_game(flat[None], inside[None]).item():
        assert rank > 0 and (mass > 0 or flat.max() <= 0)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ALL)
def test_maps_and_masks_of_different_shapes_are_named(measure: Callable) -> None:
    with pytest.raises(ValueError, match=r"same shape, got \(2, 1, 4, 4\) and \(2, 4, 4\)"):
        measure(torch.rand(2, 1, 4, 4), torch.ones(2, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"expand_as"):
        measure(torch.rand(2, 1, 4, 4), torch.ones(1, 1, 4, 4, dtype=torch.bool))


@pytest.mark.parametrize("measure", ALL)
@pytest.mark.parametrize("masks", [torch.ones(2, 4), torch.ones(2, 4, dtype=torch.long), np.ones((2, 4))])
def test_masks_that_are_not_bool_are_a_type_error(measure: Callable, masks) -> None:
    with pytest.raises(TypeError, match=r"masks must be a bool tensor.*masks > 0"):
        measure(torch.rand(2, 4), masks)


@pytest.mark.parametrize("measure", ALL)
def test_an_empty_mask_is_named_by_its_index(measure: Callable) -> None:
    masks = torch.ones(4, 5, dtype=torch.bool)
    masks[2] = False
    with pytest.raises(ValueError, match=r"masks\[2\] is empty"):
        measure(torch.rand(4, 5), masks)
    masks[3] = False
    with pytest.raises(ValueError, match=r"masks\[2\] is empty \(no True pixel\), and 1 more"):
        measure(torch.rand(4, 5), masks)


@pytest.mark.parametrize("measure", ALL)
@pytest.mark.parametrize("maps", [torch.ones(2, 4, dtype=torch.long), np.ones((2, 4), dtype=np.int64)])
def test_maps_that_are_not_floating_point_are_a_type_error(measure: Callable, maps) -> None:
    with pytest.raises(TypeError, match=r"maps must hold floating-point.*maps\.float\(\)"):
        measure(maps, torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.parametrize("measure", ALL)
@pytest.mark.parametrize("value", [[[0.5, 1.0]], 0.5, "maps"])
def test_maps_that_are_not_arrays_are_a_type_error(measure: Callable, value) -> None:
    with pytest.raises(TypeError, match=r"maps must be a torch\.Tensor"):
        measure(value, torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"masks must be a torch\.Tensor"):
        measure(torch.rand(1, 2), [[True, False]])


@pytest.mark.parametrize("measure", ALL)
@pytest.mark.parametrize("shape", [(4,), ()])
def test_maps_without_a_batch_dimension_are_a_value_error(measure: Callable, shape) -> None:
    with pytest.raises(ValueError, match=r"batch.*unsqueeze\(0\)"):
        measure(torch.rand(shape), torch.ones(shape, dtype=torch.bool))


@pytest.mark.parametrize("measure", ALL)
def test_an_empty_batch_is_a_value_error(measure: Callable) -> None:
    with pytest.raises(ValueError, match="empty batch"):
        measure(torch.rand(0, 4), torch.ones(0, 4, dtype=torch.bool))


@pytest.mark.parametrize("measure", ALL)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_maps_that_are_not_finite_are_named_by_their_index(measure: Callable, bad: float) -> None:
    maps = torch.rand(3, 4)
    maps[1, 2] = bad
    with pytest.raises(ValueError, match=r"maps\[1\] holds NaN or infinite values"):
        measure(maps, torch.ones(3, 4, dtype=torch.bool))
