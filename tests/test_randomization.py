"""Tests of helpers.evaluate.randomization: re-initialised model copies for sanity checks (Adebayo et al., 2018).

The new weights are compared with what each layer's own initialiser draws from the same
seed, the untouched layers and the caller's model must stay bit-identical, and a small
sanity check shows that randomising the classifier layer changes the saliency maps.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import numpy as np
import pytest
import torch
from torch import nn

from helpers.course.models import SimpleCNN
from helpers.evaluate.randomization import (
    cascading_randomization,
    efficient_mprt,
    independent_randomization,
    parameterized_layers,
    randomize_layers,
)
from helpers.evaluate.similarity import spearman
from helpers.explain.saliency import saliency

from side_effects import cuda_forks_on_a_pretend_gpu, global_rngs_untouched, snapshot

LAYERS = ["conv1", "fc1"]


def identical(model: nn.Module, state: dict[str, torch.Tensor]) -> bool:
    current = model.state_dict()
    return current.keys() == state.keys() and all(torch.equal(current[k], state[k]) for k in state)


def layer_changed(copy: nn.Module, original: nn.Module, name: str) -> bool:
    """Every parameter of layer ``name`` differs from the original's (no element is kept)."""
    new = dict(copy.get_submodule(name).named_parameters())
    old = dict(original.get_submodule(name).named_parameters())
    return all((new[k] != old[k]).float().mean().item() > 0.99 for k in old)


def layer_identical(copy: nn.Module, original: nn.Module, name: str) -> bool:
    new = copy.get_submodule(name).state_dict()
    old = original.get_submodule(name).state_dict()
    return all(torch.equal(new[k], old[k]) for k in old)


def fresh_layers(seed: int, order: list[str]) -> dict[str, nn.Module]:
    """SimpleCNN's layers as their constructors initialise them, drawn in ``order`` after ``manual_seed(seed)``."""
    build = {"conv1": lambda: nn.Conv2d(1, 16, 3, 1), "fc1": lambda: nn.Linear(26 * 26 * 16, 10)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return {name: build[name]() for name in order}


def nested() -> nn.Module:
    class Scale(nn.Module):  # holds a parameter but has no reset_parameters: not re-initialisable
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.weight

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Linear(4, 5),
            nn.ReLU(),
            # a LayerNorm without affine parameters has reset_parameters but nothing to re-initialise
            nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3), nn.LayerNorm(3, elementwise_affine=False)),
            Scale(),
            nn.Linear(3, 2),
        )


# ---------------------------------------------------------------------------
# parameterized_layers
# ---------------------------------------------------------------------------


def test_parameterized_layers_of_simple_cnn(trained_model) -> None:
    assert parameterized_layers(trained_model) == LAYERS
    with torch.random.fork_rng(devices=[]):
        assert parameterized_layers(SimpleCNN()) == LAYERS


def test_parameterized_layers_of_a_nested_model_skip_containers_and_parameter_free_layers() -> None:
    assert parameterized_layers(nested()) == ["0", "2.0", "2.1", "4"]


@pytest.mark.parametrize("layer", ["1", "2", "2.2", "3"], ids=["relu", "container", "layernorm", "no-reset"])
def test_layers_that_cannot_be_reinitialised_are_refused(layer) -> None:
    with pytest.raises(ValueError, match=r"the model's layers are \['0', '2\.0', '2\.1', '4'\]"):
        randomize_layers(nested(), [layer])


# ---------------------------------------------------------------------------
# randomize_layers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layers", [["fc1"], ["conv1"], ["fc1", "conv1"], ["conv1", "fc1"]])
def test_randomize_layers_reinitialises_exactly_the_named_layers(trained_model, layers) -> None:
    before = snapshot(trained_model)
    state = torch.get_rng_state()
    copy = randomize_layers(trained_model, layers, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert identical(trained_model, before)
    assert copy is not trained_model
    assert isinstance(copy, SimpleCNN)
    fresh = fresh_layers(5, layers)  # the layer's own initialiser, drawn in the order given
    for name in LAYERS:
        if name in layers:
            assert layer_changed(copy, trained_model, name)
            assert layer_identical(copy.get_submodule(name), fresh[name], "")
        else:
            assert layer_identical(copy, trained_model, name)


def test_randomized_copy_shares_no_storage_with_the_original(trained_model) -> None:
    copy = randomize_layers(trained_model, ["fc1"])
    before = snapshot(trained_model)
    pointers = {p.data_ptr() for p in trained_model.parameters()}
    assert not pointers & {p.data_ptr() for p in copy.parameters()}
    with torch.no_grad():
        copy.get_parameter("conv1.weight").add_(1.0)  # changing the copy's kept layer leaves the original alone
    assert identical(trained_model, before)


def test_same_seed_gives_the_same_weights_another_seed_different_ones(trained_model) -> None:
    first = randomize_layers(trained_model, ["fc1", "conv1"], seed=3)
    again = randomize_layers(trained_model, ["fc1", "conv1"], seed=3)
    other = randomize_layers(trained_model, ["fc1", "conv1"], seed=4)
    assert identical(again, snapshot(first))
    for name in LAYERS:
        assert layer_changed(other, first, name)


def test_global_seed_has_no_influence_and_default_seed_is_zero(trained_model) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(999)
        a = randomize_layers(trained_model, ["fc1"])
        torch.manual_seed(1)
        b = randomize_layers(trained_model, ["fc1"], seed=0)
    assert identical(a, snapshot(b))


def test_empty_list_gives_an_identical_copy(trained_model) -> None:
    copy = randomize_layers(trained_model, [])
    assert copy is not trained_model
    assert identical(copy, snapshot(trained_model))


def test_copy_keeps_each_submodule_mode() -> None:
    model = nested().train()
    model.get_submodule("2").eval()
    model.get_submodule("2.1").train()
    before = [m.training for m in model.modules()]
    copy = randomize_layers(model, ["2.1", "4"])
    assert [m.training for m in copy.modules()] == before
    assert [m.training for m in model.modules()] == before


def test_nested_layers_by_dotted_name() -> None:
    model = nested()
    before = snapshot(model)
    copy = randomize_layers(model, ["2.0"], seed=1)
    assert identical(model, before)
    assert layer_changed(copy, model, "2.0")
    for name in ["0", "2.1", "3", "4"]:
        assert layer_identical(copy, model, name)


def test_tuple_of_layers_is_accepted(trained_model) -> None:
    assert identical(randomize_layers(trained_model, ("fc1",)), snapshot(randomize_layers(trained_model, ["fc1"])))


def test_parameter_grads_of_the_original_are_untouched() -> None:
    model = nested()
    model(torch.randn(3, 4, generator=torch.Generator().manual_seed(0))).sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    copies = [g.clone() for g in grads]
    randomize_layers(model, ["0", "4"])
    cascading_randomization(model)
    independent_randomization(model)
    assert all(p.grad is g for p, g in zip(model.parameters(), grads, strict=True))
    assert all(torch.equal(g, c) for g, c in zip(grads, copies, strict=True))


def test_threads_randomising_at_once_get_the_single_threaded_weights(trained_model) -> None:
    """reset_parameters draws from the global generator: threads randomising with their own seeds at once
    each get the weights of their seed, and the caller's random state is left as it was."""
    seeds = [0, 1, 2, 3]
    alone = {seed: snapshot(randomize_layers(trained_model, LAYERS, seed=seed)) for seed in seeds}
    with global_rngs_untouched(5), ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda seed: randomize_layers(trained_model, LAYERS, seed=seed), seeds * 3))
    for seed, copy in zip(seeds * 3, together, strict=True):
        assert identical(copy, alone[seed]), f"seed {seed} gave other weights in a thread"


def test_randomising_on_the_cpu_forks_no_cuda_device(monkeypatch, trained_model) -> None:
    expected, model = randomize_layers(trained_model, ["fc1"], seed=1), nested()
    forks = cuda_forks_on_a_pretend_gpu(monkeypatch)
    copies = [randomize_layers(trained_model, ["fc1"], seed=1), *dict(cascading_randomization(model)).values()]
    assert forks == [[]] * len(copies), "CPU-only randomisation forked (and so initialised) a CUDA device"
    assert identical(copies[0], snapshot(expected))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_rng_is_untouched() -> None:
    model = nested()
    state = torch.cuda.get_rng_state_all()
    randomize_layers(model, ["0"])
    assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), state, strict=True))


# ---------------------------------------------------------------------------
# cascading_randomization and independent_randomization
# ---------------------------------------------------------------------------


def test_cascading_randomization_is_cumulative_from_the_top(trained_model) -> None:
    before = snapshot(trained_model)
    state = torch.get_rng_state()
    stages = cascading_randomization(trained_model, seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert identical(trained_model, before)
    assert [label for label, _ in stages] == ["fc1", "fc1+conv1"]
    (_, first), (_, second) = stages
    assert first is not second
    assert layer_changed(first, trained_model, "fc1")
    assert layer_identical(first, trained_model, "conv1")
    assert layer_changed(second, trained_model, "fc1")
    assert layer_changed(second, trained_model, "conv1")
    # each stage re-initialises the same layers in the same order from the same seed,
    # so the top layer's new weights are the same at every stage
    assert layer_identical(second, first, "fc1")
    fresh = fresh_layers(2, ["fc1", "conv1"])
    assert layer_identical(second.get_submodule("fc1"), fresh["fc1"], "")
    assert layer_identical(second.get_submodule("conv1"), fresh["conv1"], "")


def test_cascading_randomization_stages_equal_randomize_layers(trained_model) -> None:
    for k, (label, copy) in enumerate(cascading_randomization(trained_model, seed=7)):
        expected = randomize_layers(trained_model, ["fc1", "conv1"][: k + 1], seed=7)
        assert label == ["fc1", "fc1+conv1"][k]
        assert identical(copy, snapshot(expected))


def test_cascading_randomization_with_an_explicit_order() -> None:
    model = nested()
    stages = cascading_randomization(model, ["4", "2.0", "0"])
    assert [label for label, _ in stages] == ["4", "4+2.0", "4+2.0+0"]
    _, last = stages[-1]
    for name in ["4", "2.0", "0"]:
        assert layer_changed(last, model, name)
    assert layer_identical(last, model, "2.1")
    assert cascading_randomization(model, []) == []


def test_independent_randomization_changes_one_layer_per_copy(trained_model) -> None:
    before = snapshot(trained_model)
    state = torch.get_rng_state()
    copies = independent_randomization(trained_model, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert identical(trained_model, before)
    assert [name for name, _ in copies] == LAYERS
    for name, copy in copies:
        assert layer_changed(copy, trained_model, name)
        for other in LAYERS:
            if other != name:
                assert layer_identical(copy, trained_model, other)
        assert identical(copy, snapshot(randomize_layers(trained_model, [name], seed=1)))


def test_independent_randomization_with_explicit_layers() -> None:
    model = nested()
    copies = independent_randomization(model, ("2.1", "0"), seed=1)  # nested() itself was built from seed 0
    assert [name for name, _ in copies] == ["2.1", "0"]
    assert layer_changed(copies[1][1], model, "0")
    assert layer_identical(copies[1][1], model, "2.1")


# ---------------------------------------------------------------------------
# A sanity check in miniature
# ---------------------------------------------------------------------------


def test_randomising_the_classifier_changes_the_saliency_maps(trained_model, test_images) -> None:
    x = test_images[:16]
    with torch.no_grad():
        classes = trained_model(x).argmax(1)
    trained = saliency(trained_model, x, classes)
    assert spearman(trained, saliency(trained_model, x, classes)).mean() == pytest.approx(1.0)
    (_, top), (_, both) = cascading_randomization(trained_model)
    assert spearman(trained, saliency(top, x, classes)).mean() < 0.5
    assert spearman(trained, saliency(both, x, classes)).mean() < 0.5


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layers", [["fc2"], ["fc1", "conv2"], ["relu"], [""]], ids=["fc2", "conv2", "relu", "root"])
def test_unknown_or_parameter_free_layer_lists_the_available_layers(trained_model, layers) -> None:
    with pytest.raises(ValueError, match=r"unknown or parameter-free layer.*the model's layers are \['conv1', 'fc1'\]"):
        randomize_layers(trained_model, layers)


@pytest.mark.parametrize("function", [cascading_randomization, independent_randomization])
def test_unknown_layer_in_stages_lists_the_available_layers(trained_model, function) -> None:
    with pytest.raises(ValueError, match=r"\['fc2'\].*\['conv1', 'fc1'\]"):
        function(trained_model, ["fc2"])


def test_a_string_instead_of_a_list_is_a_type_error_suggesting_the_list(trained_model) -> None:
    with pytest.raises(TypeError, match=r"layers must be a sequence of layer names, e\.g\. \['fc1'\], not a string"):
        randomize_layers(trained_model, "fc1")


@pytest.mark.parametrize("function", [cascading_randomization, independent_randomization])
def test_a_string_instead_of_a_list_of_stages_is_a_type_error(trained_model, function) -> None:
    with pytest.raises(TypeError, match="not a string"):
        function(trained_model, "fc1")


@pytest.mark.parametrize("model", [lambda x: x, "model", None], ids=["function", "str", "none"])
@pytest.mark.parametrize(
    "call",
    [
        parameterized_layers,
        lambda m: randomize_layers(m, ["fc1"]),
        cascading_randomization,
        independent_randomization,
    ],
    ids=["parameterized_layers", "randomize_layers", "cascading", "independent"],
)
def test_non_module_model_is_a_type_error(model, call) -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        call(model)


def test_layers_as_an_iterator_or_none_is_a_type_error(trained_model) -> None:
    with pytest.raises(TypeError, match="list or tuple"):
        randomize_layers(trained_model, iter(["fc1"]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="parameterized_layers"):
        randomize_layers(trained_model, None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# efficient_mprt
# ---------------------------------------------------------------------------


def entropy(counts: list[int]) -> float:
    """Shannon entropy (nats) of a histogram given by its bin counts."""
    shares = np.array([c for c in counts if c > 0]) / sum(counts)
    return float(-(shares * np.log(shares)).sum())


def test_efficient_mprt_of_identical_maps_is_exactly_one() -> None:
    maps = np.random.default_rng(0).standard_normal((3, 1, 8, 8))
    assert np.array_equal(efficient_mprt(maps, maps.copy()), np.ones(3))
    assert np.array_equal(efficient_mprt(maps, 4 * maps), np.ones(3))  # bins span each map's own range


def test_efficient_mprt_of_noise_against_a_peaked_map_is_above_one() -> None:
    rng = np.random.default_rng(1)
    peaked = np.zeros((2, 1, 10, 10))
    peaked[:, 0, 4:6, 4:6] = 1.0
    peaked[1, 0, 5, 5] = 2.0
    result = efficient_mprt(peaked, rng.random((2, 1, 10, 10)))
    assert result.shape == (2,)
    assert (result > 1).all()
    assert (efficient_mprt(rng.random((2, 1, 10, 10)), peaked) < 1).all()  # and the other way round below one


@pytest.mark.parametrize(
    ("trained", "randomized", "bins", "counts"),
    [
        ([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0], 2, ([3, 1], [2, 2])),
        ([0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 3.0], 4, ([1, 1, 1, 1], [3, 0, 0, 1])),
        ([0.0, 0.1, 0.2, 1.0, 2.0, 4.0], [-1.0, 1.0, 0.0, 0.4, -0.4, 0.9], 4, ([3, 1, 1, 1], [1, 1, 2, 2])),
    ],
    ids=["two-bins", "four-bins", "own-range"],
)
def test_efficient_mprt_is_the_ratio_of_histogram_entropies(trained, randomized, bins, counts) -> None:
    """Counted by hand, bins over each map's own [min, max], the last closed: 0, 0.1, 0.2 | 1 | 2 | 4 on [0, 4]."""
    result = efficient_mprt(np.array([trained]), np.array([randomized]), bins=bins)
    np.testing.assert_allclose(result, [entropy(counts[1]) / entropy(counts[0])], rtol=1e-12)


def test_efficient_mprt_is_per_pair_and_nan_where_the_trained_map_is_constant() -> None:
    trained = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    randomized = np.array([[0.0, 1.0, 2.0, 3.0], [5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = efficient_mprt(trained, randomized)
    assert np.isnan(result[0]) and np.isnan(result[2])
    assert result[1] == 0.0  # a constant randomised map: no complexity at all


def test_efficient_mprt_absolute_histograms_the_magnitudes() -> None:
    trained = np.array([[-2.0, -1.0, 1.0, 2.0]])  # signed: four values; |.|: two
    randomized = np.array([[-2.0, 0.0, 1.0, 2.0]])
    np.testing.assert_allclose(efficient_mprt(trained, randomized, bins=4), [entropy([1, 1, 1, 1]) / np.log(4)])
    np.testing.assert_allclose(
        efficient_mprt(trained, randomized, bins=4, absolute=True), [entropy([1, 0, 1, 2]) / entropy([2, 0, 0, 2])]
    )
    maps = np.random.default_rng(2).standard_normal((3, 16))
    other = np.random.default_rng(3).standard_normal((3, 16))
    assert np.array_equal(efficient_mprt(maps, other, absolute=True), efficient_mprt(np.abs(maps), np.abs(other)))
    assert np.isnan(efficient_mprt(np.array([[-1.0, 1.0]]), np.array([[0.0, 1.0]]), absolute=True)[0])


def test_efficient_mprt_accepts_tensors_and_arrays_alike() -> None:
    rng = np.random.default_rng(4)
    trained, randomized = rng.standard_normal((3, 1, 6, 6)), rng.random((3, 1, 6, 6))
    expected = efficient_mprt(trained, randomized, bins=10)
    assert isinstance(expected, np.ndarray) and expected.shape == (3,)
    grad = torch.from_numpy(trained).requires_grad_()
    np.testing.assert_allclose(efficient_mprt(grad, torch.from_numpy(randomized), bins=10), expected)
    np.testing.assert_allclose(efficient_mprt(grad, randomized, bins=cast(Any, np.int64(10))), expected)
    assert grad.grad is None


def test_efficient_mprt_of_randomised_saliency_is_above_one(trained_model, test_images) -> None:
    """A sanity check in miniature: the randomised classifier's saliency maps are more complex."""
    x = test_images[:8]
    with torch.no_grad():
        classes = trained_model(x).argmax(1)
    (_, _), (_, both) = cascading_randomization(trained_model)
    result = efficient_mprt(saliency(trained_model, x, classes), saliency(both, x, classes))
    assert np.median(result) > 1


@pytest.mark.parametrize(
    ("trained_shape", "randomized_shape"), [((2, 8), (3, 8)), ((2, 8), (2, 9)), ((2, 1, 8), (2, 8))], ids=str
)
def test_efficient_mprt_shape_mismatch_is_a_value_error(trained_shape, randomized_shape) -> None:
    with pytest.raises(ValueError, match="maps and randomized_maps must have the same shape"):
        efficient_mprt(np.zeros(trained_shape), np.zeros(randomized_shape))


@pytest.mark.parametrize("which", ["maps", "randomized_maps"])
def test_efficient_mprt_bad_maps_are_named(which) -> None:
    good = np.zeros((2, 8))
    for bad, error, message in [
        ([[0.0] * 8] * 2, TypeError, "tensor or NumPy array"),
        (np.zeros(8), ValueError, "batch"),
    ]:
        arguments: dict[str, Any] = {"maps": good, "randomized_maps": good, which: bad}
        with pytest.raises(error, match=f"{which} must be a {message}"):
            efficient_mprt(**arguments)


@pytest.mark.parametrize(("bins", "error"), [(1, ValueError), (0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_efficient_mprt_bad_bins_is_named(bins, error) -> None:
    maps = np.random.default_rng(5).random((2, 8))
    with pytest.raises(error, match="bins must be"):
        efficient_mprt(maps, maps, bins=bins)


def test_efficient_mprt_absolute_must_be_a_bool() -> None:
    maps = np.random.default_rng(5).random((2, 8))
    with pytest.raises(TypeError, match="absolute must be True or False"):
        efficient_mprt(maps, maps, absolute="yes")  # type: ignore[arg-type]


def test_efficient_mprt_of_a_constant_randomised_map_is_plus_zero_and_nan_maps_are_refused() -> None:
    score = efficient_mprt(np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[5.0, 5.0, 5.0, 5.0]]))
    assert score[0] == 0.0 and not np.signbit(score[0])
    with pytest.raises(ValueError, match="maps must be finite"):
        efficient_mprt(np.array([[0.0, float("nan")]]), np.array([[1.0, 2.0]]))
