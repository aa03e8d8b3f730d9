"""Fixtures of the host agent's own tests: real ``extnet host --runtime noop`` processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.host.rpc import Rpc
from tests.servers import HostAgentProcess, run_host_agent


def pytest_configure(config: pytest.Config) -> None:
    # openstacksdk announces its own future API changes on every call
    config.addinivalue_line("filterwarnings", "ignore::PendingDeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore::openstack.warnings.OpenStackWarning")


@pytest.fixture(scope="session")
def shared_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostAgentProcess]:
    """One agent for the tests that only need a paired agent (they use their own VM ids)."""
    with run_host_agent(tmp_path_factory.mktemp("host")) as agent:
        yield agent


@pytest.fixture(scope="session")
def paired(shared_agent: HostAgentProcess) -> Rpc:
    return Rpc(shared_agent.url).pair(shared_agent.password)


@pytest.fixture
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostAgentProcess]:
    """An agent of the test's own (for tests that re-pair it, restart it or count its failures)."""
    with run_host_agent(tmp_path_factory.mktemp("host")) as process:
        yield process
