"""Neutron's port policy for non-admins: what a project may set on a port of a shared network it does not own
(Neutron's ``admin_or_network_owner`` rules), on a network it owns, and on update (needs Keystone)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error

SHARED_CIDR, OWNED_CIDR = "10.140.0", "10.141.0"
Body = Callable[[str, str], dict[str, Any]]  # (subnet id, first three octets) -> port attributes


@dataclass
class Setting:
    """Project B's connection, an admin's shared network and B's own network (each with one IPv4 subnet)."""

    conn: Connection
    project_id: str
    shared_id: str
    shared_subnet: str
    owned_id: str
    owned_subnet: str


@pytest.fixture(scope="module")
def setting(target: Target, admin: Connection) -> Iterator[Setting]:
    conn, project_id = target.member("portpolicy")
    run = uuid.uuid4().hex[:6]
    lab = Lab(admin, lambda prefix: f"cf-{prefix}-{run}")
    shared = lab.network(is_shared=True)
    owned = lab.network(conn=conn)
    assert owned.project_id == project_id
    shared_subnet = lab.subnet(shared, f"{SHARED_CIDR}.0/24")
    owned_subnet = lab.subnet(owned, f"{OWNED_CIDR}.0/24", conn=conn)
    yield Setting(conn, project_id, shared.id, shared_subnet.id, owned.id, owned_subnet.id)
    lab.close()
    conn.close()


@pytest.fixture
def member(target: Target, setting: Setting) -> Iterator[httpx.Client]:
    """Plain HTTP as project B's member."""
    with target.raw(token=setting.conn.session.get_token()) as client:
        yield client


def _refusal(action: str, attribute: str, keys: tuple[str, ...] = ()) -> str:
    rule = f"rule:{action}:{attribute}"
    if keys:
        rule = f"({rule} and ({' and '.join(f'rule:{action}:{attribute}:{key}' for key in keys)}))"
    return f"(rule:{action} and {rule}) is disallowed by policy"


# (test id, attributes, the attribute and sub-attribute keys Neutron's refusal names)
OWNER_ONLY_ON_CREATE: list[tuple[str, Body, str, tuple[str, ...]]] = [
    ("mac_address", lambda s, net: {"mac_address": "fa:16:3e:14:00:01"}, "mac_address", ()),
    ("ip_address", lambda s, net: {"fixed_ips": [{"ip_address": f"{net}.11"}]}, "fixed_ips", ("ip_address",)),
    (
        "subnet_and_ip_address",
        lambda s, net: {"fixed_ips": [{"subnet_id": s, "ip_address": f"{net}.12"}]},
        "fixed_ips",
        ("subnet_id", "ip_address"),
    ),
    ("port_security_on", lambda s, net: {"port_security_enabled": True}, "port_security_enabled", ()),
    ("port_security_off", lambda s, net: {"port_security_enabled": False}, "port_security_enabled", ()),
    (
        "address_pair",
        lambda s, net: {"allowed_address_pairs": [{"ip_address": f"{net}.200"}]},
        "allowed_address_pairs",
        ("ip_address",),
    ),
    (
        "address_pair_with_mac",
        lambda s, net: {"allowed_address_pairs": [{"mac_address": "fa:16:3e:14:00:02", "ip_address": f"{net}.201"}]},
        "allowed_address_pairs",
        ("mac_address", "ip_address"),
    ),
    ("no_address_pairs", lambda s, net: {"allowed_address_pairs": []}, "allowed_address_pairs", ()),
    ("network_device", lambda s, net: {"device_owner": "network:dhcp"}, "device_owner", ()),
]

ADMIN_ONLY: list[tuple[str, dict[str, Any], str]] = [
    ("host_id", {"binding:host_id": "conformance-host-1"}, "binding:host_id"),
    ("empty_host_id", {"binding:host_id": ""}, "binding:host_id"),
    ("profile", {"binding:profile": {"key": "value"}}, "binding:profile"),
    ("empty_profile", {"binding:profile": {}}, "binding:profile"),
]

ANYONE_ON_CREATE: list[tuple[str, Body]] = [
    ("plain", lambda s, net: {}),
    ("subnet_only", lambda s, net: {"fixed_ips": [{"subnet_id": s}]}),
    ("no_fixed_ips", lambda s, net: {"fixed_ips": []}),
    ("vnic_type", lambda s, net: {"binding:vnic_type": "direct"}),
    ("compute_device", lambda s, net: {"device_owner": "compute:nova", "device_id": "vm-1"}),
]


def _ids(cases: list[Any]) -> list[str]:
    return [case[0] for case in cases]


def _create(member: httpx.Client, network_id: str, attributes: dict[str, Any]) -> httpx.Response:
    return member.post("/ports", json={"port": {"network_id": network_id, **attributes}})


def _port(member: httpx.Client, network_id: str) -> dict[str, Any]:
    response = _create(member, network_id, {})
    assert response.status_code == 201, response.text
    port: dict[str, Any] = response.json()["port"]
    return port


def _update(member: httpx.Client, port_id: str, attributes: dict[str, Any]) -> httpx.Response:
    return member.put(f"/ports/{port_id}", json={"port": attributes})


def _assert_has(port: dict[str, Any], attributes: dict[str, Any]) -> None:
    """The port has the attributes asked for (of fixed IPs and address pairs: the keys given)."""
    for wire, value in attributes.items():
        if wire in ("fixed_ips", "allowed_address_pairs"):
            assert len(port[wire]) == len(value)
            assert [{key: entry[key] for key in asked} for entry, asked in zip(port[wire], value, strict=True)] == value
        else:
            assert port[wire] == value


# --- create --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "body", "attribute", "keys"), OWNER_ONLY_ON_CREATE, ids=_ids(OWNER_ONLY_ON_CREATE))
def test_create_on_a_shared_network_refuses_what_only_its_owner_sets(
    member: httpx.Client, setting: Setting, case: str, body: Body, attribute: str, keys: tuple[str, ...]
) -> None:
    response = _create(member, setting.shared_id, body(setting.shared_subnet, SHARED_CIDR))
    assert neutron_error(response, 403, "PolicyNotAuthorized") == _refusal("create_port", attribute, keys)


@pytest.mark.parametrize(("case", "body"), ANYONE_ON_CREATE, ids=_ids(ANYONE_ON_CREATE))
def test_create_on_a_shared_network_allows_the_rest(
    member: httpx.Client, setting: Setting, case: str, body: Body
) -> None:
    response = _create(member, setting.shared_id, body(setting.shared_subnet, SHARED_CIDR))
    assert response.status_code == 201, response.text
    port = response.json()["port"]
    assert port["project_id"] == setting.project_id and port["network_id"] == setting.shared_id


@pytest.mark.parametrize(("case", "body", "attribute", "keys"), OWNER_ONLY_ON_CREATE, ids=_ids(OWNER_ONLY_ON_CREATE))
def test_create_on_its_own_network_allows_what_only_owners_set(
    member: httpx.Client, setting: Setting, case: str, body: Body, attribute: str, keys: tuple[str, ...]
) -> None:
    attributes = body(setting.owned_subnet, OWNED_CIDR)
    response = _create(member, setting.owned_id, attributes)
    assert response.status_code == 201, response.text
    _assert_has(response.json()["port"], attributes)


@pytest.mark.parametrize(("case", "attributes", "attribute"), ADMIN_ONLY, ids=_ids(ADMIN_ONLY))
@pytest.mark.parametrize("network", ["shared", "owned"])
def test_create_refuses_binding_attributes_even_to_the_network_owner(
    member: httpx.Client, setting: Setting, network: str, case: str, attributes: dict[str, Any], attribute: str
) -> None:
    network_id = setting.shared_id if network == "shared" else setting.owned_id
    response = _create(member, network_id, attributes)
    assert neutron_error(response, 403, "PolicyNotAuthorized") == _refusal("create_port", attribute)


def test_a_refusal_names_every_attribute_given_in_neutrons_order(member: httpx.Client, setting: Setting) -> None:
    attributes = {
        "binding:vnic_type": "direct",
        "device_id": "vm-2",
        "fixed_ips": [{"subnet_id": setting.shared_subnet}],
        "mac_address": "fa:16:3e:14:00:03",
    }
    response = _create(member, setting.shared_id, attributes)
    assert neutron_error(response, 403, "PolicyNotAuthorized") == (
        "((((rule:create_port and rule:create_port:mac_address) and (rule:create_port:fixed_ips and "
        "(rule:create_port:fixed_ips:subnet_id))) and rule:create_port:device_id) and "
        "rule:create_port:binding:vnic_type) is disallowed by policy"
    )


def test_invalid_input_is_reported_before_policy(member: httpx.Client, setting: Setting) -> None:
    response = _create(member, setting.shared_id, {"binding:host_id": "h", "mac_address": "zz"})
    assert neutron_error(response, 400, "HTTPBadRequest") == (
        "Invalid input for mac_address. Reason: 'zz' is not a valid MAC address."
    )


def test_a_bulk_create_with_one_refused_port_creates_none(member: httpx.Client, setting: Setting) -> None:
    before = {p["id"] for p in member.get("/ports", params={"network_id": setting.shared_id}).json()["ports"]}
    ports = [{"network_id": setting.shared_id}, {"network_id": setting.shared_id, "mac_address": "fa:16:3e:14:00:04"}]
    response = member.post("/ports", json={"ports": ports})
    assert neutron_error(response, 403, "PolicyNotAuthorized") == _refusal("create_port", "mac_address")
    after = {p["id"] for p in member.get("/ports", params={"network_id": setting.shared_id}).json()["ports"]}
    assert after == before


# --- update --------------------------------------------------------------------------------------------------------

# (test id, attributes, the attribute and sub-attribute keys Neutron's refusal names)
OWNER_ONLY_ON_UPDATE: list[tuple[str, Body, str, tuple[str, ...]]] = [
    ("ip_address", lambda s, net: {"fixed_ips": [{"ip_address": f"{net}.21"}]}, "fixed_ips", ("ip_address",)),
    ("subnet_only", lambda s, net: {"fixed_ips": [{"subnet_id": s}]}, "fixed_ips", ("subnet_id",)),
    ("no_fixed_ips", lambda s, net: {"fixed_ips": []}, "fixed_ips", ()),
    ("port_security_on", lambda s, net: {"port_security_enabled": True}, "port_security_enabled", ()),
    (
        "address_pair",
        lambda s, net: {"allowed_address_pairs": [{"ip_address": f"{net}.210"}]},
        "allowed_address_pairs",
        ("ip_address",),
    ),
    ("no_address_pairs", lambda s, net: {"allowed_address_pairs": []}, "allowed_address_pairs", ()),
    ("network_device", lambda s, net: {"device_owner": "network:dhcp"}, "device_owner", ()),
]

ANYONE_ON_UPDATE: list[tuple[str, dict[str, Any]]] = [
    ("name", {"name": "renamed"}),
    ("vnic_type", {"binding:vnic_type": "direct"}),
    ("compute_device", {"device_owner": "compute:nova", "device_id": "vm-3"}),
]


@pytest.mark.parametrize(("case", "body", "attribute", "keys"), OWNER_ONLY_ON_UPDATE, ids=_ids(OWNER_ONLY_ON_UPDATE))
def test_update_of_its_port_on_a_shared_network_refuses_what_only_the_owner_sets(
    member: httpx.Client, setting: Setting, case: str, body: Body, attribute: str, keys: tuple[str, ...]
) -> None:
    port = _port(member, setting.shared_id)
    response = _update(member, port["id"], body(setting.shared_subnet, SHARED_CIDR))
    assert neutron_error(response, 403, "PolicyNotAuthorized") == _refusal("update_port", attribute, keys)


@pytest.mark.parametrize(("case", "attributes"), ANYONE_ON_UPDATE, ids=_ids(ANYONE_ON_UPDATE))
def test_update_of_its_port_on_a_shared_network_allows_the_rest(
    member: httpx.Client, setting: Setting, case: str, attributes: dict[str, Any]
) -> None:
    port = _port(member, setting.shared_id)
    response = _update(member, port["id"], attributes)
    assert response.status_code == 200, response.text
    updated = response.json()["port"]
    assert {wire: updated[wire] for wire in attributes} == attributes


@pytest.mark.parametrize(("case", "body", "attribute", "keys"), OWNER_ONLY_ON_UPDATE, ids=_ids(OWNER_ONLY_ON_UPDATE))
def test_update_on_its_own_network_allows_what_only_owners_set(
    member: httpx.Client, setting: Setting, case: str, body: Body, attribute: str, keys: tuple[str, ...]
) -> None:
    port = _port(member, setting.owned_id)
    attributes = body(setting.owned_subnet, OWNED_CIDR)
    response = _update(member, port["id"], attributes)
    assert response.status_code == 200, response.text
    _assert_has(response.json()["port"], attributes)


def test_turning_port_security_off_on_its_own_network_needs_the_groups_removed(
    member: httpx.Client, setting: Setting
) -> None:
    port = _port(member, setting.owned_id)
    response = _update(member, port["id"], {"port_security_enabled": False})
    assert neutron_error(response, 409, "PortSecurityPortHasSecurityGroup") == (
        "Port has security group associated. Cannot disable port security or IP address until security group is "
        "removed."
    )
    on_shared = _port(member, setting.shared_id)
    refused = _update(member, on_shared["id"], {"port_security_enabled": False})
    assert neutron_error(refused, 403, "PolicyNotAuthorized") == _refusal("update_port", "port_security_enabled")
    allowed = _update(member, port["id"], {"port_security_enabled": False, "security_groups": []})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["port"]["port_security_enabled"] is False


@pytest.mark.parametrize("network", ["shared", "owned"])
def test_only_an_admin_changes_a_mac_address(
    admin: Connection, member: httpx.Client, setting: Setting, network: str
) -> None:
    port = _port(member, setting.shared_id if network == "shared" else setting.owned_id)
    response = _update(member, port["id"], {"mac_address": "fa:16:3e:14:00:05"})
    assert neutron_error(response, 403, "PolicyNotAuthorized") == _refusal("update_port", "mac_address")
    mac = "fa:16:3e:14:00:06" if network == "shared" else "fa:16:3e:14:00:07"
    assert admin.network.update_port(port["id"], mac_address=mac).mac_address == mac


@pytest.mark.parametrize(("case", "attributes", "attribute"), ADMIN_ONLY, ids=_ids(ADMIN_ONLY))
@pytest.mark.parametrize("network", ["shared", "owned"])
def test_update_refuses_binding_attributes_even_to_the_network_owner(
    member: httpx.Client, setting: Setting, network: str, case: str, attributes: dict[str, Any], attribute: str
) -> None:
    port = _port(member, setting.shared_id if network == "shared" else setting.owned_id)
    response = _update(member, port["id"], attributes)
    assert neutron_error(response, 403, "PolicyNotAuthorized") == _refusal("update_port", attribute)


def test_the_network_owner_may_not_update_anothers_port_on_its_network(
    admin: Connection, member: httpx.Client, setting: Setting
) -> None:
    foreign = admin.network.create_port(network_id=setting.owned_id)
    assert neutron_error(_update(member, foreign.id, {"name": "mine"}), 403, "PolicyNotAuthorized") == (
        "rule:update_port is disallowed by policy"
    )
    response = _update(member, foreign.id, {"fixed_ips": [{"subnet_id": setting.owned_subnet}]})
    assert neutron_error(response, 403, "PolicyNotAuthorized") == _refusal("update_port", "fixed_ips", ("subnet_id",))


def test_anothers_port_on_a_shared_network_is_not_found(
    admin: Connection, member: httpx.Client, setting: Setting
) -> None:
    foreign = admin.network.create_port(network_id=setting.shared_id)
    response = _update(member, foreign.id, {"mac_address": "fa:16:3e:14:00:08"})
    assert neutron_error(response, 404, "PortNotFound") == f"Port {foreign.id} could not be found."
