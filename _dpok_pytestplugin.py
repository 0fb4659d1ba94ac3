"""The ``dpok`` pytest plugin (entry point ``pytest11: dpok``), loaded automatically once dpok-framework is
installed.  ``pytest --dpok-contract=DIST`` (repeatable; a distribution, plugin or component name) adds one
test per (component, property) of the dpok contract; ``--dpok-contract-profile=thorough`` runs more params
and inputs.  The same cases are available to a test module through
:func:`dpok_framework.testing.contract_tests`.  Without the option the plugin does nothing.

This is a top-level module, not part of the ``dpok_framework`` package (hypothesis ships its plugin the same
way), so that every pytest session in an environment where dpok is installed does not pay for importing
``dpok_framework`` and torch: nothing of dpok is imported until ``--dpok-contract`` is given."""

from __future__ import annotations

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("dpok", "dpok plugin contract")
    group.addoption("--dpok-contract", action="append", default=[], metavar="DIST|NAME",
                    help="run the dpok component contract on an installed plugin distribution, plugin or component "
                         "(repeatable)")
    group.addoption("--dpok-contract-profile", default="fast", choices=("fast", "thorough"),
                    help="contract profile: fast (default) or thorough")


class ContractItem(pytest.Item):
    """One property of one component."""

    def __init__(self, *, info, prop: str, profile: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.info, self.prop, self.profile = info, prop, profile

    def runtest(self) -> None:
        from dpok_framework.testing.contract import run_check

        result = run_check(self.info, self.prop, self.profile)
        if result.status in ("fail", "error"):
            raise ContractFailure(result.describe())
        if result.status == "skip" and result.params:
            pytest.skip(result.message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ContractFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"dpok contract: {self.name}"


class ContractFailure(AssertionError):
    """A component broke the contract (the message names component, distribution, property and numbers)."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    selectors = config.getoption("dpok_contract")
    if not selectors:
        return
    from dpok_framework import get_registry
    from dpok_framework.errors import DpokError
    from dpok_framework.testing.contract import check_names, select_components

    profile = config.getoption("dpok_contract_profile")
    try:
        infos = select_components(get_registry(), selectors)
    except DpokError as exc:
        raise pytest.UsageError(f"--dpok-contract: {exc}") from None
    for info in infos:
        for prop in check_names(info.kind):
            items.append(ContractItem.from_parent(session, name=f"dpok-contract[{info.kind}:{info.name}:{prop}]",
                                                  info=info, prop=prop, profile=profile))
