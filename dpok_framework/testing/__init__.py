"""The dpok plugin contract, public: conformance checks per component kind, seeded inputs, hypothesis
strategies and a pytest plugin, so a plugin's own CI runs exactly what dpok runs on its first-party plugins,
what ``dpok plugins check`` runs, and (a fast subset) what dpok runs before it uses a component.

A plugin repository needs one test module (or ``pytest --dpok-contract=my-dist``)::

    # tests/test_dpok_contract.py
    from dpok_framework.testing import contract_tests

    test_contract = contract_tests("my-dist")

Modules: :mod:`.kernels`, :mod:`.divergences`, :mod:`.losses`, :mod:`.metrics`, :mod:`.embedders`,
:mod:`.privacy` (the checks, plain functions raising :class:`ContractViolation`), :mod:`.samples` (seeded
inputs and params drawn from a ``Params`` model), :mod:`.strategies` (hypothesis versions; needs the
``test`` extra), :mod:`.contract` (profiles and the runner), :mod:`.reference` (exact reference components).
"""

from __future__ import annotations

import os

from .contract import PROFILES, Profile, check_names, format_results, run_check, run_contract, select_components
from .results import CheckResult, ContractViolation
from .samples import draw_params, make_points, param_sets, random_log_dists

__all__ = ["CheckResult", "ContractViolation", "PROFILES", "Profile", "check_names", "contract_tests",
           "draw_params", "format_results", "make_points", "param_sets", "random_log_dists", "run_check",
           "run_contract", "select_components"]


def contract_tests(*selectors: str, profile: str | None = None):
    """A pytest test function parametrised over every (component, property) of the selected distributions,
    plugins or components.  Profile: ``profile``, else ``$DPOK_CONTRACT_PROFILE``, else ``fast``."""
    import pytest

    from .. import get_registry

    infos = select_components(get_registry(), selectors)
    cases = [(info, prop) for info in infos for prop in check_names(info.kind)]
    chosen = profile or os.environ.get("DPOK_CONTRACT_PROFILE", "fast")

    @pytest.mark.parametrize("case", cases, ids=[f"{i.kind}:{i.name}:{p}" for i, p in cases])
    def test_dpok_contract(case):
        info, prop = case
        result = run_check(info, prop, chosen)
        if result.status in ("fail", "error"):
            pytest.fail(result.describe(), pytrace=False)
        if result.status == "skip" and result.params:
            pytest.skip(result.message)

    return test_dpok_contract
