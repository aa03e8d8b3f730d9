"""The binding host id a vNIC's port gets on the host its VM runs on, per plugin type of the port's provider: the id
the host's agent reports for that plugin type (``binding_host_ids``), else its host name when it lists the plugin
type without an id (``plugin_types``), else none (``HostCapabilities.binding``, ``binding_for``)."""

from __future__ import annotations

from typing import Any

import pytest

from extnet.common.capabilities import HostCapabilities
from extnet.engine.operations.vm_ports import binding_for
from tests.engine.unit.builders import host, plan, provider_ref

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml


def test_the_reported_id_for_the_plugin_type() -> None:
    compute = host("compute-1", binding_host_ids={"open_vswitch": "ovs-1", "ovn": "chassis-1"})
    binding = binding_for(compute)
    assert binding(plan(provider=provider_ref(plugin_type="open_vswitch"))) == "ovs-1"
    assert binding(plan(provider=provider_ref(plugin_type="ovn"))) == "chassis-1"


def test_plugin_types_match_whatever_their_case() -> None:
    compute = host("compute-1", binding_host_ids={"Open_vSwitch": "ovs-1"})
    assert binding_for(compute)(plan(provider=provider_ref(plugin_type="OPEN_VSWITCH"))) == "ovs-1"


def test_a_plugin_type_listed_without_an_id_binds_by_host_name() -> None:
    compute = host("compute-1.example.test", plugin_types=("ovn",))
    assert binding_for(compute)(plan(provider=provider_ref(plugin_type="ovn"))) == "compute-1.example.test"


def test_a_reported_id_wins_over_the_host_name() -> None:
    compute = host("compute-1", binding_host_ids={"ovn": "chassis-1"}, plugin_types=("ovn",))
    assert binding_for(compute)(plan(provider=provider_ref(plugin_type="ovn"))) == "chassis-1"


@pytest.mark.parametrize(
    "capabilities",
    [{}, {"binding_host_ids": {"ovn": "chassis-1"}}, {"binding_host_ids": {"open_vswitch": ""}},
     {"plugin_types": ("linuxbridge",)}],
)  # fmt: skip
def test_a_host_that_cannot_plug_the_plugin_type_binds_nothing(capabilities: dict[str, Any]) -> None:
    compute = host("compute-1", **capabilities)
    assert binding_for(compute)(plan(provider=provider_ref(plugin_type="open_vswitch"))) == ""


def test_plugin_types_without_a_host_name_bind_nothing() -> None:
    assert HostCapabilities(plugin_types=("ovn",)).binding("ovn") is None


def test_each_plan_is_bound_for_its_own_provider() -> None:
    compute = host("compute-1", binding_host_ids={"open_vswitch": "ovs-1", "ovn": "chassis-1"})
    binding = binding_for(compute)
    plans = [plan(vnic_id=f"vnic-{t}", provider=provider_ref(f"prov-{t}", t)) for t in ("ovn", "open_vswitch")]
    assert [binding(p) for p in plans] == ["chassis-1", "ovs-1"]
