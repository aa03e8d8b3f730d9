"""``GET /v2.0/extensions``: exactly the Neutron extensions this provider implements, as Neutron names them, plus
extnet's own agent heartbeat."""

from __future__ import annotations

from typing import Any

_LIST = [
    ("agent", "agent", "The agent management extension.", "2013-02-03T10:00:00-00:00"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs", "2013-07-23T10:00:00-00:00"),
    ("availability_zone", "Availability Zone", "The availability zone extension.", "2015-01-01T10:00:00-00:00"),
    (
        "availability_zone_filter",
        "Availability Zone Filter Extension",
        "Add filter parameters to AvailabilityZone resource",
        "2018-06-22T10:00:00-00:00",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
        "2014-02-03T10:00:00-00:00",
    ),
    (
        "empty-string-filtering",
        "Empty String Filtering Extension",
        "Allow filtering by attributes with empty string value",
        "2018-05-01T10:00:00-00:00",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
        "2013-01-14T10:00:00-00:00",
    ),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router", "2013-02-01T10:00:00-00:00"),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway",
        "2013-03-28T10:00:00-00:00",
    ),
    (
        "filter-validation",
        "Filter parameters validation",
        "Provides validation on filter parameters.",
        "2018-07-04T10:00:00-00:00",
    ),
    (
        "fip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
        "2018-04-09T10:00:00-00:00",
    ),
    ("floatingip-pools", "Floating IP Pools Extension", "Provides a floating IP pools API.",
     "2018-03-21T10:00:00-00:00"),  # fmt: skip
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
        "2017-11-28T09:00:00-00:00",
    ),
    ("l3-ha", "HA Router extension", "Adds HA capability to routers.", "2014-04-26T00:00:00-00:00"),
    ("dvr", "Distributed Virtual Router", "Enables configuration of Distributed Virtual Routers.",
     "2014-06-1T10:00:00-00:00"),  # fmt: skip
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource.", "2015-03-25T10:00:00-00:00"),
    (
        "net-mtu-writable",
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
        "2017-07-12T00:00:00-00:00",
    ),
    (
        "network_availability_zone",
        "Network Availability Zone",
        "Availability zone support for network.",
        "2015-01-01T10:00:00-00:00",
    ),
    (
        "pagination",
        "Pagination support",
        "Extension that indicates that pagination is enabled.",
        "2016-06-12T00:00:00-00:00",
    ),
    ("port-security", "Port Security", "Provides port security", "2012-07-23T10:00:00-00:00"),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
        "2016-09-09T09:09:09-09:09",
    ),
    (
        "provider",
        "Provider Network",
        "Expose mapping of virtual networks to physical networks",
        "2012-09-07T10:00:00-00:00",
    ),
    (
        "quota-check-limit",
        "Quota engine limit check",
        "Support for checking the resource usage before applying a new quota limit",
        "2021-09-08T16:00:00-00:00",
    ),
    (
        "quota-check-limit-default",
        "Quota engine limit check by default",
        "By default, the Neutron quota engine checks the resource usage before applying a new quota limit",
        "2024-08-21T16:00:00-00:00",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
        "2017-02-10T10:00:00-00:00",
    ),
    ("quotas", "Quota management support", "Expose functions for quotas management per project",
     "2012-07-29T10:00:00-00:00"),
    (
        "rbac-policies",
        "RBAC Policies",
        "Allows creation and modification of policies that control project access to resources.",
        "2015-06-17T12:15:12-00:00",
    ),
    (
        "router_availability_zone",
        "Router Availability Zone",
        "Availability zone support for router.",
        "2015-01-01T10:00:00-00:00",
    ),
    (
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
        "2016-12-11T00:00:00-00:00",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and "
        "access to external networks via a NAT gateway.",
        "2012-07-20T10:00:00-00:00",
    ),
    ("security-group", "security-group", "The security groups extension.", "2012-10-05T10:00:00-00:00"),
    (
        "security-groups-normalized-cidr",
        "Normalized CIDR field for security group rules",
        "Add new field with normalized remote_ip_prefix cidr in SG rule",
        "2020-07-28T10:00:00-00:00",
    ),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled.", "2016-06-12T00:00:00-00:00"),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
        "2016-02-10T10:00:00-00:00",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
        "2016-04-11T10:00:00-00:00",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: port, subnet, network, security_group, router",
        "Enables to set tag on resources with standard attribute.",
        "2017-01-01T00:00:00-00:00",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
        "2016-09-12T10:00:00-00:00",
    ),
    (
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
        "2019-11-26T09:00:00-00:00",
    ),
    (
        "network-ip-availability",
        "Network IP Availability",
        "Provides IP availability data for each network and subnet.",
        "2015-09-24T00:00:00-00:00",
    ),
    (
        "network-ip-availability-details",
        "Network IP Availability Details Extension",
        "Add ip_availability_details attribute to network-ip-availabilities resource.",
        "2025-10-31T00:00:00-00:00",
    ),
    (
        "tag-creation",
        "Tag creation extension",
        "Allow to create multiple tags for a resource",
        "2024-23-07T10:00:00-00:00",
    ),
    (
        "agent-heartbeat",
        "extnet agent heartbeat",
        "Hosts report their agent (and the data-plane state of their "
        "ports) with POST /v2.0/agents/heartbeat; admin only. Not a Neutron extension.",
        "2026-11-30T00:00:00-00:00",
    ),
]

EXTENSIONS: list[dict[str, Any]] = [
    {"name": name, "alias": alias, "description": description, "updated": updated, "links": []}
    for alias, name, description, updated in _LIST
]
