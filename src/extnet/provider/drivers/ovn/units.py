"""From the SQL store to the OVN Northbound database: which units a committed change touches, and what each unit's
rows should be, read in one transaction. Units go to OVN in dependency order (a switch before its ports, a port
group before its rules, a router before its ports and its floating IPs)."""

from __future__ import annotations

from collections.abc import Iterable

from extnet.common.progress import ProgressCallback, no_progress
from extnet.provider.drivers.base import Changes
from extnet.provider.drivers.ovn import desired
from extnet.provider.drivers.ovn.desired import GATEWAY, INTERFACE, Row
from extnet.provider.store.backend import AllOf, In, Kind, Query, Record, Tx

ORDER = ("global", "network", "subnet", "sg", "rule", "router", "port", "fip")
KINDS = {"network": Kind.NETWORK, "subnet": Kind.SUBNET, "port": Kind.PORT, "sg": Kind.SECURITY_GROUP,
         "rule": Kind.SECURITY_GROUP_RULE, "router": Kind.ROUTER, "fip": Kind.FLOATINGIP}  # fmt: skip


def touched(tx: Tx, changes: Changes) -> set[str]:
    """The units to reconcile after ``changes``: the changed resources and those whose rows depend on them."""
    units = {f"{name}:{id_}" for name, kind in KINDS.items() for id_ in changes.of(kind)}
    for network_id in changes.of(Kind.NETWORK):  # the MTU is in its subnets' DHCP options
        units |= {f"subnet:{s['id']}" for s in _find(tx, Kind.SUBNET, In("network_id", (network_id,)))}
    for subnet_id in changes.of(Kind.SUBNET):  # its ports' DHCP options and address prefixes
        units |= {f"port:{p['id']}" for p in _find(tx, Kind.PORT, In("fixed_ips.subnet_id", (subnet_id,)))}
    for port_id in changes.of(Kind.PORT):
        port = tx.get(Kind.PORT, port_id, want=frozenset({"device_id", "device_owner"}))
        if port is not None and port["device_owner"] in (INTERFACE, GATEWAY):
            units.add(f"router:{port['device_id']}")
    for rule_id in changes.of(Kind.SECURITY_GROUP_RULE):
        rule = tx.get(Kind.SECURITY_GROUP_RULE, rule_id)
        if rule is not None:
            units.add(f"sg:{rule['security_group_id']}")
    if units:
        units.add("global")
    return units


def changes_of(chosen: Iterable[str]) -> Changes:
    """The units as changes of their resources (``global`` has none)."""
    changes = Changes()
    for unit in chosen:
        name, _, id_ = unit.partition(":")
        if name in KINDS:
            changes.add(KINDS[name], [id_])
    return changes


def everything(tx: Tx) -> set[str]:
    units = {"global"}
    for name, kind in KINDS.items():
        units |= {f"{name}:{r['id']}" for r in tx.find(kind, Query(want=frozenset({"id"}))).records}
    return units


def ordered(units: Iterable[str]) -> list[str]:
    return sorted(units, key=lambda unit: (ORDER.index(unit.split(":", 1)[0]), unit))


def rows_of(tx: Tx, units: Iterable[str], progress: ProgressCallback = no_progress) -> dict[str, list[Row]]:
    """{unit: its rows}, in dependency order; a unit whose resource is gone has none (its rows are removed)."""
    chosen = ordered(units)
    rows: dict[str, list[Row]] = {}
    for done, unit in enumerate(chosen, 1):
        rows[unit] = _rows(tx, unit)
        progress("reading the API's resources", done, len(chosen))
    return rows


def _rows(tx: Tx, unit: str) -> list[Row]:
    name, _, id_ = unit.partition(":")
    if name == "global":
        return desired.drop_rows()
    record = tx.get(KINDS[name], id_)
    if record is None:
        return []
    if name == "network":
        return desired.network_rows(record)
    if name == "subnet":
        network = tx.get(Kind.NETWORK, record["network_id"])
        return [desired.dhcp_row(network, record)] if network and desired.serves_dhcp(record) else []
    if name == "sg":
        return desired.group_rows(record)
    if name == "rule":
        group = tx.get(Kind.SECURITY_GROUP, record["security_group_id"])
        return desired.rule_rows(group, record) if group else []
    if name == "router":
        return _router_rows(tx, record)
    if name == "fip":
        return desired.floating_ip_rows(record)
    return _port_rows(tx, record)


def _port_rows(tx: Tx, port: Record) -> list[Row]:
    if port["device_owner"] == desired.FLOATING:
        return []  # a floating IP's address is its router's NAT, not a switch port (as Neutron's OVN driver skips it)
    subnets = _subnets(tx, [ip["subnet_id"] for ip in port["fixed_ips"]])
    dhcp = {s["id"] for s in subnets if desired.serves_dhcp(s)}
    gateways = _gateway_chassis(tx) if port["device_owner"] == GATEWAY else None
    return desired.port_rows(port, dhcp, {s["id"]: s["cidr"] for s in subnets}, gateways)


def _gateway_chassis(tx: Tx) -> list[str]:
    """The chassis a router's gateway may live on: those marked ``enable-chassis-as-gw`` (Neutron's rule), else,
    where none is marked, every chassis; by name."""
    agents = _find(tx, Kind.AGENT, In("agent_type", ("OVN Controller agent",)))
    configs = [agent.get("configurations") or {} for agent in agents]
    names = {str(c["chassis_name"]): "enable-chassis-as-gw" in str(c.get("ovn-cms-options", "")) for c in configs
             if c.get("chassis_name")}  # fmt: skip
    marked = sorted(name for name, gateway in names.items() if gateway)
    return marked or sorted(names)


def _router_rows(tx: Tx, router: Record) -> list[Row]:
    interfaces = _find(tx, Kind.PORT, AllOf((In("device_id", (router["id"],)), In("device_owner", (INTERFACE,)))))
    gateway = tx.get(Kind.PORT, router["gw_port_id"]) if router["gw_port_id"] else None
    ids = [ip["subnet_id"] for port in [*interfaces, *([gateway] if gateway else [])] for ip in port["fixed_ips"]]
    subnets = {s["id"]: s for s in _subnets(tx, ids)}
    external_gateway = None
    if gateway is not None and gateway["fixed_ips"]:
        external = subnets.get(gateway["fixed_ips"][0]["subnet_id"])
        external_gateway = external["gateway_ip"] if external else None
    cidrs = {id_: s["cidr"] for id_, s in subnets.items()}
    return desired.router_rows(router, interfaces, cidrs, gateway, external_gateway)


def _subnets(tx: Tx, ids: list[str]) -> list[Record]:
    return _find(tx, Kind.SUBNET, In("id", tuple(dict.fromkeys(ids)))) if ids else []


def _find(tx: Tx, kind: Kind, where: In | AllOf) -> list[Record]:
    return tx.find(kind, Query(where=where)).records
