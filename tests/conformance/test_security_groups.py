"""Security groups and rules: the default group, default rules, rule validation, duplicates, in-use checks."""

from __future__ import annotations

from typing import Any

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error


def _shape(rule: Any) -> tuple[Any, ...]:
    return (
        rule["direction"],
        rule["ethertype"],
        rule["protocol"],
        rule["port_range_min"],
        rule["port_range_max"],
        rule["remote_ip_prefix"],
        rule["remote_group_id"],
    )


def test_default_group_of_a_new_project(target: Target) -> None:
    member, project_id = target.member("sgdefault")
    groups = list(member.network.security_groups())
    assert [(g.name, g.project_id) for g in groups] == [("default", project_id)]
    default = groups[0]
    assert default.description == "Default security group"
    assert sorted(_shape(r) for r in default.security_group_rules) == sorted(
        [
            ("egress", "IPv4", None, None, None, None, None),
            ("egress", "IPv6", None, None, None, None, None),
            ("ingress", "IPv4", None, None, None, None, default.id),
            ("ingress", "IPv6", None, None, None, None, default.id),
        ]
    )
    member.close()


def test_crud_cycle(admin: Connection, lab: Lab, name: Any) -> None:
    group = lab.security_group(description="first")
    assert group.description == "first" and group.stateful is True and group.tags == []
    assert sorted(_shape(r) for r in group.security_group_rules) == [
        ("egress", "IPv4", None, None, None, None, None),
        ("egress", "IPv6", None, None, None, None, None),
    ]
    new_name = name("renamed")
    updated = admin.network.update_security_group(group, name=new_name, description="second")
    assert (updated.name, updated.description) == (new_name, "second")
    assert admin.network.get_security_group(group.id).name == new_name
    admin.network.delete_security_group(group)
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.get_security_group(group.id)


def test_rules(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    group = lab.security_group()
    revision = admin.network.get_security_group(group.id).revision_number
    ssh = admin.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="10.0.0.0/8",
    )
    assert (ssh.security_group_id, ssh.direction, ssh.ether_type, ssh.protocol) == (group.id, "ingress", "IPv4", "tcp")
    assert (ssh.port_range_min, ssh.port_range_max, ssh.remote_ip_prefix) == (22, 22, "10.0.0.0/8")
    assert ssh.remote_group_id is None and ssh.project_id == group.project_id
    assert admin.network.get_security_group(group.id).revision_number > revision
    assert ssh.id in [r["id"] for r in admin.network.get_security_group(group.id).security_group_rules]
    assert admin.network.get_security_group_rule(ssh.id).port_range_min == 22

    numeric = admin.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="6", port_range_min=80, port_range_max=80
    )
    assert numeric.protocol == "6"
    icmp = admin.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="icmp", port_range_min=8, port_range_max=0
    )
    assert (icmp.port_range_min, icmp.port_range_max) == (8, 0)
    host_bits = admin.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="udp", remote_ip_prefix="192.168.1.5/24"
    )
    assert host_bits.remote_ip_prefix == "192.168.1.5/24"
    assert raw.get(f"/security-group-rules/{host_bits.id}").json()["security_group_rule"]["normalized_cidr"] == (
        "192.168.1.0/24"
    )
    remote = admin.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", ethertype="IPv6", remote_group_id=group.id
    )
    assert remote.remote_group_id == group.id and remote.ether_type == "IPv6"

    rules = {r.id for r in admin.network.security_group_rules(security_group_id=group.id)}
    assert {ssh.id, numeric.id, icmp.id, host_bits.id, remote.id} <= rules
    admin.network.delete_security_group_rule(ssh)
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.get_security_group_rule(ssh.id)


def test_duplicate_rule_is_a_conflict(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    group = lab.security_group()
    body = {
        "security_group_id": group.id,
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 443,
        "port_range_max": 443,
        "remote_ip_prefix": "0.0.0.0/0",
    }
    first = raw.post("/security-group-rules", json={"security_group_rule": body})
    assert first.status_code == 201
    rule_id = first.json()["security_group_rule"]["id"]
    again = raw.post("/security-group-rules", json={"security_group_rule": body})
    assert neutron_error(again, 409, "SecurityGroupRuleExists") == (
        f"Security group rule already exists. Rule id is {rule_id}."
    )
    egress = [r["id"] for r in group.security_group_rules if r["ethertype"] == "IPv4"][0]
    default = raw.post(
        "/security-group-rules",
        json={"security_group_rule": {"security_group_id": group.id, "direction": "egress", "ethertype": "IPv4"}},
    )
    assert neutron_error(default, 409, "SecurityGroupRuleExists") == (
        f"Security group rule already exists. Rule id is {egress}."
    )


def test_rule_validation(lab: Lab, raw: httpx.Client) -> None:
    group = lab.security_group()

    def post(**attrs: Any) -> httpx.Response:
        return raw.post(
            "/security-group-rules",
            json={"security_group_rule": {"security_group_id": group.id, "direction": "ingress", **attrs}},
        )

    assert neutron_error(
        post(protocol="tcp", port_range_min=30, port_range_max=22), 400, "SecurityGroupInvalidPortRange"
    ) == ("For TCP/UDP protocols, port_range_min must be <= port_range_max")
    assert (
        neutron_error(post(port_range_min=30, port_range_max=40), 400, "SecurityGroupProtocolRequiredWithPorts")
        == "Must also specify protocol if port range is given."
    )
    assert neutron_error(
        post(remote_group_id=group.id, remote_ip_prefix="1.0.0.0/8"), 400, "SecurityGroupMultipleRemoteEntites"
    ) == ("Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.")
    assert (
        neutron_error(post(ethertype="IPv6", remote_ip_prefix="1.0.0.0/8"), 400, "SecurityGroupRuleParameterConflict")
        == "Conflicting value ethertype IPv6 for CIDR 1.0.0.0/8"
    )
    assert neutron_error(post(protocol="foo"), 400, "SecurityGroupRuleInvalidProtocol").startswith(
        "Security group rule protocol foo not supported."
    )
    assert neutron_error(post(protocol="icmp", port_range_min=300), 400, "SecurityGroupInvalidIcmpValue") == (
        "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255."
    )
    bad_direction = raw.post(
        "/security-group-rules", json={"security_group_rule": {"security_group_id": group.id, "direction": "sideways"}}
    )
    assert neutron_error(bad_direction, 400, "HTTPBadRequest") == (
        "Invalid input for direction. Reason: sideways is not in valid_values."
    )
    missing = "00000000-0000-0000-0000-000000000000"
    unknown = raw.post(
        "/security-group-rules", json={"security_group_rule": {"security_group_id": missing, "direction": "ingress"}}
    )
    assert neutron_error(unknown, 404, "SecurityGroupNotFound") == f"Security group {missing} does not exist"
    no_group = raw.post("/security-group-rules", json={"security_group_rule": {"direction": "ingress"}})
    assert neutron_error(no_group, 400, "HTTPBadRequest") == (
        "Failed to parse request. Required attribute 'security_group_id' not specified"
    )


def test_group_rules(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    named_default = raw.post("/security-groups", json={"security_group": {"name": "default"}})
    assert neutron_error(named_default, 409, "SecurityGroupDefaultAlreadyExists") == (
        "Default security group already exists."
    )
    group = lab.security_group()
    default = admin.network.find_security_group("default", project_id=group.project_id)
    rename = raw.put(f"/security-groups/{default.id}", json={"security_group": {"name": "other"}})
    assert neutron_error(rename, 409, "SecurityGroupCannotUpdateDefault") == (
        "Updating default security group not allowed."
    )

    network = lab.network()
    port = lab.port(network, security_group_ids=[group.id])
    in_use = raw.delete(f"/security-groups/{group.id}")
    assert neutron_error(in_use, 409, "SecurityGroupInUse") == f"Security Group {group.id} in use."
    admin.network.delete_port(port)
    admin.network.delete_security_group(group)
