"""Evaluate: measuring explanations (kept apart from computing them, as Quantus does).

- :mod:`~helpers.evaluate.similarity`: rank correlation, top-k overlap and SSIM between maps.
- :mod:`~helpers.evaluate.metrics`: cost (passes counted), deletion and insertion curves.
- :mod:`~helpers.evaluate.substrates`: what "removed" means in those curves (blurred, ROAD's imputation).
- :mod:`~helpers.evaluate.interventions`: hiding the cells a map ranks first, to see whether the prediction changes.
- :mod:`~helpers.evaluate.randomization`: randomised model copies for sanity checks, and the efficient MPRT score.
- :mod:`~helpers.evaluate.ground_truth`: maps against a known answer (relevance mass and rank, pointing game).
- :mod:`~helpers.evaluate.controls`: control maps that use no model (noise, the input, its edges).
"""

from helpers.evaluate.controls import CONTROL_KINDS, control_map
from helpers.evaluate.ground_truth import pointing_game, relevance_mass, relevance_rank
from helpers.evaluate.interventions import InterventionResult, intervention_check
from helpers.evaluate.metrics import (
    ORDERS,
    TIES,
    Order,
    PassCount,
    Ties,
    count_passes,
    median_and_spread,
    perturbation_curve,
)
from helpers.evaluate.randomization import (
    cascading_randomization,
    efficient_mprt,
    independent_randomization,
    parameterized_layers,
    randomize_layers,
)
from helpers.evaluate.similarity import normalize_maps, shared_zeros, spearman, ssim, top_k_overlap
from helpers.evaluate.substrates import blurred, noisy_linear_imputation

__all__ = [
    "CONTROL_KINDS",
    "ORDERS",
    "TIES",
    "InterventionResult",
    "Order",
    "PassCount",
    "Ties",
    "blurred",
    "cascading_randomization",
    "control_map",
    "count_passes",
    "efficient_mprt",
    "independent_randomization",
    "intervention_check",
    "median_and_spread",
    "noisy_linear_imputation",
    "normalize_maps",
    "parameterized_layers",
    "perturbation_curve",
    "pointing_game",
    "randomize_layers",
    "relevance_mass",
    "relevance_rank",
    "shared_zeros",
    "spearman",
    "ssim",
    "top_k_overlap",
]
