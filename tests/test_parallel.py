"""drugsim.parallel: calls in worker processes come back in order, long ones first, errors raised here."""

from __future__ import annotations

import pytest

from drugsim.errors import ConfigError
from drugsim.parallel import run_in_processes

CALLS = [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}]


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_back_in_the_order_of_the_calls(workers):
    finished = []
    results = run_in_processes(dict, CALLS, workers=workers, first=lambda call: call["name"] == "c",
                               on_done=lambda index, count, result, seconds: finished.append((index, count)))
    assert results == CALLS
    assert sorted(index for index, _ in finished) == [0, 1, 2] and [c for _, c in finished] == [1, 2, 3]


def test_a_failing_call_raises_here_and_bad_worker_counts_are_refused():
    with pytest.raises(TypeError):
        run_in_processes(int, [{"x": 1}, {"x": 2}], workers=2)
    with pytest.raises(ConfigError, match="workers: expected 1 or more processes, got 0"):
        run_in_processes(dict, CALLS, workers=0)
