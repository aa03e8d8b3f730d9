"""Quotas: the quota API (show, update, delete, defaults, details, the list) with Neutron's policy and validation,
and OverQuota on single and bulk creates. Every test sets explicit limits on a fresh project: none depends on the
defaults (Neutron's differ from extnet's)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error

OURS = ("network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule")
EXTENSIONS = {
    "quotas": ("Quota management support", "Expose functions for quotas management per project",
               "2012-07-29T10:00:00-00:00"),
    "quota_details": ("Quota details management support", "Expose functions for quotas usage statistics per project",
                      "2017-02-10T10:00:00-00:00"),
    "quota-check-limit": ("Quota engine limit check",
                          "Support for checking the resource usage before applying a new quota limit",
                          "2021-09-08T16:00:00-00:00"),
    "quota-check-limit-default": ("Quota engine limit check by default", "By default, the Neutron quota engine "
                                  "checks the resource usage before applying a new quota limit",
                                  "2024-08-21T16:00:00-00:00"),
}  # fmt: skip
UNLIMITED = {name: -1 for name in OURS}


@dataclass
class Member:
    """A non-admin user of a fresh project, its project and a plain HTTP client as that user."""

    conn: Connection
    project_id: str
    raw: httpx.Client


@pytest.fixture
def member(target: Target, raw: httpx.Client) -> Iterator[Member]:
    conn, project_id = target.member("quota")
    with target.raw(token=conn.session.get_token()) as client:
        yield Member(conn, project_id, client)
    raw.delete(f"/quotas/{project_id}")


def set_quota(raw: httpx.Client, project_id: str, **limits: Any) -> dict[str, Any]:
    response = raw.put(f"/quotas/{project_id}", json={"quota": limits})
    assert response.status_code == 200, response.text
    quota: dict[str, Any] = response.json()["quota"]
    return quota


def over_quota(response: httpx.Response, resource: str) -> None:
    assert neutron_error(response, 409, "OverQuota") == f"Quota exceeded for resources: ['{resource}']."


def ours(quota: dict[str, Any]) -> dict[str, Any]:
    return {name: quota[name] for name in OURS}


def count(admin: Connection, what: str, project_id: str) -> int:
    return sum(1 for _ in getattr(admin.network, what)(project_id=project_id))


# --- the API -----------------------------------------------------------------------------------------------------


def test_extensions(raw: httpx.Client) -> None:
    for alias, (name, description, updated) in EXTENSIONS.items():
        response = raw.get(f"/extensions/{alias}")
        assert response.status_code == 200, response.text
        assert response.json()["extension"] == {"name": name, "alias": alias, "description": description,
                                                "updated": updated, "links": []}  # fmt: skip


def test_update_show_list_delete(admin: Connection, raw: httpx.Client, member: Member) -> None:
    project = member.project_id
    defaults = ours(raw.get(f"/quotas/{project}/default").json()["quota"])
    assert ours(raw.get(f"/quotas/{project}").json()["quota"]) == defaults
    assert project not in {quota.project_id for quota in admin.network.quotas()}

    updated = admin.network.update_quota(project, networks=5, ports=-1, floating_ips=7, security_group_rules=40)
    assert (updated.networks, updated.ports, updated.floating_ips, updated.security_group_rules) == (5, -1, 7, 40)
    shown = admin.network.get_quota(project)
    assert (shown.networks, shown.ports, shown.floating_ips, shown.subnets) == (5, -1, 7, defaults["subnet"])
    default = admin.network.get_quota_default(project)
    assert (default.networks, default.floating_ips) == (defaults["network"], defaults["floatingip"])

    listed = [quota for quota in raw.get("/quotas").json()["quotas"] if quota["project_id"] == project]
    assert len(listed) == 1 and listed[0]["tenant_id"] == project
    assert ours(listed[0]) == {**defaults, "network": 5, "port": -1, "floatingip": 7, "security_group_rule": 40}
    assert [q.networks for q in admin.network.quotas() if q.project_id == project] == [5]

    admin.network.update_quota(project, networks=-1)  # a limit equal to the default still lists the project
    assert project in {quota.project_id for quota in admin.network.quotas()}

    admin.network.delete_quota(project)
    assert ours(raw.get(f"/quotas/{project}").json()["quota"]) == defaults
    assert project not in {quota.project_id for quota in admin.network.quotas()}
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.delete_quota(project, ignore_missing=False)
    message = neutron_error(raw.delete(f"/quotas/{project}"), 404, "TenantQuotaNotFound")
    assert message == f"Quota for project {project} could not be found."


def test_any_project_id(raw: httpx.Client, name: Any) -> None:
    """Neutron checks no project: limits of a project Keystone does not know are kept and shown."""
    project = name("no-such-project")
    try:
        assert set_quota(raw, project, network=3)["network"] == 3
        assert raw.get(f"/quotas/{project}").json()["quota"]["network"] == 3
    finally:
        assert raw.delete(f"/quotas/{project}").status_code == 204


def test_details(admin: Connection, raw: httpx.Client, member: Member, lab: Lab) -> None:
    project = member.project_id
    set_quota(raw, project, network=3, floatingip=4, security_group_rule=-1, port=-1)
    network = lab.network(member.conn)
    lab.network(member.conn)
    lab.port(network, member.conn)
    details = member.raw.get(f"/quotas/{project}/details").json()["quota"]
    assert details["network"] == {"limit": 3, "used": 2, "reserved": 0}
    assert details["floatingip"] == {"limit": 4, "used": 0, "reserved": 0}
    assert details["port"] == {"limit": -1, "used": 1, "reserved": 0}
    assert details["security_group"]["used"] == 1  # the default group, made for the port
    assert details["security_group_rule"]["used"] == 4
    assert set(OURS) <= set(details)
    sdk = admin.network.get_quota(project, details=True)
    assert sdk.networks == {"limit": 3, "used": 2, "reserved": 0}


def test_non_admin(raw: httpx.Client, member: Member, target: Target, name: Any) -> None:
    mine, client = member.project_id, member.raw
    other = target.admin.identity.create_project(name=name("quota-other"), domain_id="default").id
    set_quota(raw, mine, network=9)
    assert client.get(f"/quotas/{mine}").json()["quota"]["network"] == 9
    assert client.get(f"/quotas/{mine}/details").json()["quota"]["network"]["limit"] == 9
    assert client.get(f"/quotas/{mine}/default").status_code == 200
    assert member.conn.network.get_quota(mine).networks == 9
    assert client.get("/quotas/project").json() == {"project": {"project_id": mine}}
    assert client.get("/quotas/tenant").json() == {"tenant": {"tenant_id": mine}}

    get_quota = "rule:get_quota is disallowed by policy"
    assert neutron_error(client.get(f"/quotas/{other}"), 403, "PolicyNotAuthorized") == get_quota
    assert neutron_error(client.get(f"/quotas/{other}/default"), 403, "PolicyNotAuthorized") == get_quota
    assert neutron_error(client.get("/quotas"), 403, "PolicyNotAuthorized") == get_quota
    assert neutron_error(client.get(f"/quotas/{other}/details"), 403, "AdminRequired") == (
        "User does not have admin privileges: Only admin is authorized to access quotas for another project."
    )
    refused = client.put(f"/quotas/{mine}", json={"quota": {"network": 100}})
    assert neutron_error(refused, 403, "PolicyNotAuthorized") == "rule:update_quota is disallowed by policy"
    refused = client.delete(f"/quotas/{mine}")
    assert neutron_error(refused, 403, "PolicyNotAuthorized") == "rule:delete_quota is disallowed by policy"
    assert raw.get(f"/quotas/{mine}").json()["quota"]["network"] == 9


@pytest.mark.parametrize(
    ("value", "status", "type_", "message"),
    [
        ("abc", 400, "InvalidInput", "Invalid input for operation: 'abc' is not an integer."),
        (None, 400, "InvalidInput", "Invalid input for operation: 'None' is not an integer."),
        ("1.5", 400, "InvalidInput", "Invalid input for operation: '1.5' is not an integer."),
        (-2, 400, "HTTPBadRequest", "Invalid input for network. Reason: '-2' is too small - must be at least '-1'."),
        (2**31, 400, "HTTPBadRequest",
         "Invalid input for network. Reason: '2147483648' is too large - must be no larger than '2147483647'."),
    ],
)  # fmt: skip
def test_invalid_limits(raw: httpx.Client, member: Member, value: Any, status: int, type_: str, message: str) -> None:
    set_quota(raw, member.project_id, network=4, subnet=5)
    response = raw.put(f"/quotas/{member.project_id}", json={"quota": {"subnet": 2, "network": value}})
    assert neutron_error(response, status, type_) == message
    quota = raw.get(f"/quotas/{member.project_id}").json()["quota"]
    assert (quota["network"], quota["subnet"]) == (4, 5)  # nothing changed


def test_limit_conversions_and_unknown(raw: httpx.Client, member: Member) -> None:
    project = member.project_id
    assert set_quota(raw, project, network="7")["network"] == 7
    assert set_quota(raw, project, network=1.5)["network"] == 1
    assert set_quota(raw, project, network=2**31 - 1)["network"] == 2**31 - 1
    assert set_quota(raw, project, network=-1, check_limit=True)["network"] == -1
    assert set_quota(raw, project)["network"] == -1
    response = raw.put(f"/quotas/{project}", json={"quota": {"bogus": 3}})
    assert neutron_error(response, 400, "HTTPBadRequest") == "Unrecognized attribute(s) 'bogus'"
    response = raw.post("/quotas", json={"quota": {"network": 3}})
    assert neutron_error(response, 501, "HTTPNotImplemented") == "POST requests are not supported on this resource."
    assert neutron_error(raw.get(f"/quotas/{project}/bogus"), 404, "HTTPNotFound")
    assert neutron_error(raw.put(f"/quotas/{project}/details", json={"quota": {}}), 404, "HTTPNotFound")


def test_limit_below_usage(raw: httpx.Client, member: Member, lab: Lab) -> None:
    """quota-check-limit-default: a limit below what the project uses is refused (``check_limit`` or not), unless
    ``force`` is true; -1 is never checked."""
    project = member.project_id
    set_quota(raw, project, network=-1)
    lab.network(member.conn)
    lab.network(member.conn)
    message = "Quota limit 1 for network must be greater than or equal to already used 2"
    for extra in ({}, {"check_limit": True}, {"check_limit": False}, {"force": "true"}):
        response = raw.put(f"/quotas/{project}", json={"quota": {"network": 1, **extra}})
        assert neutron_error(response, 400, "HTTPBadRequest") == message
    assert raw.get(f"/quotas/{project}").json()["quota"]["network"] == -1
    assert set_quota(raw, project, network=2)["network"] == 2
    assert set_quota(raw, project, network=0, force=True)["network"] == 0


# --- enforcement -------------------------------------------------------------------------------------------------


def test_networks(admin: Connection, raw: httpx.Client, member: Member, lab: Lab) -> None:
    project = member.project_id
    set_quota(raw, project, network=2)
    lab.network(member.conn)
    bulk = member.raw.post("/networks", json={"networks": [{"name": "q-a"}, {"name": "q-b"}]})
    over_quota(bulk, "network")
    assert count(admin, "networks", project) == 1  # nothing of the bulk was created
    lab.network(member.conn)
    over_quota(member.raw.post("/networks", json={"network": {"name": "q-c"}}), "network")
    # the admin creating in the project counts against the project's quota too
    over_quota(raw.post("/networks", json={"network": {"name": "q-d", "project_id": project}}), "network")
    set_quota(raw, project, network=-1)
    lab.network(member.conn)
    assert count(admin, "networks", project) == 3


def test_admin_project_is_enforced(admin: Connection, raw: httpx.Client) -> None:
    """The admin's own project has quotas too: a router limit of what it has now refuses one more."""
    project = admin.current_project_id
    had = count(admin, "routers", project)
    listed = project in {quota["project_id"] for quota in raw.get("/quotas").json()["quotas"]}
    before = raw.get(f"/quotas/{project}").json()["quota"]["router"]
    set_quota(raw, project, router=had)
    try:
        over_quota(raw.post("/routers", json={"router": {"name": "q-admin"}}), "router")
    finally:
        if listed:
            set_quota(raw, project, router=before)
        else:
            assert raw.delete(f"/quotas/{project}").status_code == 204


def test_subnets(admin: Connection, raw: httpx.Client, member: Member, lab: Lab) -> None:
    project = member.project_id
    set_quota(raw, project, network=-1, subnet=1)
    network = lab.network(member.conn)
    lab.subnet(network, "10.91.0.0/24", member.conn)
    over_quota(member.raw.post("/subnets", json={"subnet": {"network_id": network.id, "cidr": "10.91.1.0/24",
                                                            "ip_version": 4}}), "subnet")  # fmt: skip
    set_quota(raw, project, subnet=2)
    items = [{"network_id": network.id, "cidr": f"10.91.{n}.0/24", "ip_version": 4} for n in (2, 3)]
    over_quota(member.raw.post("/subnets", json={"subnets": items}), "subnet")
    assert count(admin, "subnets", project) == 1
    set_quota(raw, project, subnet=-1)
    assert member.raw.post("/subnets", json={"subnets": items}).status_code == 201


def test_ports(admin: Connection, raw: httpx.Client, member: Member, lab: Lab) -> None:
    project = member.project_id
    set_quota(raw, project, network=-1, subnet=-1, port=2, security_group=-1, security_group_rule=-1)
    network = lab.network(member.conn)
    lab.subnet(network, "10.92.0.0/24", member.conn, enable_dhcp=False)
    lab.port(network, member.conn)
    bulk = member.raw.post("/ports", json={"ports": [{"network_id": network.id}, {"network_id": network.id}]})
    over_quota(bulk, "port")
    assert count(admin, "ports", project) == 1
    lab.port(network, member.conn)
    over_quota(member.raw.post("/ports", json={"port": {"network_id": network.id}}), "port")
    set_quota(raw, project, port=-1)
    assert member.raw.post("/ports", json={"ports": [{"network_id": network.id}] * 2}).status_code == 201


def test_routers(admin: Connection, raw: httpx.Client, member: Member, lab: Lab) -> None:
    project = member.project_id
    set_quota(raw, project, router=1)
    lab.router(member.conn)
    over_quota(member.raw.post("/routers", json={"router": {"name": "q-r"}}), "router")
    assert count(admin, "routers", project) == 1
    set_quota(raw, project, router=2)  # (Neutron's routers have no bulk create)
    lab.router(member.conn)
    over_quota(member.raw.post("/routers", json={"router": {"name": "q-r"}}), "router")
    set_quota(raw, project, router=-1)
    lab.router(member.conn)
    assert count(admin, "routers", project) == 3


def test_security_groups(admin: Connection, raw: httpx.Client, member: Member, lab: Lab) -> None:
    project = member.project_id
    set_quota(raw, project, security_group=0, security_group_rule=-1)
    # the default group is made on first use whatever the group quota (Neutron checks only its rules)
    listed = member.raw.get("/security-groups")
    assert listed.status_code == 200, listed.text
    assert [group["name"] for group in listed.json()["security_groups"]] == ["default"]
    over_quota(member.raw.post("/security-groups", json={"security_group": {"name": "q-sg"}}), "security_group")
    set_quota(raw, project, security_group=2)
    lab.security_group(member.conn)
    bulk = member.raw.post("/security-groups", json={"security_groups": [{"name": "q-s1"}, {"name": "q-s2"}]})
    over_quota(bulk, "security_group")
    assert count(admin, "security_groups", project) == 2
    set_quota(raw, project, security_group=-1)
    lab.security_group(member.conn)


def test_security_group_rules(admin: Connection, raw: httpx.Client, member: Member, lab: Lab) -> None:
    project = member.project_id
    set_quota(raw, project, security_group=-1, security_group_rule=-1)
    group = lab.security_group(member.conn)  # with the default group: 4 + 2 rules
    assert count(admin, "security_group_rules", project) == 6
    set_quota(raw, project, security_group_rule=7)

    def rule(port: int) -> dict[str, Any]:
        return {"security_group_id": group.id, "direction": "ingress", "protocol": "tcp", "port_range_min": port,
                "port_range_max": port}  # fmt: skip

    assert member.raw.post("/security-group-rules", json={"security_group_rule": rule(22)}).status_code == 201
    over_quota(member.raw.post("/security-group-rules", json={"security_group_rule": rule(23)}), "security_group_rule")
    set_quota(raw, project, security_group_rule=8)
    bulk = member.raw.post("/security-group-rules", json={"security_group_rules": [rule(24), rule(25)]})
    over_quota(bulk, "security_group_rule")
    assert count(admin, "security_group_rules", project) == 7
    # a new group brings two egress rules: 7 + 2 > 8
    over_quota(member.raw.post("/security-groups", json={"security_group": {"name": "q-sg"}}), "security_group_rule")
    set_quota(raw, project, security_group_rule=-1)
    assert member.raw.post("/security-group-rules", json={"security_group_rules": [rule(24), rule(25)]}).status_code \
        == 201  # fmt: skip


def test_default_group_rules_over_quota(raw: httpx.Client, member: Member) -> None:
    """The default group's four rules must fit the rule quota: else the request that would make it fails (even a
    list), and no group is made."""
    project = member.project_id
    set_quota(raw, project, security_group=-1, security_group_rule=3)
    over_quota(member.raw.get("/security-groups"), "security_group_rule")
    over_quota(member.raw.post("/security-groups", json={"security_group": {"name": "q-sg"}}), "security_group_rule")
    set_quota(raw, project, security_group_rule=5)  # the default group fits, a new group's two more rules not
    over_quota(member.raw.post("/security-groups", json={"security_group": {"name": "q-sg"}}), "security_group_rule")
    groups = member.raw.get("/security-groups").json()["security_groups"]
    assert [group["name"] for group in groups] == ["default"]


def test_no_500s(raw: httpx.Client, member: Member, target: Target) -> None:
    """Where Neutron 29 answers 500 (a body without ``quota``, PUT on the collection) or treats a request as another
    (DELETE on the collection lists, POST on a project shows), extnet refuses it plainly."""
    if not target.is_extnet:
        pytest.skip("Neutron 29 answers these with a 500 or as a GET (docs/provider.md, deliberate differences)")
    project = member.project_id
    for body in ({"quotas": {"network": 3}}, {"quota": 3}, [1]):
        response = raw.put(f"/quotas/{project}", json=body)
        assert neutron_error(response, 400, "HTTPBadRequest") == "Unable to find 'quota' in request body"
    assert neutron_error(raw.put("/quotas", json={"quota": {"network": 3}}), 405, "HTTPMethodNotAllowed")
    assert neutron_error(raw.delete("/quotas"), 405, "HTTPMethodNotAllowed")
    assert neutron_error(raw.post(f"/quotas/{project}", json={"quota": {"network": 3}}), 405, "HTTPMethodNotAllowed")
    assert raw.get(f"/quotas/{project}").json()["quota"]["network"] != 3
    long = "p" * 256
    response = raw.put(f"/quotas/{long}", json={"quota": {"network": 3}})
    assert neutron_error(response, 400, "HTTPBadRequest") == f"'{long}' exceeds maximum length of 255"
