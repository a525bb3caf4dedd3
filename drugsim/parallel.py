"""Independent calls in worker processes: several small CPU jobs (training runs, evaluations) at once.

A small network on a CPU uses two cores poorly: most of its operations are too small to split between threads.
Two independent jobs in two processes, one thread each, keep both cores busy. Workers are spawned (not forked:
a forked torch process can deadlock on its thread pool) and each gets an equal share of this process's torch
threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from drugsim.errors import ConfigError


def _start_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_in_processes(function: Callable[..., Any], calls: Sequence[Mapping[str, Any]], *, workers: int = 1,
                     first: Callable[[Mapping[str, Any]], bool] | None = None,
                     on_done: Callable[[int, int, Any, float], None] | None = None) -> list[Any]:
    """``function(**call)`` for each of ``calls``, up to ``workers`` at once; results in the order of ``calls``.

    Args:
        function: a module-level function (workers import it by name).
        calls: keyword arguments of each call (picklable).
        workers: processes at once; 1 (or a single call) runs everything here, one call after another.
        first: calls for which this is true are submitted first (the long ones, so that no worker waits idle
            at the end while another finishes a long job).
        on_done: called here as each call finishes, with (its index, how many have finished, its result,
            seconds since the start).
    """
    if workers < 1:
        raise ConfigError(f"workers: expected 1 or more processes, got {workers}")
    started = time.perf_counter()
    if workers == 1 or len(calls) <= 1:
        results = []
        for index, call in enumerate(calls):
            results.append(function(**call))
            if on_done is not None:
                on_done(index, index + 1, results[-1], time.perf_counter() - started)
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import torch

    threads = max(1, torch.get_num_threads() // workers)
    order = sorted(range(len(calls)), key=lambda i: 0 if first is not None and first(calls[i]) else 1)
    done: dict[int, Any] = {}
    with ProcessPoolExecutor(max_workers=min(workers, len(calls)), initializer=_start_worker, initargs=(threads,),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(function, **calls[i]): i for i in order}
        for count, future in enumerate(as_completed(futures), start=1):
            index = futures[future]
            done[index] = future.result()
            if on_done is not None:
                on_done(index, count, done[index], time.perf_counter() - started)
    return [done[i] for i in range(len(calls))]
