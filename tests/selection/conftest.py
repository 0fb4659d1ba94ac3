"""Selection tests run many small tensor ops: one intra-op thread avoids thread-pool wake-up costs that
dominate at these sizes (and are erratic on a loaded 2-core machine)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
