"""What the OVN Northbound database should hold for the provider's resources, as Neutron's OVN driver writes it:
networks as logical switches (provider networks with a localnet port), IPv4 subnets with DHCP as DHCP_Options, ports
as logical switch ports (router ports with their logical router ports), security groups as port groups with ACLs
(and ``neutron_pg_drop`` dropping what no group allows), routers as logical routers with static routes and SNAT,
floating IPs as their ``dnat_and_snat``.

Every row carries ``extnet:owner`` (the unit that makes it: ``network:ID``, ``subnet:ID``, ``port:ID``, ``sg:ID``,
``rule:ID``, ``router:ID``, ``fip:ID``, ``global``), ``extnet:key`` (its identity) and, when it hangs from another row,
``extnet:parent`` (that row's key); a unit is reconciled whole, so a row that its unit no longer wants is found and
removed."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from extnet.provider.store.backend import Record

INTERFACE = "network:router_interface"
GATEWAY = "network:router_gateway"
FLOATING = "network:floatingip"
DROP_GROUP = "neutron_pg_drop"
ACL_PRIORITY = 1002
DROP_PRIORITY = 1001
LEASE_TIME = "43200"  # Neutron's dhcp_lease_duration
OWNER, KEY, PARENT, REVISION = "extnet:owner", "extnet:key", "extnet:parent", "neutron:revision_number"
# the tables whose rows hang from another row: the parent's table and the column that holds them
CHILDREN = {"Logical_Switch_Port": ("Logical_Switch", "ports"), "Logical_Router_Port": ("Logical_Router", "ports"),
            "ACL": ("Port_Group", "acls"), "NAT": ("Logical_Router", "nat"),
            "Logical_Router_Static_Route": ("Logical_Router", "static_routes"),
            "Gateway_Chassis": ("Logical_Router_Port", "gateway_chassis")}  # fmt: skip
TABLES = ("Logical_Switch", "DHCP_Options", "Port_Group", "Logical_Router", *CHILDREN)


@dataclass
class Parent:
    """Where a non-root row hangs: the parent row (table and key) and the column that holds it."""

    table: str
    key: str
    column: str


@dataclass
class Row:
    table: str
    key: str
    owner: str
    columns: dict[str, Any]
    parent: Parent | None = None
    refs: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # column -> (table, keys)
    member_of: list[Parent] = field(default_factory=list)  # set columns of other units' rows that hold this row

    def __post_init__(self) -> None:
        external = dict(self.columns.get("external_ids", {}))
        external.update({OWNER: self.owner, KEY: self.key})
        if self.parent is not None:
            external[PARENT] = self.parent.key
        self.columns["external_ids"] = external


def switch_name(network_id: str) -> str:
    return f"neutron-{network_id}"


def group_name(sg_id: str) -> str:
    return "pg_" + sg_id.replace("-", "_")


def router_name(router_id: str) -> str:
    return f"neutron-{router_id}"


def network_rows(network: Record) -> list[Row]:
    name = switch_name(network["id"])
    rows = [Row("Logical_Switch", name, f"network:{network['id']}", {
        "name": name,
        "external_ids": {"neutron:network_name": network["name"], REVISION: str(network["revision_number"]),
                         "neutron:mtu": str(network["mtu"])},
        "other_config": {"mcast_snoop": "false", "mcast_flood_unregistered": "false"},
    })]  # fmt: skip
    if network["network_type"] in ("flat", "vlan") and network["physical_network"]:
        localnet = f"provnet-{network['id']}"
        rows.append(Row("Logical_Switch_Port", localnet, f"network:{network['id']}", {
            "name": localnet, "type": "localnet", "addresses": ["unknown"],
            "options": {"network_name": network["physical_network"], "mcast_flood": "false"},
            "tag": [network["segmentation_id"]] if network["network_type"] == "vlan" else [],
        }, Parent("Logical_Switch", name, "ports")))  # fmt: skip
    return rows


def serves_dhcp(subnet: Record) -> bool:
    return subnet["ip_version"] == 4 and bool(subnet["enable_dhcp"])


def dhcp_key(subnet_id: str) -> str:
    return f"dhcp:{subnet_id}"


def dhcp_row(network: Record, subnet: Record) -> Row:
    cidr = ipaddress.ip_network(subnet["cidr"])
    gateway = subnet["gateway_ip"]
    options = {"lease_time": LEASE_TIME, "mtu": str(network["mtu"]), "server_id": gateway or str(cidr[1]),
               "server_mac": server_mac(subnet["id"])}  # fmt: skip
    routes = [f"{destination},{nexthop}" for destination, nexthop in subnet["host_routes"]]
    if gateway:
        options["router"] = gateway
        if routes:
            routes.append(f"0.0.0.0/0,{gateway}")
    if routes:
        options["classless_static_route"] = "{" + ", ".join(routes) + "}"
    if subnet["dns_nameservers"]:
        options["dns_server"] = "{" + ", ".join(subnet["dns_nameservers"]) + "}"
    return Row("DHCP_Options", dhcp_key(subnet["id"]), f"subnet:{subnet['id']}", {
        "cidr": str(cidr), "options": options,
        "external_ids": {"subnet_id": subnet["id"], REVISION: str(subnet["revision_number"])},
    })  # fmt: skip


def server_mac(subnet_id: str) -> str:
    """The MAC OVN answers DHCP from: fixed per subnet (Neutron keeps a random one; this one needs no state)."""
    digest = hashlib.sha256(subnet_id.encode()).digest()
    return "fa:16:3e:" + ":".join(f"{byte:02x}" for byte in digest[:3])


def port_rows(
    port: Record, dhcp_subnets: set[str], cidrs: dict[str, str], gateways: list[str] | None = None
) -> list[Row]:
    """The port's logical switch port (and, for a router's port, its logical router port); ``dhcp_subnets``: the
    subnets with DHCP_Options; ``cidrs``: the prefix of each subnet the port has an address on; ``gateways``: the
    chassis a router's gateway port may live on, most preferred first."""
    owner, switch = f"port:{port['id']}", switch_name(port["network_id"])
    ips = [ip["ip_address"] for ip in port["fixed_ips"]]
    external = {"neutron:device_id": port["device_id"], "neutron:device_owner": port["device_owner"],
                "neutron:port_name": port["name"], "neutron:network_name": switch, "neutron:project_id":
                port["project_id"], REVISION: str(port["revision_number"]),
                "neutron:cidrs": " ".join(f"{ip['ip_address']}/{_prefix(cidrs, ip)}" for ip in port["fixed_ips"]),
                "neutron:security_group_ids": " ".join(sorted(port["security_groups"]))}  # fmt: skip
    columns: dict[str, Any] = {"name": port["id"], "external_ids": external, "enabled": [bool(port["admin_state_up"])]}
    if port["device_owner"] in (INTERFACE, GATEWAY):
        return _router_port_rows(port, columns, switch, cidrs, gateways or [])
    address = " ".join([port["mac_address"], *ips])
    security = port["port_security_enabled"]
    pairs = [f"{pair.get('mac_address') or port['mac_address']} {pair['ip_address']}"
             for pair in port["allowed_address_pairs"]]  # fmt: skip
    columns.update(type="", addresses=[address] if security else [address, "unknown"],
                   port_security=[address, *pairs] if security else [],
                   options={"requested-chassis": port["host_id"]} if port["host_id"] else {})  # fmt: skip
    dhcp = next((ip["subnet_id"] for ip in port["fixed_ips"] if ip["subnet_id"] in dhcp_subnets), None)
    refs = {"dhcpv4_options": ("DHCP_Options", [dhcp_key(dhcp)] if dhcp else [])}
    groups = [DROP_GROUP, *map(group_name, sorted(port["security_groups"]))] if security else []
    member_of = [Parent("Port_Group", group, "ports") for group in groups]
    return [Row("Logical_Switch_Port", port["id"], owner, columns, Parent("Logical_Switch", switch, "ports"), refs,
                member_of)]  # fmt: skip


def _prefix(cidrs: dict[str, str], ip: Record) -> str:
    return cidrs.get(ip["subnet_id"], "32/32").split("/")[1]


def _router_port_rows(port: Record, columns: dict[str, Any], switch: str, cidrs: dict[str, str],
                      gateways: list[str]) -> list[Row]:  # fmt: skip
    owner, lrp = f"port:{port['id']}", f"lrp-{port['id']}"
    options = {"router-port": lrp}
    if port["device_owner"] == GATEWAY:
        options["nat-addresses"] = "router"
    columns.update(type="router", addresses=["router"], port_security=[], options=options)
    router_port = Row("Logical_Router_Port", lrp, owner, {
        "name": lrp, "mac": port["mac_address"],
        "networks": [f"{ip['ip_address']}/{_prefix(cidrs, ip)}" for ip in port["fixed_ips"]],
        "external_ids": {"neutron:router_name": port["device_id"], REVISION: str(port["revision_number"]),
                         "neutron:is_ext_gw": str(port["device_owner"] == GATEWAY)},
    }, Parent("Logical_Router", router_name(port["device_id"]), "ports"))  # fmt: skip
    rows = [Row("Logical_Switch_Port", port["id"], owner, columns, Parent("Logical_Switch", switch, "ports")),
            router_port]  # fmt: skip
    if port["device_owner"] == GATEWAY:  # a distributed gateway port: centralized on the best chassis alive
        rows += [Row("Gateway_Chassis", f"{lrp}_{chassis}", owner, {
            "name": f"{lrp}_{chassis}", "chassis_name": chassis, "priority": len(gateways) - index,
            "external_ids": {},
        }, Parent("Logical_Router_Port", lrp, "gateway_chassis"))
            for index, chassis in enumerate(gateways)]  # fmt: skip
    return rows


def group_rows(group: Record) -> list[Row]:
    name = group_name(group["id"])
    return [Row("Port_Group", name, f"sg:{group['id']}", {
        "name": name,
        "external_ids": {"neutron:security_group_id": group["id"], REVISION: str(group["revision_number"])},
    })]  # fmt: skip


def rule_rows(group: Record, rule: Record) -> list[Row]:
    name = group_name(group["id"])
    return [Row("ACL", f"acl:{rule['id']}", f"rule:{rule['id']}", {
        "direction": "to-lport" if rule["direction"] == "ingress" else "from-lport",
        "priority": ACL_PRIORITY, "match": acl_match(name, rule),
        "action": "allow-related" if group.get("stateful", True) else "allow-stateless", "name": [], "log": False,
        "external_ids": {"neutron:security_group_rule_id": rule["id"], REVISION: str(rule["revision_number"])},
    }, Parent("Port_Group", name, "acls"))]  # fmt: skip


def drop_rows() -> list[Row]:
    """The group every port with port security is in: what no security group allows is dropped."""
    rows = [Row("Port_Group", DROP_GROUP, "global", {"name": DROP_GROUP, "external_ids": {}})]
    for direction, side in (("to-lport", "outport"), ("from-lport", "inport")):
        rows.append(Row("ACL", f"acl:drop:{direction}", "global", {
            "direction": direction, "priority": DROP_PRIORITY, "match": f"{side} == @{DROP_GROUP} && ip",
            "action": "drop", "name": [], "log": False, "external_ids": {},
        }, Parent("Port_Group", DROP_GROUP, "acls")))  # fmt: skip
    return rows


def acl_match(group: str, rule: Record) -> str:
    ingress = rule["direction"] == "ingress"
    v6 = rule["ethertype"] == "IPv6"
    ip = "ip6" if v6 else "ip4"
    parts = [f"outport == @{group}" if ingress else f"inport == @{group}", ip]
    remote = "src" if ingress else "dst"
    if rule["remote_ip_prefix"]:
        parts.append(f"{ip}.{remote} == {rule['normalized_cidr'] or rule['remote_ip_prefix']}")
    elif rule["remote_group_id"]:
        parts.append(f"{ip}.{remote} == ${group_name(rule['remote_group_id'])}_{ip}")
    parts += _protocol_match(rule, v6)
    return " && ".join(parts)


_NAMED = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58}


def _protocol_match(rule: Record, v6: bool) -> list[str]:
    protocol = rule["protocol"]
    if protocol is None:
        return []
    number = _NAMED.get(str(protocol).lower())
    if number is None:
        number = int(protocol) if str(protocol).isdigit() else None
    low, high = rule["port_range_min"], rule["port_range_max"]
    if number in (6, 17, 132):
        name = {6: "tcp", 17: "udp", 132: "sctp"}[number]
        if low is None:
            return [name]
        if high is None or high == low:
            return [name, f"{name}.dst == {low}"]
        return [name, f"{name}.dst >= {low}", f"{name}.dst <= {high}"]
    if number in (1, 58):
        name = "icmp6" if v6 or number == 58 else "icmp4"
        parts = [name]
        if low is not None:
            parts.append(f"{name}.type == {low}")
        if high is not None:
            parts.append(f"{name}.code == {high}")
        return parts
    return [f"ip.proto == {number if number is not None else protocol}"]


def router_rows(router: Record, interfaces: list[Record], cidrs: dict[str, str], gateway: Record | None,
                external_gateway_ip: str | None) -> list[Row]:  # fmt: skip
    """The logical router, its static routes and its SNAT (its ports are their ports' rows)."""
    name, owner = router_name(router["id"]), f"router:{router['id']}"
    rows = [Row("Logical_Router", name, owner, {
        "name": name, "enabled": [bool(router["admin_state_up"])],
        "external_ids": {"neutron:router_name": router["name"], REVISION: str(router["revision_number"])},
    })]  # fmt: skip
    routes = [(route["destination"], route["nexthop"]) for route in router["routes"]]
    if gateway is not None and external_gateway_ip:
        routes.append(("0.0.0.0/0", external_gateway_ip))
    for prefix, nexthop in routes:
        rows.append(Row("Logical_Router_Static_Route", f"route:{router['id']}:{prefix}:{nexthop}", owner, {
            "ip_prefix": prefix, "nexthop": nexthop,
            "external_ids": {"neutron:is_ext_gw": str(prefix == "0.0.0.0/0" and gateway is not None)},
        }, Parent("Logical_Router", name, "static_routes")))  # fmt: skip
    if gateway is not None and router["enable_snat"] and gateway["fixed_ips"]:
        external_ip = gateway["fixed_ips"][0]["ip_address"]
        for port in interfaces:
            for ip in port["fixed_ips"]:
                cidr = cidrs.get(ip["subnet_id"])
                if cidr and ipaddress.ip_network(cidr).version == 4:
                    rows.append(Row("NAT", f"snat:{router['id']}:{cidr}", owner, {
                        "type": "snat", "logical_ip": cidr, "external_ip": external_ip,
                        "external_ids": {"neutron:router_name": name},
                    }, Parent("Logical_Router", name, "nat")))  # fmt: skip
    return rows


def floating_ip_rows(fip: Record) -> list[Row]:
    """A floating IP associated through a router: its ``dnat_and_snat`` on that logical router (centralized, on the
    router's gateway chassis, as Neutron's OVN driver writes it without distributed floating IPs)."""
    if not fip["router_id"] or not fip["fixed_ip_address"]:
        return []
    name = router_name(fip["router_id"])
    return [Row("NAT", f"fip:{fip['id']}", f"fip:{fip['id']}", {
        "type": "dnat_and_snat", "logical_ip": fip["fixed_ip_address"], "external_ip": fip["floating_ip_address"],
        "external_ids": {"neutron:fip_id": fip["id"], "neutron:router_name": name,
                         "neutron:fip_port_id": fip["fixed_port_id"] or "", REVISION: str(fip["revision_number"])},
    }, Parent("Logical_Router", name, "nat"))]  # fmt: skip
