"""Training batches made in background processes, so the optimiser does not wait for them.

A refiner pair (a slab, a random acquisition, ten back-projection iterations) is single-core
numpy/torch work: about a quarter of each step when made in the training loop. Here worker w
owns its own sampler (seed + w, so one worker draws exactly what the in-process sampler
draws), the loop takes batches round-robin, and every batch comes with its worker's RNG state
after it: a checkpoint records where each worker stands, and a resumed run draws the same
batches as an uninterrupted one. Linux `fork` start: the workers share the loaded volumes
copy-on-write instead of pickling them.
"""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import signal
from typing import Callable

import torch


def _work(make_sampler: Callable, seed: int, state, batch_size: int, out) -> None:
    # the training loop's stop handlers (train.StopFlag) came along with the fork: a worker
    # must die on terminate() and leave Ctrl-C to the loop, which checkpoints and stops it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)  # one core per worker; the training step keeps its own threads
    sampler = make_sampler(seed)
    if state is not None:
        sampler.rng.bit_generator.state = state
    while True:
        batch = sampler.batch(batch_size)
        # numpy arrays travel as pickled bytes: no shared-memory file handles to run out of
        out.put((tuple(t.numpy() for t in batch), sampler.rng.bit_generator.state))


class PairWorkers:
    """`make_sampler(seed)` -> an object with `.rng` (numpy Generator) and `.batch(n)` -> tensors.
    `states`: one RNG state per worker from `states()` of an earlier run, or None to start;
    `start`: how many batches that run had taken (the round-robin goes on from there)."""

    def __init__(self, make_sampler: Callable, seed: int, workers: int, batch_size: int,
                 states: list | None = None, start: int = 0, prefetch: int = 2):
        if workers < 1:
            raise ValueError(f'PairWorkers needs at least one worker, got {workers}')
        if states is not None and len(states) != workers:
            raise ValueError(f'{len(states)} saved sampler states for {workers} workers')
        ctx = mp.get_context('fork')
        self._states = list(states) if states is not None else [None] * workers
        self._queues = [ctx.Queue(prefetch) for _ in range(workers)]
        self._procs = [ctx.Process(target=_work, daemon=True,
                                   args=(make_sampler, seed + w, self._states[w], batch_size, q))
                       for w, q in enumerate(self._queues)]
        for p in self._procs:
            p.start()
        self._next = start

    def batch(self) -> tuple:
        w = self._next % len(self._procs)
        while True:
            try:
                arrays, state = self._queues[w].get(timeout=1)
                break
            except queue_mod.Empty:
                if not self._procs[w].is_alive():
                    raise RuntimeError(f'pair worker {w} stopped (exit code {self._procs[w].exitcode})')
        self._states[w] = state
        self._next += 1
        return tuple(torch.from_numpy(a) for a in arrays)

    def states(self) -> list:
        """Each worker's RNG state after the last batch taken from it (None: none taken yet, so
        the worker starts from its seed again)."""
        return list(self._states)

    def close(self) -> None:
        for p in self._procs:
            p.terminate()
        for p in self._procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
