"""``/hosts``: the hypervisors, each paired with its host agent; maintenance (``deactivate``), ``activate``,
``install`` (pair again) and ``refresh`` (read what the agent reports now).

Adding, activating, installing and refreshing call the host's agent, so they run outside the request transaction
(``engine.operations.pairing``)."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Select, func, or_, select

from extnet.common.capabilities import HostCapabilities
from extnet.engine.api.hrefs import ref
from extnet.engine.api.inputs import action_input, to_input
from extnet.engine.api.mappers import Field, Mapper, Source, attr, const, identity, link_fields, reference
from extnet.engine.api.resources.base import Collection, Ctx, completed, services_of
from extnet.engine.api.schema import HOST_STATUS
from extnet.engine.api.search import Matcher, column_matcher, string_match
from extnet.engine.commands.base import run
from extnet.engine.commands.hosts import DeactivateHost, HostInput, InstallInput
from extnet.engine.errors import BadRequest
from extnet.engine.operations import pairing
from extnet.engine.store.models import Cluster, DataCenter, Host, Vm
from extnet.engine.store.queries import Entity, load


def related_matcher(foreign_key: Any, ids: Select[Any], name: Any) -> Matcher:
    """Matches rows whose ``foreign_key`` points at a row (selected by ``ids``) whose ``name`` matches.

    ``!=`` means "not related to a match", so rows without a relation match it too."""

    def match(op: str, value: str, case_sensitive: bool) -> Any:
        if op == "!=":
            matching = ids.where(string_match(name, "=", value, case_sensitive))
            return or_(foreign_key.is_(None), foreign_key.not_in(matching))
        return foreign_key.in_(ids.where(string_match(name, op, value, case_sensitive)))

    return match


def _status_matcher(op: str, value: str, case_sensitive: bool) -> Any:
    status = value.lower()
    if status not in HOST_STATUS:
        raise BadRequest(f"Unknown host status '{value}'; known: {', '.join(HOST_STATUS)}")
    return Host.status != status if op == "!=" else Host.status == status


def agent_fields(stored: dict[str, Any] | None) -> Entity:
    """``version`` (the agent's) and ``host_agent`` (extnet: what the agent last reported)."""
    raw = (stored or {}).get("capabilities")
    if not raw:
        return {}
    caps = HostCapabilities.read(raw)
    heartbeats = [{"openstack_network_provider": ref("openstacknetworkproviders", beat.get("provider_id")),
                   "name": beat.get("name"), "state": beat.get("state"), "detail": beat.get("detail") or None}
                  for beat in (stored or {}).get("heartbeats") or [] if isinstance(beat, dict)]  # fmt: skip
    agent = {
        "hostname": caps.hostname or None, "unique_id": caps.unique_id or None, "runtime": caps.runtime or None,
        "protocol_version": caps.protocol_version or None, "vif_versions": _items("vif_version", caps.vif_versions),
        "binding_host_ids": _properties(caps.binding_host_ids),
        "plugin_types": _items("plugin_type", caps.plugin_types),
        "vif_types": _items("vif_type", caps.vif_types), "vif_kinds": _items("vif_kind", caps.vif_kinds),
        "bridges": _items("bridge", caps.bridges), "bridge_mappings": _properties(caps.bridge_mappings),
        "tunnel_types": _items("tunnel_type", caps.tunnel_types), "datapath_type": caps.datapath_type or None,
        "heartbeats": {"heartbeat": heartbeats} if heartbeats else None,
    }  # fmt: skip
    return {"version": _version(caps.agent_version), "host_agent": agent}


def _items(tag: str, values: tuple[str, ...]) -> Entity | None:
    return {tag: list(values)} if values else None


def _properties(mapping: Any) -> Entity | None:
    if not isinstance(mapping, dict) or not mapping:
        return None
    return {"property": [{"name": str(k), "value": str(v)} for k, v in sorted(mapping.items())]}


def _version(text: str) -> Entity:
    numbers = [int(part) if part.isdecimal() else 0 for part in text.split("+")[0].split(".")[:4]]
    numbers += [0] * (4 - len(numbers))
    return {"major": numbers[0], "minor": numbers[1], "build": numbers[2], "revision": numbers[3],
            "full_version": f"extnet-host-{text}"}  # fmt: skip


def _agent(name: str) -> Source:
    return lambda host, extra: agent_fields(host.agent_capabilities).get(name)


HOST = Mapper("Host", "host", "hosts", (
    *identity("hosts", Host),
    Field("address", "str", attr("address"), required=True, search=column_matcher(Host.address)),
    Field("port", "int", attr("port"), search=column_matcher(Host.port, "int")),
    Field("status", HOST_STATUS, attr("status"), "out", search=_status_matcher),
    Field("type", ("rhel", "rhev_h", "ovirt_node"), const("rhel")),
    Field("cluster", "Cluster", reference("clusters", "cluster_id"), required=True,
          search=related_matcher(Host.cluster_id, select(Cluster.id), Cluster.name)),
    Field("ssh", "Ssh", const({"port": 22, "authentication_method": "password"})),
    Field("spm", "Spm", const({"priority": 5, "status": "none"})),
    Field("power_management", "PowerManagement", const({"enabled": False, "kdump_detection": False})),
    Field("os", "OperatingSystem", const({"custom_kernel_cmdline": ""})),
    Field("summary", "VmSummary", lambda host, extra: {"active": extra["vms"], "migrating": 0, "total": extra["vms"]},
          "out"),
    Field("status_detail", "str", attr("status_detail"), "out"),
    Field("version", "Version", _agent("version")),  # the agent's
    Field("host_agent", "HostAgentInfo", _agent("host_agent"), "out"),  # extnet: what the agent last reported
    Field("root_password", "str", None, "in"),  # the pairing password of the host's agent
    Field("override_iptables", "bool"),
    *link_fields("hosts"),
))  # fmt: skip


def render(host: Host, vms: int) -> Entity:
    return HOST.render(host, vms=vms)


def _vm_count() -> Any:
    return select(func.count(Vm.id)).where(Vm.host_id == Host.id).scalar_subquery()


class Hosts(Collection):
    required_on_add = HOST.required()
    type_name = HOST.type_name
    what = "host"
    actions = ("activate", "deactivate", "install", "refresh")
    self_managed = frozenset({"add", "action:activate", "action:install", "action:refresh"})
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        **HOST.search_fields(),
        "datacenter": related_matcher(
            Host.cluster_id, select(Cluster.id).join(DataCenter, DataCenter.id == Cluster.data_center_id),
            DataCenter.name,
        ),
    }  # fmt: skip

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = select(Host, _vm_count()).order_by(Host.name)
        stmt = self.apply_search(ctx, stmt, {"name": Host.name, "address": Host.address, "status": Host.status})
        return [render(host, vms) for host, vms in ctx.db.execute(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return _render_loaded(ctx, load(ctx.db, Host, entity_id, "host"))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        host_id = pairing.add_host(ctx.database, services_of(ctx), to_input(HOST, body, HostInput))
        with ctx.database.transaction(write=False) as session:
            return render(load(session, Host, host_id, "host"), 0)

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        host = load(ctx.db, Host, entity_id, "host")
        given = to_input(HOST, body, HostInput)
        return _render_loaded(ctx, pairing.update_host(ctx.db, services_of(ctx), host, given))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        pairing.remove_host(ctx.db, services_of(ctx), load(ctx.db, Host, entity_id, "host"))

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        if name == "activate":
            pairing.activate(ctx.database, services_of(ctx), entity_id)
        elif name == "install":
            password = action_input(body, InstallInput).root_password
            pairing.pair_again(ctx.database, services_of(ctx), entity_id, password)
        elif name == "refresh":
            pairing.refresh(ctx.database, services_of(ctx), entity_id)
        else:
            run(DeactivateHost(ctx.db, load(ctx.db, Host, entity_id, "host")))
        return completed()


def _render_loaded(ctx: Ctx, host: Host) -> Entity:
    vms = ctx.db.scalar(select(func.count(Vm.id)).where(Vm.host_id == host.id)) or 0
    return render(host, vms)
