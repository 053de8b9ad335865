"""helpers._random: the global generators borrowed for library code that can only draw from them, and given back.

``forked_global_rng`` saves torch's and NumPy's global states, seeds them, and restores them. The
global generators are process-wide, so the blocks are serialised across threads: several threads
forking with their own seeds each see their own stream, and the caller's state comes back exactly.
Only the CUDA devices named are forked, so CPU-only work never initialises CUDA.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from torch import nn

from helpers._random import cuda_devices, forked_global_rng

from side_effects import cuda_forks_on_a_pretend_gpu, global_rngs_untouched, numpy_states_equal

THREADS, ITERATIONS = 8, 20
TIMEOUT = 30.0  # seconds a thread waits for the others to start (never reached when all is well)


def seeded_stream(seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """What a block seeded with ``seed`` draws (see :func:`draw_twice`), from private generators."""
    generator = torch.Generator().manual_seed(seed)
    first = torch.rand(3, generator=generator)
    second = torch.randn(3, generator=generator)
    state = np.random.RandomState(seed)
    return torch.cat([first, second]), np.concatenate([state.random_sample(2), state.standard_normal(2)])


def draw_twice(seed: int | None) -> tuple[torch.Tensor, np.ndarray]:
    """Inside a fork: draw from torch's and NumPy's global generators, let other threads run, draw again."""
    with forked_global_rng(seed):
        first, numpy_first = torch.rand(3), np.random.random_sample(2)
        time.sleep(0)  # give up the GIL between the draws: another thread's fork would show here
        second, numpy_second = torch.randn(3), np.random.standard_normal(2)
    return torch.cat([first, second]), np.concatenate([numpy_first, numpy_second])


def test_a_seeded_block_draws_the_seeds_stream_and_restores_both_generators() -> None:
    with global_rngs_untouched():
        drawn, numpy_drawn = draw_twice(7)
    expected, numpy_expected = seeded_stream(7)
    assert torch.equal(drawn, expected)
    assert np.array_equal(numpy_drawn, numpy_expected)


def test_an_unseeded_block_continues_the_callers_stream_then_rewinds_it() -> None:
    torch.manual_seed(3)
    np.random.seed(3)
    drawn, numpy_drawn = draw_twice(None)
    again, numpy_again = draw_twice(None)  # the first block's draws were given back
    assert torch.equal(drawn, again) and np.array_equal(numpy_drawn, numpy_again)
    torch.manual_seed(3)
    assert torch.equal(torch.rand(3), drawn[:3])


def test_the_states_are_restored_when_the_block_raises() -> None:
    def draw_and_fail() -> None:
        with forked_global_rng(1):
            torch.rand(5)
            np.random.random_sample(5)
            raise KeyError("inside")

    with global_rngs_untouched(), pytest.raises(KeyError):
        draw_and_fail()


def test_forks_nest_in_one_thread() -> None:
    expected, _ = seeded_stream(1)
    with global_rngs_untouched(), forked_global_rng(1):
        first = torch.rand(3)
        inner, _ = draw_twice(2)  # the lock is re-entrant: a helper may call another inside its fork
        second = torch.randn(3)
    assert torch.equal(torch.cat([first, second]), expected)
    assert torch.equal(inner, seeded_stream(2)[0])


def test_threads_forking_with_their_own_seeds_each_see_their_own_stream() -> None:
    """8 threads x 20 forks, each thread with its own seed, all started at once: every block draws
    exactly its seed's stream, and the global generators end as they began."""
    start = threading.Barrier(THREADS, timeout=TIMEOUT)

    def run(seed: int) -> list[tuple[torch.Tensor, np.ndarray]]:
        start.wait()
        return [draw_twice(seed) for _ in range(ITERATIONS)]

    with global_rngs_untouched(), ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, range(THREADS)))
    for seed, draws in enumerate(results):
        expected, numpy_expected = seeded_stream(seed)
        assert len(draws) == ITERATIONS
        for drawn, numpy_drawn in draws:
            assert torch.equal(drawn, expected), f"thread {seed} drew another thread's numbers"
            assert np.array_equal(numpy_drawn, numpy_expected), f"thread {seed} drew another thread's numbers"


def test_the_main_threads_own_draws_are_not_disturbed_by_forking_threads() -> None:
    stop = threading.Event()

    def fork_until_stopped(seed: int) -> int:
        count = 0
        while not stop.is_set() or count == 0:
            draw_twice(seed)
            count += 1
        return count

    torch.manual_seed(11)
    np.random.seed(11)
    expected = torch.rand(200)
    numpy_expected = np.random.random_sample(200)
    torch.manual_seed(11)
    np.random.seed(11)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(fork_until_stopped, seed) for seed in (1, 2)]
        with forked_global_rng():  # the main thread's own draws, from its own state, inside a fork too
            drawn = torch.cat([torch.rand(1) for _ in range(200)])
            numpy_drawn = np.concatenate([np.random.random_sample(1) for _ in range(200)])
        stop.set()
        assert all(future.result() > 0 for future in futures)
    assert torch.equal(drawn, expected)
    assert np.array_equal(numpy_drawn, numpy_expected)


# ---------------------------------------------------------------------------
# CUDA: only the devices in use are forked
# ---------------------------------------------------------------------------


def test_a_cpu_fork_forks_no_cuda_device_even_when_cuda_is_available(monkeypatch) -> None:
    forks = cuda_forks_on_a_pretend_gpu(monkeypatch)
    with global_rngs_untouched():
        drawn, _ = draw_twice(4)
    assert forks == [[]]
    assert torch.equal(drawn, seeded_stream(4)[0])


def test_cuda_devices_of_cpu_tensors_and_modules_is_empty(monkeypatch) -> None:
    def no_cuda() -> int:
        raise AssertionError("cuda_devices asked CUDA about CPU tensors")

    monkeypatch.setattr(torch.cuda, "current_device", no_cuda)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))  # parameters and buffers
    assert cuda_devices() == []
    assert cuda_devices(None) == []
    assert cuda_devices(torch.zeros(2, 3)) == []
    assert cuda_devices(model, torch.zeros(2, 3), None) == []
    assert cuda_devices(nn.ReLU()) == []  # a module without parameters or buffers
    assert cuda_devices(model.to("meta")) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_devices_of_cuda_tensors_and_a_cuda_fork() -> None:
    model = nn.Linear(3, 2).cuda()
    assert cuda_devices(model, torch.zeros(2)) == [torch.cuda.current_device()]
    assert cuda_devices(torch.zeros(2, device="cuda:0"), torch.zeros(2)) == [0]
    cuda_state, cpu_state, numpy_state = torch.cuda.get_rng_state(0), torch.get_rng_state(), np.random.get_state()
    with forked_global_rng(5, devices=[0]):
        drawn = torch.rand(4, device="cuda:0")
    again = torch.rand(4, device="cuda:0", generator=torch.Generator(device="cuda:0").manual_seed(5))
    assert torch.equal(drawn, again)
    assert torch.equal(torch.cuda.get_rng_state(0), cuda_state)
    assert torch.equal(torch.get_rng_state(), cpu_state)
    assert numpy_states_equal(np.random.get_state(), numpy_state)
