"""``/vms/{id}/nics/{nid}/openstackports`` (an extnet extension): the vNIC's port as its provider reports it now
(never cached), or nothing when the vNIC has none. The read is ``operations/provider_reads.py``'s."""

from __future__ import annotations

from extnet.engine.api.hrefs import href, ref
from extnet.engine.api.mappers import Field, Mapper, link_fields
from extnet.engine.api.resources.base import Collection, Ctx, services_of
from extnet.engine.api.resources.provider_networks import PROVIDERS, network_ref
from extnet.engine.api.schema import List, define
from extnet.engine.errors import NotFound
from extnet.engine.operations import provider_reads as ops
from extnet.engine.store.queries import Entity, parse_uuid

define("OpenStackFixedIp", "fixed_ip", "fixed_ips", {"ip_address": "str", "subnet_id": "str"})


def _port_href(found: ops.NicPort, extra: Entity) -> str:
    return href("vms", found.vm_id, "nics", found.nic_id, "openstackports", found.port.id)


def _port(name: str) -> Field:
    return Field(name, "str", lambda found, extra: getattr(found.port, name))


def _fixed_ips(found: ops.NicPort, extra: Entity) -> Entity:
    return {"fixed_ip": [{"ip_address": ip.ip_address, "subnet_id": ip.subnet_id} for ip in found.port.fixed_ips]}


def _security_groups(found: ops.NicPort, extra: Entity) -> Entity | None:
    groups = found.port.security_groups
    return None if groups is None else {"security_group": list(groups)}


def _network(found: ops.NicPort, extra: Entity) -> Entity | None:
    network_id = found.port.network_id
    return network_ref(found.provider_id, network_id) if network_id else None


# a vNIC's port (``ops.NicPort``): the port as the provider answered it, with the ids of the vNIC and the provider
OPENSTACK_PORT = Mapper("OpenStackPort", "openstack_port", "openstack_ports", (
    Field("href", "str", _port_href, "out"),
    Field("id", "id", lambda found, extra: found.port.id),
    _port("name"),
    Field("description", "str"),
    Field("comment", "str"),
    _port("status"),  # the provider's: ACTIVE, DOWN, BUILD, ERROR
    Field("mac_address", "str", lambda found, extra: found.port.mac),
    Field("binding_host_id", "str", lambda found, extra: found.port.host_id),  # Neutron's binding:host_id
    Field("binding_vif_type", "str", lambda found, extra: found.port.vif_type),  # binding:vif_type
    _port("device_id"),
    _port("device_owner"),
    Field("fixed_ips", List("fixed_ip", "OpenStackFixedIp"), _fixed_ips),
    Field("security_groups", List("security_group", "str"), _security_groups),
    Field("openstack_network", "OpenStackNetwork", _network),
    Field("openstack_network_provider", "OpenStackNetworkProvider",
          lambda found, extra: ref(PROVIDERS, found.provider_id)),
    Field("nic", "Nic", lambda found, extra: {"href": href("vms", found.vm_id, "nics", found.nic_id),
                                              "id": found.nic_id}),
    *link_fields(PROVIDERS),
))  # fmt: skip


class NicOpenStackPorts(Collection):
    """The vNIC's port on the provider of its network, live: one, or none (read only)."""

    type_name = OPENSTACK_PORT.type_name
    what = "port"
    self_managed = frozenset({"list_", "get"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        if ctx.max_results() == 0:
            return []
        found = ops.nic_port(ctx.database, services_of(ctx), parents[0], parents[1])
        return [OPENSTACK_PORT.render(found)] if found else []

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        port_id = parse_uuid(entity_id, "port")
        for port in self.list_(ctx, parents):
            if port["id"] == port_id:
                return port
        raise NotFound(f"Entity not found: port '{entity_id}' of vNIC '{parents[1]}'")
