"""Fuzzing the networking and identity APIs with hypothesis: whatever the body, path or query string, the answer is
never a 5xx (and every error is a NeutronError or a Keystone error document)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openstack.connection import Connection

from extnet.provider.api.spec import RESOURCES
from tests.provider.process import ProviderProcess

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            "10.0.0.0/24",
            "10.0.0.5",
            "fd00::/64",
            "fd00::5",
            "fa:16:3e:00:00:01",
            "tcp",
            "icmp",
            "ingress",
            "IPv4",
            "vlan",
            "physnet1",
            "flat",
            "vxlan",
            "slaac",
            "\x00",
            "default",
            "00000000-0000-0000-0000-000000000000",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=12)
            | st.sampled_from(
                ["start", "end", "ip_address", "subnet_id", "network_id", "destination", "nexthop", "mac_address"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)

ips = st.ip_addresses().map(str)
cidrs = st.builds(lambda ip, prefix: f"{ip}/{prefix}", st.ip_addresses(v=4).map(str), st.integers(0, 33)) | st.builds(
    lambda ip, prefix: f"{ip}/{prefix}", st.ip_addresses(v=6).map(str), st.integers(0, 129)
)
macs = st.builds(lambda b: ":".join(f"{x:02x}" for x in b), st.binary(min_size=6, max_size=6))
items = st.fixed_dictionaries(
    {},
    optional={
        "start": ips,
        "end": ips,
        "ip_address": ips | cidrs,
        "mac_address": macs,
        "destination": cidrs,
        "nexthop": ips,
        "network_id": st.text(max_size=5),
        "enable_snat": st.booleans(),
    },
)
typed = (
    scalars
    | ips
    | cidrs
    | macs
    | st.integers(-5, 70000)
    | st.lists(items, max_size=4)
    | items
    | st.lists(ips, max_size=6)
    | st.dictionaries(st.text(max_size=5), scalars, max_size=3)
)


def _near(network: str) -> st.SearchStrategy[str]:
    return st.integers(0, 300).map(lambda n: f"{network}.{n}")


def _typed(known: dict[str, str]) -> dict[str, st.SearchStrategy[Any]]:
    """Values of the right kind for each attribute (often valid, often at the edges)."""
    near = _near("10.170.0") | _near("10.171.0") | ips
    groups = st.sampled_from([known["security-groups"], "00000000-0000-0000-0000-000000000000"])
    pool = st.fixed_dictionaries({"start": near, "end": near})
    route = st.fixed_dictionaries({"destination": cidrs, "nexthop": near})
    fixed = st.fixed_dictionaries(
        {}, optional={"subnet_id": st.sampled_from([known["subnets"], known["networks"]]), "ip_address": near}
    )
    return {
        "name": st.text(max_size=20),
        "description": st.text(max_size=20),
        "mtu": st.integers(-1, 10000),
        "provider:network_type": st.sampled_from(["flat", "vlan", "vxlan", "geneve", "gre"]),
        "provider:physical_network": st.sampled_from(["physnet1", "physnet2", ""]) | st.text(max_size=70),
        "provider:segmentation_id": st.integers(-1, 5000) | st.integers(2**24 - 2, 2**24 + 2),
        "cidr": cidrs,
        "ip_version": st.sampled_from([4, 6, 5]),
        "gateway_ip": st.none() | near,
        "allocation_pools": st.lists(pool, max_size=3),
        "dns_nameservers": st.lists(ips, max_size=7),
        "host_routes": st.lists(route, max_size=3),
        "ipv6_ra_mode": st.sampled_from([None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless", "x"]),
        "ipv6_address_mode": st.sampled_from([None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless", "x"]),
        "mac_address": macs,
        "device_id": st.text(max_size=10),
        "device_owner": st.sampled_from(["", "compute:nova", "network:router_interface", "network:dhcp"]),
        "fixed_ips": st.lists(fixed, max_size=6),
        "security_groups": st.lists(groups, max_size=3),
        "allowed_address_pairs": st.lists(
            st.fixed_dictionaries({"ip_address": near | cidrs}, optional={"mac_address": macs}), max_size=12
        ),
        "binding:host_id": st.sampled_from(["", "h1"]) | st.text(max_size=10),
        "binding:vnic_type": st.sampled_from(["normal", "direct", "x"]),
        "binding:profile": st.dictionaries(st.text(max_size=5), scalars, max_size=3),
        "direction": st.sampled_from(["ingress", "egress", "x"]),
        "ethertype": st.sampled_from(["IPv4", "IPv6", "x"]),
        "protocol": st.none() | st.sampled_from(["tcp", "udp", "icmp", "icmpv6", "any", "6", "300", "foo"]),
        "port_range_min": st.none() | st.integers(-1, 70000),
        "port_range_max": st.none() | st.integers(-1, 70000),
        "remote_ip_prefix": st.none() | cidrs | ips,
        "remote_group_id": st.none() | groups,
        "external_gateway_info": st.none()
        | st.just({})
        | st.fixed_dictionaries(
            {"network_id": st.sampled_from([known["external"], known["networks"]])},
            optional={"enable_snat": st.booleans(), "external_fixed_ips": st.lists(fixed, max_size=2)},
        ),
        "routes": st.lists(route, max_size=3),
    }


def _attributes(path: str) -> list[str]:
    return [attr.wire for attr in RESOURCES[path].attrs] + ["bogus"]


def _bodies(path: str, known: dict[str, str]) -> st.SearchStrategy[Any]:
    spec = RESOURCES[path]
    names = _attributes(path)
    attribute_values = values | st.sampled_from(list(known.values()))
    item = st.dictionaries(st.sampled_from(names), attribute_values, max_size=6)
    return st.one_of(
        st.builds(lambda d: {spec.singular: d}, item),
        st.builds(lambda items: {spec.plural: items}, st.lists(item, max_size=3)),
        values,
    )


def _bases(known: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A valid body per collection, which the fuzzer then changes in one to three attributes."""
    return {
        "networks": {"name": "fuzz"},
        "subnets": {"network_id": known["networks"], "cidr": "10.171.0.0/24", "ip_version": 4},
        "ports": {"network_id": known["networks"]},
        "security-groups": {"name": "fuzz"},
        "security-group-rules": {"security_group_id": known["security-groups"], "direction": "ingress"},
        "routers": {"name": "fuzz"},
        "floatingips": {"floating_network_id": known["external"]},
        "rbac-policies": {"object_type": "network", "object_id": known["networks"], "action": "access_as_shared",
                          "target_tenant": "0123456789abcdef0123456789abcdef"},
    }


def _mutations(path: str, known: dict[str, str]) -> st.SearchStrategy[Any]:
    spec = RESOURCES[path]
    base = _bases(known)[path]
    names = [attr.wire for attr in spec.attrs if attr.post and attr.wire not in ("project_id", "tenant_id")]
    by_name = _typed(known)
    changes = st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries(
            {k: st.one_of(by_name.get(k, st.booleans()), by_name.get(k, typed)) for k in keys}
        )
    )
    return st.builds(lambda c: {spec.singular: {**base, **c}}, changes)


@pytest.fixture(scope="module")
def known(admin: Connection) -> Iterator[dict[str, str]]:
    """Resources the fuzzer may name: one of each kind."""
    network = admin.network.create_network(name=f"fuzz-{uuid.uuid4().hex[:8]}")
    subnet = admin.network.create_subnet(network_id=network.id, cidr="10.170.0.0/24", ip_version=4)
    port = admin.network.create_port(network_id=network.id)
    group = admin.network.create_security_group(name=f"fuzz-{uuid.uuid4().hex[:8]}")
    router = admin.network.create_router(name=f"fuzz-{uuid.uuid4().hex[:8]}")
    external = admin.network.create_network(name=f"fuzz-{uuid.uuid4().hex[:8]}", is_router_external=True)
    admin.network.create_subnet(network_id=external.id, cidr="10.172.0.0/24", ip_version=4)
    rule = group.security_group_rules[0]["id"]
    policy = admin.network.create_rbac_policy(object_type="network", object_id=network.id, action="access_as_shared",
                                              target_project_id=uuid.uuid4().hex)  # fmt: skip
    fip = admin.network.create_ip(floating_network_id=external.id)
    yield {
        "floatingips": fip.id,
        "rbac-policies": policy.id,
        "networks": network.id,
        "subnets": subnet.id,
        "ports": port.id,
        "security-groups": group.id,
        "routers": router.id,
        "security-group-rules": rule,
        "external": external.id,
    }


@pytest.fixture(scope="module")
def client(provider: ProviderProcess, admin_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider.network_url, headers={"X-Auth-Token": admin_token}, timeout=60) as c:
        yield c


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.request.method} {response.request.url}: {response.text}"
    if response.status_code >= 400 and response.status_code != 401:
        assert "NeutronError" in response.json(), response.text


def _send(client: httpx.Client, method: str, url: str, body: Any) -> httpx.Response:
    content = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return client.request(method, url, content=content, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", sorted(p for p in RESOURCES if p != "agents"))
def test_create_bodies(client: httpx.Client, known: dict[str, str], path: str) -> None:
    @FUZZ
    @given(body=_bodies(path, known))
    def run(body: Any) -> None:
        _check(_send(client, "POST", f"/v2.0/{path}", body))

    run()


@pytest.mark.parametrize("path", sorted(p for p in RESOURCES if p != "agents"))
def test_create_nearly_valid_bodies(client: httpx.Client, known: dict[str, str], path: str) -> None:
    @FUZZ
    @given(body=_mutations(path, known))
    def run(body: Any) -> None:
        _check(_send(client, "POST", f"/v2.0/{path}", body))

    run()


@pytest.mark.parametrize("path", sorted(p for p in RESOURCES if p != "agents"))
def test_update_nearly_valid_bodies(client: httpx.Client, known: dict[str, str], path: str) -> None:
    @FUZZ
    @given(body=_mutations(path, known))
    def run(body: dict[str, Any]) -> None:
        changes = {k: v for k, v in next(iter(body.values())).items() if k not in _bases(known)[path]}
        _check(_send(client, "PUT", f"/v2.0/{path}/{known[path]}", {RESOURCES[path].singular: changes or body}))

    run()


@pytest.mark.parametrize("path", sorted(RESOURCES))
def test_update_bodies(client: httpx.Client, known: dict[str, str], path: str) -> None:
    @FUZZ
    @given(
        body=_bodies(path, known),
        target=st.sampled_from([known.get(path, "missing"), "missing"]),
        if_match=st.none()
        | st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20)
        | st.integers(0, 5).map(lambda n: f"revision_number={n}"),
    )
    def run(body: Any, target: str, if_match: str | None) -> None:
        headers = {"If-Match": if_match} if if_match else {}
        content = json.dumps(body).encode()
        response = client.put(f"/v2.0/{path}/{target}", content=content, headers=headers)
        _check(response)

    run()


@pytest.mark.parametrize("path", sorted(RESOURCES))
def test_query_strings(client: httpx.Client, path: str) -> None:
    keys = st.sampled_from(
        [
            *_attributes(path),
            "fields",
            "sort_key",
            "sort_dir",
            "limit",
            "marker",
            "page_reverse",
            "tags",
            "tags-any",
            "not-tags",
            "not-tags-any",
        ]
    )
    text = st.text(max_size=20) | st.sampled_from(
        [
            "asc",
            "desc",
            "true",
            "1",
            "-1",
            "99999999999999999999",
            "ip_address=10.0.0.1",
            "subnet_id=x",
            "ip_address_substr=1",
        ]
    )

    @FUZZ
    @given(params=st.lists(st.tuples(keys, text), max_size=6))
    def run(params: list[tuple[str, str]]) -> None:
        _check(client.get(f"/v2.0/{path}", params=params))

    run()


def test_paths_and_actions(client: httpx.Client, known: dict[str, str]) -> None:
    segments = st.text(max_size=15) | st.sampled_from(
        [
            *RESOURCES,
            *known.values(),
            "v2.0",
            "tags",
            "add_router_interface",
            "remove_router_interface",
            "heartbeat",
            "extensions",
            "binding",
        ]
    )

    @FUZZ
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
        parts=st.lists(segments, min_size=1, max_size=5),
        body=values,
    )
    def run(method: str, parts: list[str], body: Any) -> None:
        url = "/v2.0/" + "/".join(quote(p, safe="") for p in parts)
        if url.rstrip("/").endswith(("/networks", "/ports", "/subnets", "/routers", "/security-groups")) and (
            method == "DELETE"
        ):
            return
        response = _send(client, method, url, body)
        assert response.status_code < 500, f"{method} {url}: {response.text}"

    run()


def test_identity_bodies(provider: ProviderProcess) -> None:
    @FUZZ
    @given(
        path=st.sampled_from(["/v3/auth/tokens", "/v2.0/tokens", "/v3/projects", "/v3/users"]),
        body=values
        | st.builds(
            lambda d: {"auth": d},
            st.dictionaries(
                st.sampled_from(["identity", "scope", "tenantName", "passwordCredentials", "token"]), values, max_size=3
            ),
        ),
    )
    def run(path: str, body: Any) -> None:
        response = httpx.post(f"{provider.identity_url}{path}", content=json.dumps(body).encode())
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert "error" in response.json()

    run()
