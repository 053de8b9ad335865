"""The public API as a whole: one vocabulary, three rooms, an example and a notebook in every docstring.

These tests read signatures and docstrings, so a new helper that names an idea differently, or
arrives without an example, fails here before a learner meets it.
"""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import helpers
from helpers._running import BATCH_SIZE

PUBLIC = {name: getattr(helpers, name) for name in helpers.__all__}
CALLABLES = {name: obj for name, obj in PUBLIC.items() if inspect.isfunction(obj) or inspect.isclass(obj)}
CONTAINERS = {
    name
    for name, obj in CALLABLES.items()
    if inspect.isclass(obj) and (issubclass(obj, tuple) or hasattr(obj, "__dataclass_fields__"))
}
"""Result types (named tuples, dataclasses): documented by their fields, built by the helpers that return them."""
DOCUMENTED = sorted(set(CALLABLES) - CONTAINERS)
EXPLAINERS = [
    "saliency",
    "smoothgrad",
    "gradient_x_input",
    "integrated_gradients",
    "grad_cam",
    "guided_backprop",
    "guided_grad_cam",
    "occlusion",
    "lime_map",
    "shap_map",
]

# One word for one idea: the names on the left are spelled as on the right, everywhere.
SYNONYMS = {
    "num_samples": "samples",
    "nsamples": "samples",
    "n_samples": "samples",
    "n_steps": "steps",
    "internal_batch_size": "batch_size",
    "images": "x",
    "inputs": "x",
    "input": "x",
    "output": "score",
    "random_state": "seed",
    "rseed": "seed",
}


def parameters(obj) -> dict[str, inspect.Parameter]:
    """The parameters of a function, or of a class's ``__init__`` (without ``self``)."""
    signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    return {name: p for name, p in signature.parameters.items() if name not in ("self", "args", "kwargs")}


def test_everything_public_is_reexported_from_one_of_three_rooms() -> None:
    rooms = {"helpers.explain", "helpers.evaluate", "helpers.course"}
    for name, obj in PUBLIC.items():
        module = obj.__module__ if name in CALLABLES else None
        if module is None:  # constants and type aliases: found in exactly one room's __all__
            owners = [room for room in rooms if name in importlib.import_module(room).__all__]
            assert len(owners) == 1, name
        else:
            assert any(module.startswith(room + ".") for room in rooms), (name, module)


def test_the_package_tree_has_exactly_the_three_rooms_and_private_modules() -> None:
    root = Path(helpers.__file__).parent
    subpackages = sorted(info.name for info in pkgutil.iter_modules([str(root)]) if info.ispkg)
    modules = sorted(info.name for info in pkgutil.iter_modules([str(root)]) if not info.ispkg)
    assert subpackages == ["course", "evaluate", "explain"]
    assert all(name.startswith("_") for name in modules), modules


OWN_VOCABULARY = sorted(set(CALLABLES) - {"QuietLimeImageExplainer"})
"""QuietLimeImageExplainer keeps lime_image's own signature (random_state, ...): it is that class, minus a progress bar."""


@pytest.mark.parametrize("name", OWN_VOCABULARY)
def test_one_word_for_one_idea(name) -> None:
    for parameter in parameters(CALLABLES[name]):
        assert parameter not in SYNONYMS, f"{name}({parameter}=...): the course calls this {SYNONYMS[parameter]!r}"


@pytest.mark.parametrize("name", OWN_VOCABULARY)
def test_shared_parameters_have_shared_defaults_and_kinds(name) -> None:
    for parameter in parameters(CALLABLES[name]).values():
        if parameter.name == "batch_size":
            # train's is the mini-batch of gradient descent: 64 is an optimisation choice, not a memory one
            assert parameter.default == (64 if name == "train" else BATCH_SIZE), name
            assert parameter.kind == inspect.Parameter.KEYWORD_ONLY, name
        if parameter.name == "score":
            assert parameter.default == "logit", f"{name} must explain the logit by default"
        if parameter.name == "seed":
            assert parameter.default == 0 or parameter.default is inspect.Parameter.empty, name
            assert parameter.kind == inspect.Parameter.KEYWORD_ONLY, f"{name}: seed is keyword-only"
        if parameter.name in ("samples", "steps"):
            assert parameter.kind == inspect.Parameter.KEYWORD_ONLY, name
        if parameter.name == "order":
            assert name in ("perturbation_curve", "intervention_check"), (
                f"{name}: 'order' means the order pixels (or grid cells) are taken in"
            )


@pytest.mark.parametrize("name", EXPLAINERS)
def test_every_explainer_starts_with_model_x_target_and_is_batched(name) -> None:
    found = parameters(CALLABLES[name])
    assert list(found)[:3] == ["model", "x", "target"]
    assert found["target"].default is None
    assert "batch_size" in found


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_public_callable_has_a_runnable_example_and_names_its_notebook(name) -> None:
    doc = inspect.getdoc(CALLABLES[name]) or ""
    assert "Examples::" in doc and ">>> " in doc, f"{name} has no '>>>' example"
    assert re.search(r"notebooks? \d\d", doc), f"{name}'s docstring does not name the notebook that derives or uses it"


def test_the_examples_run_in_make_test() -> None:
    makefile = (Path(helpers.__file__).parent.parent / "Makefile").read_text()
    assert "--doctest-modules" in makefile and "helpers" in makefile


@pytest.mark.parametrize("name", sorted(set(DOCUMENTED) & set(OWN_VOCABULARY)))
def test_type_hints_on_every_parameter_and_return(name) -> None:
    obj = CALLABLES[name]
    function = obj.__init__ if inspect.isclass(obj) else obj
    signature = inspect.signature(function)
    for parameter in parameters(obj).values():
        assert parameter.annotation is not inspect.Parameter.empty, f"{name}({parameter.name}) has no type hint"
    if not inspect.isclass(obj):
        assert signature.return_annotation is not inspect.Signature.empty, f"{name} has no return type"


def test_no_module_of_the_old_flat_layout_remains() -> None:
    for old in [
        "saliency",
        "gradient_methods",
        "lime_maps",
        "shap_maps",
        "metrics",
        "data",
        "models",
        "widgets",
        "_validation",
    ]:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"helpers.{old}")
