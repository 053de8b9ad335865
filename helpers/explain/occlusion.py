"""Occlusion (Zeiler & Fergus, 2014): how much the target's logit drops when a square of the image is covered."""

from __future__ import annotations

import torch
from torch import nn

from helpers._checks import Target, check_images, check_int, check_model, check_real, resolve_target, target_indices
from helpers._running import BATCH_SIZE, batched_logits, call_model, evaluation_mode
from helpers.explain.contrast import explain_contrast


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Where the windows start along one side: ``0, stride, 2 stride, ...``, ``ceil((size - window) / stride) + 1`` of them.

    The last one may stick out past the edge (it is then cut off there), so every position is covered.
    """
    return [k * stride for k in range(-(-(size - window) // stride) + 1)]


def _covering(starts: torch.Tensor, size: int, window: int) -> torch.Tensor:
    """``(windows, size)`` booleans: which positions along one side each window (starting at ``starts``) covers."""
    positions = torch.arange(size, device=starts.device)
    return (positions >= starts[:, None]) & (positions < starts[:, None] + window)


def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    contrast: Target = None,
    window: int = 4,
    stride: int = 2,
    fill: float = 0.0,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor:
    """Occlusion (Zeiler & Fergus, 2014): per pixel, the mean drop of the target's logit over the windows covering it.

    Derived in notebook 04. A ``window x window`` square of value ``fill`` is slid over each
    image, across all its channels at once, starting at rows and columns ``0, stride, 2 stride,
    ...``; the last start is the first that reaches the edge, and a window that then sticks out
    past the edge (when ``H - window`` is not a multiple of ``stride``) is cut off there, so every
    pixel is covered at least once: ``ceil((H - window) / stride) + 1`` rows of windows (13 x 13 =
    169 windows for 28 x 28 images with the defaults). A pixel's attribution is the mean, over the
    windows covering it, of ``S_c(x) - S_c(x with that window filled)``: positive where covering
    the pixel lowers the class's logit. Equal to Captum's ``Occlusion(model).attribute(x,
    sliding_window_shapes=(C, window, window), strides=(C, stride, stride), baselines=fill,
    target=target)``.

    No gradients: it works for any model, inside ``torch.no_grad()`` or ``torch.inference_mode()``.
    The occluded copies go through the model ``batch_size`` at a time (copies of different windows
    and inputs share a pass), after one pass over the clean batch for the target: about
    ``N * windows / batch_size`` forward passes in all.

    Args:
        model, target: as in :func:`helpers.saliency`; ``target=None`` explains each clean input's
            predicted class.
        contrast: as in :func:`helpers.saliency`: explain ``S_target - S_contrast`` instead of ``S_target``.
        x: image batch ``(N, C, H, W)``; not modified.
        window: the side of the square, at most ``min(H, W)``.
        stride: the step between windows, at most ``window`` (a larger one would skip pixels).
        fill: the value the square is filled with (0.0, black, for MNIST digits).
        batch_size: inputs (occluded copies) per forward pass.

    Returns:
        A detached tensor with ``x``'s shape, dtype and device, the same in every channel.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import occlusion
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> x = torch.rand(1, 1, 2, 2)
        >>> # one-pixel windows on a linear model: the drop is that pixel's weight times (x - fill)
        >>> expected = model[1].weight[0].reshape(1, 1, 2, 2) * (x - 0.5)
        >>> torch.allclose(occlusion(model, x, 0, window=1, stride=1, fill=0.5), expected)
        True
        >>> digits = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
        >>> occlusion(digits, torch.rand(3, 1, 28, 28)).shape  # 169 windows of 4 x 4, 2 pixels apart
        torch.Size([3, 1, 28, 28])
    """
    if contrast is not None:
        options = {"window": window, "stride": stride, "fill": fill}
        return explain_contrast(occlusion, model, x, target, contrast, batch_size=batch_size, **options)
    check_model(model)
    check_images(x, "x", why="occlusion slides a square window over images")
    height, width = x.shape[2:]
    window = check_int(window, "window", maximum=min(height, width))
    stride = check_int(stride, "stride")
    if stride > window:
        raise ValueError(
            f"stride must be at most window ({window}), got {stride}: a larger step would leave pixels no window covers."
        )
    fill = check_real(fill, "fill")
    batch_size = check_int(batch_size, "batch_size")
    target_indices(target, len(x))
    clean = x.detach()
    logits = batched_logits(model, clean, batch_size)
    classes = resolve_target(target, logits)
    n = len(clean)
    clean_scores = logits[torch.arange(n, device=logits.device), classes]
    rows = torch.tensor(window_starts(height, window, stride), device=clean.device)
    columns = torch.tensor(window_starts(width, window, stride), device=clean.device)
    tops, lefts = rows.repeat(len(columns)), columns.repeat_interleave(len(rows))  # Captum's order: rows run fastest
    summed = torch.zeros(n, height, width, dtype=clean.dtype, device=clean.device)
    with evaluation_mode(model), torch.no_grad():
        for start in range(0, len(tops) * n, batch_size):  # copy i: window i // n over input i % n
            copies = torch.arange(start, min(start + batch_size, len(tops) * n), device=clean.device)
            windows, inputs = copies // n, copies % n
            masks = (
                _covering(tops[windows], height, window)[:, :, None] & _covering(lefts[windows], width, window)[:, None]
            )
            occluded = torch.where(masks[:, None], fill, clean[inputs])
            scores = call_model(model, occluded).gather(1, classes[inputs][:, None]).squeeze(1)
            drops = (clean_scores[inputs] - scores).to(clean.dtype)
            summed.index_add_(0, inputs, drops[:, None, None] * masks)
    coverage = _covering(rows, height, window).sum(0)[:, None] * _covering(columns, width, window).sum(0)
    return (summed / coverage)[:, None].expand_as(clean).clone()
