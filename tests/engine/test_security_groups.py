"""Security groups of vNIC profiles (the custom property ``SecurityGroups``): on a profile of an external network the
groups must exist on the network's provider when the profile is added or updated (asked outside any database
transaction, filtered by id on the provider); absent means the provider's default group, empty means none. Driven by
ovirtsdk4 (XML) and JSON; groups are made on the provider's side with openstacksdk."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from extnet.engine.commands.security_groups import port_security_groups, requested_groups
from extnet.engine.store.models import VnicProfile
from tests.engine.external_helpers import events_of, fault, import_network, provider_side, url_of
from tests.provider.process import run_provider

Names = Callable[[str], str]
System = sdk.services.SystemService
CHECK_FAILED = 9634


@pytest.fixture
def groups(neutron: Connection, unique: Names) -> Iterator[Callable[[], Any]]:
    """Makes security groups on the provider; removes them afterwards."""
    made: list[Any] = []

    def make() -> Any:
        group = neutron.network.create_security_group(name=unique("sg"))
        made.append(group)
        return group

    yield make
    for group in made:
        neutron.network.delete_security_group(group, ignore_missing=True)


@pytest.fixture
def external(
    system: System, neutron: Connection, provider: t.OpenStackNetworkProvider, unique: Names
) -> Iterator[t.Network]:
    """A network of the provider imported into a data center of its own."""
    dc = system.data_centers_service().add(t.DataCenter(name=unique("sgdc")))
    with provider_side(neutron) as make:
        yield import_network(system, provider.id, make(unique("sgnet")), dc)


def sg_property(value: str) -> list[t.CustomProperty]:
    return [t.CustomProperty(name="SecurityGroups", value=value)]


def profile_names(system: System, network: t.Network) -> list[str]:
    return [p.name for p in system.networks_service().network_service(network.id).vnic_profiles_service().list()]


def properties_of(profile: t.VnicProfile) -> list[tuple[str, str]]:
    return [(p.name, p.value) for p in profile.custom_properties or []]


# --- the value of the property -----------------------------------------------------------------------------------


def test_requested_groups_tri_state() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert requested_groups([{"name": "other", "value": a}]) is None
    assert requested_groups([{"name": "SecurityGroups", "value": ""}]) == []
    assert requested_groups([{"name": "SecurityGroups", "value": "  "}]) == []
    assert requested_groups([{"name": "SecurityGroups", "value": f"{a},{b.upper()}, {a}"}]) == [a, b]
    assert port_security_groups(None) is None
    assert port_security_groups(VnicProfile(custom_properties=[])) is None
    assert port_security_groups(VnicProfile(custom_properties=[{"name": "SecurityGroups", "value": ""}])) == []
    assert port_security_groups(VnicProfile(custom_properties=[{"name": "SecurityGroups", "value": b}])) == [b]


# --- profiles of external networks -------------------------------------------------------------------------------


def test_existing_groups_are_accepted_on_add_and_update(
    system: System, rest: httpx.Client, external: t.Network, groups: Callable[[], Any], unique: Names
) -> None:
    first, second = groups(), groups()
    profiles = system.vnic_profiles_service()
    value = f"{first.id}, {second.id}"
    profile = profiles.add(t.VnicProfile(name=unique("sgp"), network=t.Network(id=external.id),
                                         custom_properties=sg_property(value)))  # fmt: skip
    assert properties_of(profile) == [("SecurityGroups", value)]
    updated = profiles.profile_service(profile.id).update(t.VnicProfile(custom_properties=sg_property(second.id)))
    assert properties_of(updated) == [("SecurityGroups", second.id)]

    body = {"name": unique("sgj"), "custom_properties": {"custom_property": [
        {"name": "SecurityGroups", "value": first.id}]}}  # fmt: skip
    answer = rest.post(f"networks/{external.id}/vnicprofiles", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["custom_properties"]["custom_property"] == [{"name": "SecurityGroups", "value": first.id}]


def test_missing_groups_are_named_and_nothing_is_saved(
    system: System, rest: httpx.Client, external: t.Network, provider: t.OpenStackNetworkProvider,
    groups: Callable[[], Any], unique: Names,
) -> None:  # fmt: skip
    present = groups()
    lost, gone = str(uuid.uuid4()), str(uuid.uuid4())
    name = unique("sgm")
    profiles = system.vnic_profiles_service()
    value = f"{lost},{present.id}, {gone}"
    err = fault(lambda: profiles.add(t.VnicProfile(name=name, network=t.Network(id=external.id),
                                                   custom_properties=sg_property(value))))  # fmt: skip
    assert err.code == 400
    expected = f"Security groups '{lost}', '{gone}' of vNIC profile '{name}' do not exist on provider '{provider.name}'"
    assert expected in str(err)
    assert present.id not in str(err)
    assert name not in profile_names(system, external)

    properties = {"custom_property": [{"name": "SecurityGroups", "value": lost}]}
    answer = rest.post(f"networks/{external.id}/vnicprofiles", json={"name": name, "custom_properties": properties})
    assert answer.status_code == 400
    assert f"Security group '{lost}' of vNIC profile '{name}' does not exist" in answer.text
    assert name not in profile_names(system, external)

    profile = profiles.add(t.VnicProfile(name=name, network=t.Network(id=external.id),
                                         custom_properties=sg_property(present.id)))  # fmt: skip
    service = profiles.profile_service(profile.id)
    err = fault(lambda: service.update(t.VnicProfile(description="x", custom_properties=sg_property(gone))))
    assert err.code == 400 and f"Security group '{gone}' of vNIC profile '{name}' does not exist" in str(err)
    kept = service.get()
    assert properties_of(kept) == [("SecurityGroups", present.id)] and kept.description is None


def test_a_group_removed_on_the_provider_is_found_missing(
    system: System, neutron: Connection, external: t.Network, groups: Callable[[], Any], unique: Names
) -> None:
    doomed = groups()
    neutron.network.delete_security_group(doomed)
    err = fault(lambda: system.vnic_profiles_service().add(t.VnicProfile(
        name=unique("sgd"), network=t.Network(id=external.id), custom_properties=sg_property(doomed.id))))  # fmt: skip
    assert err.code == 400 and doomed.id in str(err)


def test_absent_and_empty_need_no_provider(
    system: System, external: t.Network, groups: Callable[[], Any], unique: Names
) -> None:
    profiles = system.vnic_profiles_service()
    default = profiles.add(t.VnicProfile(name=unique("sga"), network=t.Network(id=external.id)))
    assert properties_of(default) == []
    none = profiles.add(t.VnicProfile(name=unique("sge"), network=t.Network(id=external.id),
                                      custom_properties=sg_property("")))  # fmt: skip
    assert properties_of(none) in ([("SecurityGroups", "")], [("SecurityGroups", None)])
    err = fault(lambda: profiles.add(t.VnicProfile(name=unique("sgx"), network=t.Network(id=external.id),
                                                   custom_properties=sg_property("not-a-uuid"))))  # fmt: skip
    assert err.code == 400 and "expected a comma-separated list of security group UUIDs" in str(err)


@pytest.mark.builtin_provider_only("it starts a provider of its own and stops it")
def test_provider_down_gives_a_clear_fault_and_saves_nothing(
    system: System, add_provider: Callable[..., Any], tmp_path: Path, unique: Names
) -> None:
    dc = system.data_centers_service().add(t.DataCenter(name=unique("sgdown")))
    with run_provider(tmp_path / "down") as second:
        provider = add_provider(url=second.network_url, authentication_url=second.auth_url)
        neutron = second.connect()
        group = neutron.network.create_security_group(name=unique("sg"))
        network = import_network(system, provider.id, neutron.network.create_network(name=unique("dn")), dc)
        profile = system.vnic_profiles_service().add(t.VnicProfile(
            name=unique("sgu"), network=t.Network(id=network.id), custom_properties=sg_property(group.id)))  # fmt: skip
    # the provider has stopped
    name = unique("sgn")
    err = fault(lambda: system.vnic_profiles_service().add(t.VnicProfile(
        name=name, network=t.Network(id=network.id), custom_properties=sg_property(group.id))))  # fmt: skip
    assert err.code == 400 and "unreachable" in str(err) and provider.name in str(err) and name in str(err)
    assert name not in profile_names(system, network)
    service = system.vnic_profiles_service().profile_service(profile.id)
    err = fault(lambda: service.update(t.VnicProfile(custom_properties=sg_property(str(uuid.uuid4())))))
    assert err.code == 400 and "unreachable" in str(err)
    assert properties_of(service.get()) == [("SecurityGroups", group.id)]
    assert service.update(t.VnicProfile(description="same groups")).description == "same groups"  # nothing to ask
    failures = [e for e in events_of(system, provider.id) if e.code == CHECK_FAILED]
    assert {e.severity for e in failures} == {t.LogSeverity.ERROR}
    assert any(name in e.description for e in failures) and any(profile.name in e.description for e in failures)


def test_local_and_unmanaged_networks_are_not_checked(
    system: System, add_provider: Callable[..., Any], unique: Names
) -> None:
    dc = system.data_centers_service().add(t.DataCenter(name=unique("sgl")))
    local = system.networks_service().add(t.Network(name=unique("loc"), data_center=t.DataCenter(id=dc.id)))
    unmanaged = add_provider(unmanaged=True, url=None, requires_authentication=False, username=None, password=None,
                             authentication_url=None)  # fmt: skip
    offline = system.networks_service().add(t.Network(
        name=unique("um"), data_center=t.DataCenter(id=dc.id),
        external_provider=t.OpenStackNetworkProvider(id=unmanaged.id)))  # fmt: skip
    anything = str(uuid.uuid4())
    for network in (local, offline):
        profile = system.vnic_profiles_service().add(t.VnicProfile(
            name=unique("sgo"), network=t.Network(id=network.id), custom_properties=sg_property(anything)))  # fmt: skip
        assert properties_of(profile) == [("SecurityGroups", anything)]


# --- how the provider is asked -------------------------------------------------------------------------------------


class _Groups(BaseHTTPRequestHandler):
    """A Neutron stand-in that knows some security groups, filters them by ``id`` and records each query; with
    ``hold`` set, it answers only once the test releases it."""

    server: _GroupServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.server.queries.append((parts.path, query))
        self.server.entered.set()
        if self.server.hold:
            self.server.release.wait(30)
        ids = [value for key, value in query if key == "id"]
        found = [{"id": g, "name": f"g-{g[:4]}"} for g in ids if g in self.server.known]
        body = json.dumps({"security_groups": found}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _GroupServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, known: set[str], hold: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Groups)
        self.known = known
        self.hold = hold
        self.queries: list[tuple[str, list[tuple[str, str]]]] = []
        self.entered = threading.Event()
        self.release = threading.Event()


@pytest.fixture
def group_server() -> Iterator[Callable[..., _GroupServer]]:
    servers: list[tuple[_GroupServer, threading.Thread]] = []

    def start(known: set[str], hold: bool = False) -> _GroupServer:
        server = _GroupServer(known, hold)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def moved_to(system: System, provider: t.OpenStackNetworkProvider, server: ThreadingHTTPServer) -> None:
    """Point the provider at a stand-in server (no authentication); its imported networks stay."""
    system.openstack_network_providers_service().provider_service(provider.id).update(
        t.OpenStackNetworkProvider(url=url_of(server), requires_authentication=False))  # fmt: skip


def test_groups_are_filtered_by_id_on_the_provider(
    system: System, external: t.Network, provider: t.OpenStackNetworkProvider, group_server: Callable[..., Any],
    unique: Names,
) -> None:  # fmt: skip
    wanted = [str(uuid.uuid4()) for _ in range(45)]
    server = group_server(set(wanted[1:]))
    moved_to(system, provider, server)
    name = unique("sgf")
    err = fault(lambda: system.vnic_profiles_service().add(t.VnicProfile(
        name=name, network=t.Network(id=external.id), custom_properties=sg_property(",".join(wanted)))))  # fmt: skip
    assert err.code == 400 and f"Security group '{wanted[0]}' of vNIC profile '{name}'" in str(err)
    assert wanted[1] not in str(err)
    paths = {path for path, _ in server.queries}
    assert paths == {"/v2.0/security-groups"}
    asked = [value for _, query in server.queries for key, value in query if key == "id"]
    assert sorted(asked) == sorted(wanted)  # every id asked once, in pages of the URL's size
    assert len(server.queries) == 2
    assert all(("fields", "id") in query for _, query in server.queries)


def test_no_write_transaction_is_held_while_the_provider_is_asked(
    system: System, rest: httpx.Client, external: t.Network, provider: t.OpenStackNetworkProvider,
    group_server: Callable[..., Any], unique: Names,
) -> None:  # fmt: skip
    group = str(uuid.uuid4())
    server = group_server({group}, hold=True)
    moved_to(system, provider, server)
    outcome: list[httpx.Response] = []
    body = {"name": unique("sgh"), "network": {"id": external.id},
            "custom_properties": {"custom_property": [{"name": "SecurityGroups", "value": group}]}}  # fmt: skip
    adding = threading.Thread(target=lambda: outcome.append(rest.post("vnicprofiles", json=body)))
    adding.start()
    try:
        assert server.entered.wait(30), "the engine never asked the provider"
        # while the provider is answering, other writes go through (a held write transaction would block them)
        other = rest.post("datacenters", json={"name": unique("sgw")}, timeout=10)
        assert other.status_code == 201, other.text
        assert not outcome  # the profile is still waiting for the provider
    finally:
        server.release.set()
        adding.join(timeout=60)
    assert outcome and outcome[0].status_code == 201, outcome[0].text if outcome else "no answer"
