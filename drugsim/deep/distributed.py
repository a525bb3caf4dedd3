"""Running the training on several processes (DistributedDataParallel).

The training loop (:func:`drugsim.deep.training.fit`) joins a process group whenever the environment
describes one (``WORLD_SIZE`` > 1, as ``torchrun`` sets it), wraps the model in DistributedDataParallel,
shards the pairs with a DistributedSampler, keeps BatchNorm statistics in step and lets rank 0 write the
checkpoints. So multi-GPU or multi-machine training is the ordinary command under torchrun::

    torchrun --nproc_per_node=4 -m drugsim train siamese --variant improved --backbone resnet18 \\
        --data data/paper --profile paper --out models/resnet18-improved.pt

:func:`spawn` does the same from Python without torchrun (used by the tests: two CPU processes, gloo).
"""

from __future__ import annotations

import os
import socket
from typing import Any, Callable, Tuple


def free_port() -> int:
    """A TCP port that is free on this machine right now (for the process group's rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, world_size: int, port: int, target: Callable[..., Any], args: Tuple[Any, ...]) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size)})
    import torch

    torch.set_num_threads(1)
    target(rank, *args)


def spawn(target: Callable[..., Any], world_size: int, *args: Any) -> None:
    """Run ``target(rank, *args)`` in ``world_size`` processes that form a process group.

    ``target`` must be importable (a module-level function); it typically calls
    :func:`~drugsim.deep.training.train_siamese`, which joins the group from the environment.
    """
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(world_size, free_port(), target, args), nprocs=world_size, join=True)
