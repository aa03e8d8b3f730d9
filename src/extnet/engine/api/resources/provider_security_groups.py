"""``/openstacknetworkproviders/{id}/securitygroups`` (an extnet extension): a provider's security groups, read live
from it (never cached), each with its rules; the portal picks a vNIC profile's ``SecurityGroups`` among them. The
reads are ``operations/provider_reads.py``'s."""

from __future__ import annotations

from extnet.engine.api.hrefs import href, ref
from extnet.engine.api.mappers import Field, Mapper, attr, link_fields
from extnet.engine.api.resources.provider_networks import PROVIDERS, LiveProviderObjects
from extnet.engine.api.schema import List, define
from extnet.engine.operations import provider_reads as ops
from extnet.engine.operations.provider_calls import ProviderCall
from extnet.engine.providers.neutron import ProviderSecurityGroup
from extnet.engine.store.queries import Entity

# a rule as Neutron has it; what it leaves out (None: any protocol, port, remote) is not rendered
define("OpenStackSecurityGroupRule", "rule", "rules", {
    "direction": "str", "ethertype": "str", "protocol": "str", "port_range_min": "int", "port_range_max": "int",
    "remote_ip_prefix": "str", "remote_group_id": "str",
})  # fmt: skip


def _rules(group: ProviderSecurityGroup, extra: Entity) -> Entity:
    return {"rule": [{"id": rule.id, "direction": rule.direction, "ethertype": rule.ethertype,
                      "protocol": rule.protocol, "port_range_min": rule.port_range_min,
                      "port_range_max": rule.port_range_max, "remote_ip_prefix": rule.remote_ip_prefix,
                      "remote_group_id": rule.remote_group_id} for rule in group.rules]}  # fmt: skip


# a provider's security group: ``render`` it with ``provider_id``
OPENSTACK_SECURITY_GROUP = Mapper("OpenStackSecurityGroup", "openstack_security_group", "openstack_security_groups", (
    Field("href", "str", lambda group, extra: href(PROVIDERS, extra["provider_id"], "securitygroups", group.id),
          "out"),
    Field("id", "id", attr("id")),
    Field("name", "str", attr("name")),
    Field("description", "str", lambda group, extra: group.description or None),
    Field("comment", "str"),
    Field("rules", List("rule", "OpenStackSecurityGroupRule"), _rules),
    Field("openstack_network_provider", "OpenStackNetworkProvider",
          lambda group, extra: ref(PROVIDERS, extra["provider_id"])),
    *link_fields(PROVIDERS),
))  # fmt: skip


class ProviderSecurityGroups(LiveProviderObjects):
    """The security groups of a provider (ids are the provider's), read only."""

    type_name = OPENSTACK_SECURITY_GROUP.type_name
    what = "security group"
    mapper = OPENSTACK_SECURITY_GROUP

    def read_all(self, call: ProviderCall, limit: int | None) -> list[ProviderSecurityGroup]:
        return ops.list_security_groups(call, limit)

    def read_one(self, call: ProviderCall, object_id: str) -> ProviderSecurityGroup:
        return ops.get_security_group(call, object_id)
