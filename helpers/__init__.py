"""Helpers for the course "Explaining an image classifier: saliency maps, LIME and SHAP".

Three rooms, each a subpackage with one module per concept:

- :mod:`helpers.explain`: the methods (saliency, SmoothGrad, Gradient x Input, Integrated
  Gradients, Grad-CAM, Guided Backprop, occlusion, LIME, SHAP) and what they need (the NumPy
  adapter, superpixels).
- :mod:`helpers.evaluate`: measuring explanations (similarity, cost, faithfulness and its
  substrates, model randomisation, known answers, controls).
- :mod:`helpers.course`: data, models, figures, the explorer and the notebooks' set-up.

Everything public is re-exported here, and notebooks import it from here:
``from helpers import saliency, load_pretrained``.

One vocabulary throughout: the input batch is ``x`` ``(N, ...)``; ``target`` the class explained
(``None`` = predicted); ``contrast`` a second class, to explain ``S_target - S_contrast``
("why this class rather than that one?"); every explainer explains the target's **logit** (``score="logit"``, the
default wherever a probability is possible); ``samples`` counts random samples per input,
``steps`` points on a path or curve, ``batch_size`` inputs per forward pass; ``seed`` seeds a
private generator. A wrong type raises ``TypeError``, a wrong value ``ValueError``.
"""

from helpers.course import *  # noqa: F403
from helpers.course import __all__ as _course
from helpers.evaluate import *  # noqa: F403
from helpers.evaluate import __all__ as _evaluate
from helpers.explain import *  # noqa: F403
from helpers.explain import __all__ as _explain

__all__ = [*_explain, *_evaluate, *_course]
