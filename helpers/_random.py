"""The global random generators, borrowed for code that can only draw from them, and given back.

The helpers' own randomness uses private generators (``torch.Generator``,
``numpy.random.default_rng``). Library code that draws from the global ones, such as a
layer's ``reset_parameters`` or SHAP's samplers, runs inside :func:`forked_global_rng`:
the caller's random state is saved, optionally seeded, and restored afterwards.
The global generators are process-wide, so one lock serialises these blocks across threads;
otherwise one thread could restore its saved state over another's seeded one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import nn

_LOCK = threading.RLock()


def cuda_devices(*things: torch.Tensor | nn.Module | None) -> list[int]:
    """Indices of the CUDA devices that the given tensors or modules' parameters live on."""
    devices: set[int] = set()
    for thing in things:
        tensors: Iterable[torch.Tensor]
        if isinstance(thing, nn.Module):
            tensors = [*thing.parameters(), *thing.buffers()]
        elif isinstance(thing, torch.Tensor):
            tensors = [thing]
        else:
            tensors = []
        for tensor in tensors:
            if tensor.is_cuda:
                devices.add(tensor.device.index if tensor.device.index is not None else torch.cuda.current_device())
    return sorted(devices)


@contextlib.contextmanager
def forked_global_rng(seed: int | None = None, *, devices: Iterable[int] = ()) -> Iterator[None]:
    """Run a block with the global torch (CPU and the given CUDA ``devices``) and NumPy generators
    saved, seeded with ``seed`` if given, and restored afterwards, one thread at a time.

    Only the CUDA devices listed are forked, so CPU-only work never initialises CUDA.
    """
    devices = list(devices)
    with _LOCK:
        numpy_state = np.random.get_state()
        try:
            with torch.random.fork_rng(devices=devices):
                if seed is not None:  # torch.manual_seed would reseed every CUDA device, forked or not
                    torch.default_generator.manual_seed(seed)
                    for device in devices:
                        torch.cuda.default_generators[device].manual_seed(seed)
                    np.random.seed(seed)
                yield
        finally:
            np.random.set_state(numpy_state)
