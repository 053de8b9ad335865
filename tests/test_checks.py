"""helpers._checks: the argument checks every public helper shares.

A wrong type raises ``TypeError``, a right type with a wrong value ``ValueError``; the message names
the argument. Integers are Python or NumPy integers (not bools), numbers any real number (not bools).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from helpers._checks import (
    check_batch,
    check_bool,
    check_choice,
    check_images_or_table,
    check_int,
    check_model,
    check_real,
    check_score,
    check_unit_range,
    resolve_target,
    target_indices,
)

from bad_arguments import int_error, real_error

NUMPY_INTEGERS = [np.int64(3), np.int32(3), np.int16(3), np.uint8(3), np.uint64(3)]


# --- integers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [3, *NUMPY_INTEGERS], ids=lambda value: type(value).__name__)
def test_check_int_accepts_python_and_numpy_integers_and_returns_a_python_int(value) -> None:
    result = check_int(value, "samples")
    assert result == 3 and type(result) is int


@pytest.mark.parametrize(
    "value",
    [3.0, np.float64(3.0), True, np.bool_(True), "3", None, Fraction(3), torch.tensor(3), np.array(3)],
    ids=["float", "np-float", "bool", "np-bool", "str", "none", "fraction", "tensor", "0-d-array"],
)
def test_check_int_refuses_other_types_with_a_type_error_naming_the_argument(value) -> None:
    assert int_error(value) is TypeError  # the shared helper agrees
    with pytest.raises(TypeError, match=r"^samples must be a positive int, got "):
        check_int(value, "samples")


@pytest.mark.parametrize(
    ("value", "kwargs", "wanted"),
    [
        (0, {}, "a positive int"),
        (-1, {"minimum": 0}, "a non-negative int"),
        (1, {"minimum": 2}, "an int of at least 2"),
        (17, {"maximum": 16}, "an int between 1 and 16"),
        (np.int64(0), {}, "a positive int"),
        (np.uint64(2**64 - 1), {"maximum": 2**32 - 1}, "an int between 1 and 4294967295"),
        (-(2**70), {"minimum": 0}, "a non-negative int"),
    ],
)
def test_check_int_refuses_values_out_of_range_with_a_value_error(value, kwargs, wanted) -> None:
    assert int_error(value) is ValueError
    with pytest.raises(ValueError, match=rf"^steps must be {wanted}, got "):
        check_int(value, "steps", **kwargs)


def test_check_int_bounds_are_inclusive() -> None:
    assert check_int(1, "k", maximum=1) == 1
    assert check_int(np.int64(0), "seed", minimum=0) == 0
    assert check_int(2**32 - 1, "seed", minimum=0, maximum=2**32 - 1) == 2**32 - 1


# --- real numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2, 2.0, np.float32(2.0), np.float64(2.0), np.int64(2), Fraction(2)])
def test_check_real_accepts_real_numbers_and_returns_a_float(value) -> None:
    result = check_real(value, "sigma", positive=True)
    assert result == 2.0 and type(result) is float


@pytest.mark.parametrize("value", [True, np.bool_(False), "2", None, 1j, torch.tensor(2.0)], ids=str)
def test_check_real_refuses_other_types_with_a_type_error(value) -> None:
    with pytest.raises(TypeError, match=r"^sigma must be a number, got "):
        check_real(value, "sigma")


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (float("nan"), {}, "sigma must be finite"),
        (float("inf"), {}, "sigma must be finite"),
        (-float("inf"), {"minimum": 0.0}, "sigma must be finite"),
        (0.0, {"positive": True}, "sigma must be positive"),
        (0, {"positive": True}, "sigma must be positive"),
        (-1e-9, {"positive": True}, "sigma must be positive"),
        (-0.1, {"minimum": 0.0}, "sigma must be at least 0"),
    ],
)
def test_check_real_refuses_values_out_of_range_with_a_value_error(value, kwargs, message) -> None:
    assert real_error(value) is ValueError
    with pytest.raises(ValueError, match=f"^{message}, got "):
        check_real(value, "sigma", **kwargs)


def test_check_real_bounds() -> None:
    assert check_real(0.0, "noise", minimum=0.0) == 0.0
    assert check_real(-5, "fill") == -5.0
    assert check_real(1e-300, "sigma", positive=True) == 1e-300


# --- flags, choices, models -----------------------------------------------------------------------


def test_check_bool() -> None:
    assert check_bool(True, "train") is True
    assert check_bool(np.bool_(False), "train") is False
    for value in (1, 0, "True", None, np.int64(1)):
        with pytest.raises(TypeError, match="train must be True or False"):
            check_bool(value, "train")


def test_check_choice_and_score_list_the_options() -> None:
    assert check_choice("most", "order", ("most", "least")) == "most"
    assert check_score("probability") == "probability"
    for value in ("Most", "", None, 1):
        with pytest.raises(ValueError, match=r"^order must be one of 'most', 'least', got "):
            check_choice(value, "order", ("most", "least"))
    with pytest.raises(ValueError, match="score must be one of 'logit', 'probability'"):
        check_score("logits")


def test_check_model() -> None:
    model = nn.Linear(2, 2)
    assert check_model(model) is model
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got function"):
        check_model(lambda x: x)


# --- batches --------------------------------------------------------------------------------------


def test_check_batch_names_the_fix_for_each_mistake() -> None:
    x = torch.zeros(2, 3)
    assert check_batch(x) is x
    with pytest.raises(TypeError, match=r"torch\.from_numpy\(background\)\.float\(\)"):
        check_batch(np.zeros((2, 3)), "background")
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor of shape \(N, \.\.\.\), got list"):
        check_batch([[0.0]])
    with pytest.raises(TypeError, match=r"x\.float\(\).*divide 0-255 pixel values by 255"):
        check_batch(torch.zeros(2, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"x\.unsqueeze\(0\)"):
        check_batch(torch.zeros(3))
    with pytest.raises(ValueError, match=r"empty batch"):
        check_batch(torch.zeros(0, 3))


@pytest.mark.parametrize(("shape", "table"), [((2, 5), True), ((2, 1, 4, 4), False)])
def test_check_images_or_table(shape, table) -> None:
    assert check_images_or_table(torch.zeros(shape)) is table


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (2, 4, 4), (1, 28, 28)])
def test_other_layouts_are_neither_images_nor_a_table(shape) -> None:
    with pytest.raises(ValueError, match=r"greyscale image batch \(N, 1, H, W\) or a table \(N, F\)"):
        check_images_or_table(torch.zeros(shape))


# --- the [0, 1] scale -----------------------------------------------------------------------------


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-0.5, 1.5), (0.2, 0.3), (0.0, 0.0)])
def test_images_on_the_unit_scale_with_small_excursions_pass(low, high) -> None:
    x = torch.tensor([[low, high]])
    assert check_unit_range(x, "x", "why") is x


def test_images_on_the_0_255_scale_are_a_value_error_saying_to_divide_and_why() -> None:
    with pytest.raises(
        ValueError,
        match=r"^x must hold images on the \[0, 1\] scale, got values in \[0, 255\] "
        r"\(divide 0-255 pixel values by 255, as transforms\.ToTensor\(\) does\): LIME hides superpixels\.$",
    ):
        check_unit_range(torch.tensor([[0.0, 255.0]]), "x", "LIME hides superpixels")


def test_standardised_images_are_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"got values in \[-0\.6, 1\]: why\.$"):  # no 0-255 hint
        check_unit_range(torch.tensor([[-0.6, 1.0]]), "x", "why")
    with pytest.raises(ValueError, match=r"got values in \[-0\.42, 2\.8\] \(divide"):
        check_unit_range(torch.tensor([[-0.42, 2.8]]), "x", "why")


def test_the_unit_scale_check_ignores_requires_grad() -> None:
    x = torch.tensor([[0.0, 2.0]], requires_grad=True)
    with pytest.raises(ValueError, match="scale"):
        check_unit_range(x, "x", "why")


# --- targets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [10**20, -(10**20), 2**63, -(2**63) - 1, np.uint64(2**63)],
    ids=["1e20", "-1e20", "2^63", "-2^63-1", "u64"],
)
def test_a_class_beyond_any_tensor_is_a_value_error_not_an_overflow(target) -> None:
    with pytest.raises(ValueError, match=rf"^target {target} is out of range: a class index lies in 0\.\.classes - 1"):
        target_indices(target, 3)
    with pytest.raises(ValueError, match="out of range"):
        resolve_target(target, torch.zeros(3, 10))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, None),
        (2, [2, 2, 2]),
        (np.int64(2), [2, 2, 2]),
        (2**63 - 1, [2**63 - 1] * 3),  # fits a tensor: checked against the logits later
        ([0, 1, 2], [0, 1, 2]),
        (np.array([0, 1, 2], dtype=np.uint8), [0, 1, 2]),
        (torch.tensor(1), [1, 1, 1]),
        (torch.tensor([2, 1, 0], dtype=torch.int32), [2, 1, 0]),
    ],
    ids=["none", "int", "np-int", "int64-max", "list", "uint8-array", "0-d-tensor", "int32-tensor"],
)
def test_target_indices_gives_one_long_class_per_input(target, expected) -> None:
    indices = target_indices(target, 3)
    if expected is None:
        assert indices is None
    else:
        assert indices is not None and indices.dtype == torch.long and indices.tolist() == expected


def test_resolve_target_checks_the_classes_against_the_logits() -> None:
    logits = torch.tensor([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]])
    assert resolve_target(None, logits).tolist() == [1, 0]
    assert resolve_target([2, 0], logits).tolist() == [2, 0]
    for bad in (3, -1, [0, 3], 2**63 - 1):
        with pytest.raises(ValueError, match=r"out of range: the model has 3 classes, so a class must lie in 0\.\.2"):
            resolve_target(bad, logits)
    with pytest.raises(ValueError, match=r"^class_of_each 10+ is out of range"):
        resolve_target(10**20, logits, "class_of_each")


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        (True, TypeError, "target must be None, an int or a sequence of ints, got a bool"),
        (np.bool_(False), TypeError, "got a bool"),
        (1.0, TypeError, "got float"),
        ("1", TypeError, "got str"),
        ([0.0, 1.0, 2.0], TypeError, "integer class indices"),
        ([0, 1], ValueError, "one class per input: length 3"),
        (torch.zeros(3, 1, dtype=torch.long), ValueError, "one class per input: length 3"),
    ],
)
def test_bad_targets(target, error, message) -> None:
    with pytest.raises(error, match=message):
        target_indices(target, 3)
