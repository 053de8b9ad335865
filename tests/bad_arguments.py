"""The error a helper must raise for a bad argument: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value."""

import numbers

import numpy as np


def int_error(value: object) -> type[Exception]:
    """``ValueError`` for an integer out of range, ``TypeError`` for anything that is not an int (bools included)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return ValueError
    return TypeError


def real_error(value: object) -> type[Exception]:
    """``ValueError`` for a number out of range (or not finite), ``TypeError`` for anything that is not a number."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return ValueError
    return TypeError
