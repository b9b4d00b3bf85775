"""The one timing helper: a block's wall and CPU seconds, or the seconds since a start."""

from __future__ import annotations

import time

from vwbench.clock import Clock


def test_block_wall_and_cpu():
    with Clock("cpu") as c:
        time.sleep(0.05)  # wall time passes, hardly any CPU time
        t = time.process_time()
        while time.process_time() - t < 0.05:  # CPU time passes too
            pass
    assert c.wall >= 0.1 - 1e-3 and 0.05 - 1e-3 <= c.cpu < c.wall
    assert c.pair == (c.wall, c.cpu)


def test_seconds_since_made():
    c = Clock()
    time.sleep(0.15)
    assert 0.1 <= c.seconds() <= 5.0 and c.seconds() == round(c.seconds(), 1)
