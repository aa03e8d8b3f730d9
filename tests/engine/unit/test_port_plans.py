"""What a vNIC's port must look like (``operations/ports.py``), without a provider: the plan's stored port and need,
reading a provider's answer, the body a port is created with, the updates that bring an existing port in line, the
grouping per provider, the VIF handed to a host, and whether to wait for ACTIVE.

Not covered here: ``plans_for`` and ``provider_ref`` read the database (and the provider's stored password), and
``allocate``/``wait_active`` call providers; the suites under tests/engine and tests/e2e drive those."""

from __future__ import annotations

from typing import Any

import pytest

from extnet.common.vif import VifProvider
from extnet.engine.operations.context import Lifecycle
from extnet.engine.operations.ports import (
    DEVICE_OWNER,
    PortFailure,
    PortPlan,
    by_provider,
    create_body,
    reports_status,
    updates,
    vif_of,
)
from extnet.engine.operations.scheduling import Need
from extnet.engine.providers.neutron import port_from
from tests.engine.unit.builders import EXTERNAL_ID, PORT_ID, VNIC_ID, plan, provider_ref, wanted_port

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml
HOST = "compute-1.test"
MARKER = "extnet engine 7c1f"
SUBNET_ID = "5f0c2a64-3b1e-4c52-9d0e-1a2b3c4d5e05"


# --- the plan ------------------------------------------------------------------------------------------------------


def test_the_stored_port_counts_only_on_the_plans_provider() -> None:
    assert plan(port_id=PORT_ID, port_provider_id="prov-1").stored == PORT_ID
    assert plan(port_id=PORT_ID, port_provider_id="prov-2").stored is None  # the vNIC moved to another provider
    assert plan().stored is None


def test_a_plan_needs_its_network_on_its_providers_plugin_type() -> None:
    ovn = provider_ref("prov-9", "ovn", "north")
    assert plan(provider=ovn, network_name="blue").need() == Need("blue", "prov-9", "north", "ovn", ovn.config)


# --- reading a provider's answer -----------------------------------------------------------------------------------


def test_port_from_reads_a_port() -> None:
    raw = wanted_port(plan(security_groups=("sg-1",)), HOST, mac_address="56:6F:00:00:00:0A", status="ACTIVE")
    port = port_from(raw)
    assert port is not None
    assert (port.id, port.network_id, port.mac, port.device_id, port.device_owner, port.name) == (
        PORT_ID, EXTERNAL_ID, "56:6f:00:00:00:0a", VNIC_ID, DEVICE_OWNER, "nic1")  # fmt: skip
    assert (port.host_id, port.status, port.vif_type, port.security_groups, port.admin_state_up) == (
        HOST, "ACTIVE", "ovs", ("sg-1",), True)  # fmt: skip


@pytest.mark.parametrize("raw", [None, [], "port-1", {}, {"id": ""}, {"id": 7}, {"name": "no id"}])
def test_port_from_refuses_what_is_not_a_port(raw: object) -> None:
    assert port_from(raw) is None


def test_port_from_reads_fields_of_another_type_as_missing() -> None:
    port = port_from({"id": "p", "name": 3, "mac_address": None, "security_groups": "sg", "admin_state_up": "yes",
                      "binding:host_id": ["h"], "status": {}})  # fmt: skip
    assert port is not None
    assert (port.name, port.mac, port.security_groups, port.admin_state_up, port.host_id, port.status) == (
        None, None, None, None, None, None)  # fmt: skip


# --- the body a port is created with -------------------------------------------------------------------------------


def test_create_body_carries_the_vnic_its_host_and_the_engines_marker() -> None:
    assert create_body(plan(), HOST, MARKER) == {
        "network_id": EXTERNAL_ID, "name": "nic1", "mac_address": "56:6f:00:00:00:01", "device_id": VNIC_ID,
        "device_owner": "oVirt", "binding:host_id": HOST, "admin_state_up": True, "description": MARKER,
    }  # fmt: skip


def test_create_body_leaves_the_default_group_to_the_provider() -> None:
    body = create_body(plan(security_groups=None), HOST, MARKER)
    assert "security_groups" not in body and "port_security_enabled" not in body


def test_create_body_sets_the_profiles_groups() -> None:
    body = create_body(plan(security_groups=("sg-1", "sg-2")), HOST, MARKER)
    assert body["security_groups"] == ["sg-1", "sg-2"] and "port_security_enabled" not in body


def test_create_body_without_groups_turns_port_security_off() -> None:
    body = create_body(plan(security_groups=()), HOST, MARKER)
    assert body["security_groups"] == [] and body["port_security_enabled"] is False


# --- the updates that bring an existing port in line ---------------------------------------------------------------


def _updates(of: PortPlan, binding_host: str = HOST, **port_fields: Any) -> list[dict[str, Any]]:
    """The updates of a port as ``of`` wants it (bound to HOST) but for ``port_fields``, for ``binding_host``."""
    port = port_from(wanted_port(of, HOST, **port_fields))
    assert port is not None
    return updates(of, port, binding_host)


def test_a_port_as_wanted_needs_no_update() -> None:
    assert _updates(plan()) == []
    assert _updates(plan(security_groups=("sg-1",))) == []


def test_a_renamed_vnic_renames_its_port() -> None:
    assert _updates(plan(), name="old-name") == [{"name": "nic1"}]


@pytest.mark.parametrize("changed", [{"device_id": "other"}, {"device_owner": "compute:nova"}, {"device_owner": None}])
def test_a_port_taken_by_another_device_is_taken_back(changed: dict[str, Any]) -> None:
    assert _updates(plan(), **changed) == [{"device_id": VNIC_ID, "device_owner": "oVirt"}]


def test_the_profiles_groups_replace_the_ports_in_any_order() -> None:
    wanted = plan(security_groups=("sg-1", "sg-2"))
    assert _updates(wanted, security_groups=["sg-2", "sg-1"]) == []
    assert _updates(wanted, security_groups=["sg-1"]) == [{"security_groups": ["sg-1", "sg-2"]}]


def test_the_default_group_never_changes_the_ports_groups() -> None:
    assert _updates(plan(security_groups=None), security_groups=["sg-user"], port_security_enabled=False) == []


def test_port_security_follows_whether_the_profile_has_groups() -> None:
    assert _updates(plan(security_groups=()), port_security_enabled=True) == [
        {"port_security_enabled": False, "security_groups": []}]  # fmt: skip
    assert _updates(plan(security_groups=("sg-1",)), port_security_enabled=False) == [
        {"port_security_enabled": True, "security_groups": ["sg-1"]}]  # fmt: skip
    assert _updates(plan(security_groups=("sg-1",)), port_security_enabled=True) == []


def test_a_port_bound_elsewhere_is_rebound() -> None:
    assert _updates(plan(), binding_host="compute-2.test") == [{"binding:host_id": "compute-2.test"}]


def test_a_new_mac_on_a_bound_port_unbinds_it_first() -> None:
    assert _updates(plan(), **{"mac_address": "56:6f:00:00:00:99"}) == [
        {"binding:host_id": ""}, {"mac_address": "56:6f:00:00:00:01", "binding:host_id": HOST}]  # fmt: skip


def test_a_new_mac_on_an_unbound_port_is_one_update() -> None:
    assert _updates(plan(), **{"mac_address": "56:6f:00:00:00:99", "binding:host_id": ""}) == [
        {"mac_address": "56:6f:00:00:00:01", "binding:host_id": HOST}]  # fmt: skip


def test_every_difference_goes_in_one_update() -> None:
    found = _updates(plan(security_groups=("sg-1",)), name="x", device_id="y", security_groups=[],
                     **{"binding:host_id": "elsewhere"})  # fmt: skip
    assert found == [{"name": "nic1", "device_id": VNIC_ID, "device_owner": "oVirt", "security_groups": ["sg-1"],
                      "binding:host_id": HOST}]  # fmt: skip


# --- per provider --------------------------------------------------------------------------------------------------


def test_plans_are_grouped_by_provider_in_their_order() -> None:
    one, two = provider_ref("prov-1"), provider_ref("prov-2")
    a, b, c = plan(vnic_id="a", provider=one), plan(vnic_id="b", provider=two), plan(vnic_id="c", provider=one)
    assert by_provider([a, b, c]) == {"prov-1": [a, c], "prov-2": [b]}
    assert list(by_provider([b, a])) == ["prov-2", "prov-1"]
    assert by_provider([]) == {}


# --- the host's view -----------------------------------------------------------------------------------------------


def test_the_vif_carries_the_plan_and_the_ports_binding() -> None:
    wanted = plan(plugged=False, linked=False, model="e1000", mtu=1400)
    port = port_from(wanted_port(wanted, HOST, fixed_ips=[{"subnet_id": SUBNET_ID, "ip_address": "10.0.0.5"}]))
    assert port is not None
    vif = vif_of(wanted, port, "vm1")
    assert (vif.vnic_id, vif.vnic_name, vif.port_id, vif.mac, vif.mtu, vif.model) == (
        VNIC_ID, "nic1", PORT_ID, "56:6f:00:00:00:01", 1400, "e1000")  # fmt: skip
    assert (vif.network.id, vif.network.name, vif.plugin_type, vif.vif_type) == (EXTERNAL_ID, "red", "open_vswitch",
                                                                                 "ovs")  # fmt: skip
    assert vif.provider == VifProvider("prov-1", "external") and (vif.plugged, vif.linked) == (False, False)
    assert [(ip.subnet_id, ip.ip_address) for ip in vif.fixed_ips] == [(SUBNET_ID, "10.0.0.5")]


def test_a_port_the_host_cannot_be_given_fails_naming_the_vnic_and_provider() -> None:
    raw = wanted_port(plan(), HOST)
    del raw["mac_address"]
    port = port_from(raw)
    assert port is not None
    with pytest.raises(PortFailure) as failure:
        vif_of(plan(), port, "vm1")
    assert failure.value.provider_id == "prov-1"
    assert failure.value.message.startswith(f"The port {PORT_ID} of vNIC 'nic1' of VM 'vm1' on provider 'prov-1-name' "
                                            "cannot be handed to the host: ")  # fmt: skip
    assert "MAC address" in failure.value.message  # what is wrong


# --- waiting for ACTIVE --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active_wait", "reporting", "waits"),
    [("auto", frozenset({"prov-1"}), True), ("auto", frozenset({"prov-2"}), False), ("auto", frozenset(), False),
     ("always", frozenset(), True), ("never", frozenset({"prov-1"}), False)],
)  # fmt: skip
def test_ports_are_waited_for_where_an_agent_reports_them(
    active_wait: str, reporting: frozenset[str], waits: bool
) -> None:
    lifecycle = Lifecycle("engine-id", "engine-instance", active_wait=active_wait)  # type: ignore[arg-type]
    assert reports_status(lifecycle, reporting, "prov-1") is waits
