"""Shared test set-up: offline hub, hypothesis profiles, one torch thread, third-party plugins installed."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Profiles: `ci` (default, fast) and `thorough` (DPOK_HYPOTHESIS_PROFILE=thorough).
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("DPOK_HYPOTHESIS_PROFILE", "ci"))

# Test tensors are tiny: one intra-op thread avoids OpenMP spin-waits that make small ops 10-100x slower
# on a busy 2-core runner. Subprocess tests (torchrun, CLI) choose their own.
torch.set_num_threads(1)

# Third-party plugins, really pip-installed (cached per content hash) before collection, so every
# registry built in this session discovers them through entry points and the generic property
# suites check them: the demo fixture package and the package CONTRIBUTING.md's recipe describes.
import sys  # noqa: E402

from plugin_install import install_contributing_recipe, install_fixture  # noqa: E402

THIRD_PARTY_PATHS = [str(install_fixture("dpoktest-plugin-demo")), str(install_contributing_recipe())]
for _p in THIRD_PARTY_PATHS:
    if _p not in sys.path:
        sys.path.insert(0, _p)


@pytest.fixture
def registry():
    """The process-wide plugin registry (entry points discovered once)."""
    from dpok_framework import get_registry

    return get_registry()
