"""The ``ovn`` driver against a real OVN Northbound database: what each API call writes there (Neutron's OVN
layout), ``sync-ovn`` finding and repairing a hand-damaged database, and the maintenance task repairing what a
provider killed between its SQL commit and its OVSDB transaction left behind."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.ovn import OvnCentral, needs_ovn, ovn_central
from tests.polling import until
from tests.provider.process import ProviderProcess, run_provider
from tests.servers import scratch_database

pytestmark = [needs_ovn]  # no packets, no root: on SQLite and on PostgreSQL (EXTNET_TEST_DATABASE_URL)


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnCentral]:
    with ovn_central(tmp_path_factory.mktemp("ovn")) as made:
        yield made


@pytest.fixture
def own_central(tmp_path: Path) -> Iterator[OvnCentral]:
    """OVN of a test's own: a provider removes from OVN what it did not make, so two never share one."""
    with ovn_central(tmp_path / "ovn") as made:
        yield made


def ovn_env(central: OvnCentral, **extra: str) -> dict[str, str]:
    return {"EXTNET_PROVIDER_DRIVER": "ovn", "EXTNET_PROVIDER_OVN_NB": central.nb,
            "EXTNET_PROVIDER_OVN_SB": central.sb, **extra}  # fmt: skip


@pytest.fixture
def database() -> Iterator[str | None]:
    """A fresh database of a test's own provider (None: SQLite in its data dir)."""
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        yield url


@pytest.fixture(scope="module")
def ovn_provider(tmp_path_factory: pytest.TempPathFactory, central: OvnCentral) -> Iterator[ProviderProcess]:
    env = ovn_env(central, EXTNET_PROVIDER_OVN_MAINTENANCE_INTERVAL="2")
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_provider(tmp_path_factory.mktemp("ovn-provider"), url, env=env) as process,
    ):
        yield process
        assert "Traceback" not in process.log(), process.log()[-4000:]


@pytest.fixture(scope="module")
def neutron(ovn_provider: ProviderProcess) -> Iterator[Connection]:
    connection = ovn_provider.connect()
    yield connection
    connection.close()


def rows(central: OvnCentral, table: str, *conditions: str) -> list[dict[str, Any]]:
    """The table's rows as ovn-nbctl's JSON gives them, each a {column: value}."""
    found = json.loads(central.nbctl("--format=json", "find", table, *conditions))
    return [dict(zip(found["headings"], row, strict=True)) for row in found["data"]]


def value(cell: Any) -> Any:
    """An OVSDB JSON cell as Python: maps as dicts, sets as lists, atoms as themselves."""
    if isinstance(cell, list) and cell and cell[0] == "map":
        return {k: value(v) for k, v in cell[1]}
    if isinstance(cell, list) and cell and cell[0] == "set":
        return [value(v) for v in cell[1]]
    if isinstance(cell, list) and cell and cell[0] == "uuid":
        return cell[1]
    return cell


def settled(central: OvnCentral, table: str, *conditions: str, gone: bool = False) -> list[dict[str, Any]]:
    """The rows, once there are some (``gone``: none): the driver carries each change to OVN right after its
    commit, on a worker of its own."""
    until(lambda: (rows(central, table, *conditions) == []) == gone, f"{table} {' '.join(conditions)} in OVN")
    return rows(central, table, *conditions)


def lsp(central: OvnCentral, port_id: str) -> dict[str, Any]:
    [row] = rows(central, "Logical_Switch_Port", f"name={port_id}")
    return {key: value(cell) for key, cell in row.items()}


def test_networks_subnets_and_ports_become_switches_dhcp_options_and_switch_ports(
    central: OvnCentral, neutron: Connection
) -> None:
    network = neutron.network.create_network(name="ovn-net", mtu=1400)
    subnet = neutron.network.create_subnet(network_id=network.id, cidr="10.77.0.0/24", ip_version=4,
                                           dns_nameservers=["10.77.0.53"])  # fmt: skip
    group = neutron.network.create_security_group(name="ovn-sg")
    neutron.network.create_security_group_rule(security_group_id=group.id, direction="ingress", protocol="tcp",
                                               port_range_min=22, port_range_max=22, ethertype="IPv4")  # fmt: skip
    port = neutron.network.create_port(network_id=network.id, security_group_ids=[group.id],
                                       binding_host_id="chassis-1", device_id="vm-1", device_owner="oVirt")  # fmt: skip

    settled(central, "Logical_Switch_Port", f"name={port.id}")  # the last change: the ones before are there too
    [switch] = rows(central, "Logical_Switch", f"name=neutron-{network.id}")
    external = value(switch["external_ids"])
    assert external["neutron:network_name"] == "ovn-net"
    assert external["neutron:revision_number"] == str(neutron.network.get_network(network.id).revision_number)

    [dhcp] = rows(central, "DHCP_Options", f"external_ids:subnet_id={subnet.id}")
    options = value(dhcp["options"])
    assert dhcp["cidr"] == "10.77.0.0/24"
    assert options["router"] == "10.77.0.1" and options["mtu"] == "1400" and options["dns_server"] == "{10.77.0.53}"
    assert options["lease_time"] == "43200" and options["server_id"] == "10.77.0.1"

    switch_port = lsp(central, port.id)
    address = f"{port.mac_address} {port.fixed_ips[0]['ip_address']}"
    assert switch_port["addresses"] == address and switch_port["port_security"] == address
    assert switch_port["options"] == {"requested-chassis": "chassis-1"}
    assert switch_port["dhcpv4_options"] == dhcp["_uuid"][1]
    assert switch_port["external_ids"]["neutron:device_id"] == "vm-1"
    assert switch_port["_uuid"] in value(switch["ports"])

    [port_group] = rows(central, "Port_Group", f"name=pg_{group.id.replace('-', '_')}")
    assert switch_port["_uuid"] in (value(port_group["ports"]) if isinstance(value(port_group["ports"]), list)
                                    else [value(port_group["ports"])])  # fmt: skip
    matches = {row["match"] for row in rows(central, "ACL") if row["_uuid"][1] in str(port_group["acls"])}
    pg = f"pg_{group.id.replace('-', '_')}"
    assert f"outport == @{pg} && ip4 && tcp && tcp.dst == 22" in matches
    assert f"inport == @{pg} && ip4" in matches  # the group's default egress rule
    [drop] = rows(central, "Port_Group", "name=neutron_pg_drop")
    assert switch_port["_uuid"] in str(drop["ports"])

    neutron.network.update_port(port.id, port_security_enabled=False, security_group_ids=[])
    until(lambda: lsp(central, port.id)["port_security"] == [], "port security off in OVN")
    switch_port = lsp(central, port.id)
    assert switch_port["port_security"] == [] and "unknown" in switch_port["addresses"]
    assert switch_port["_uuid"] not in str(rows(central, "Port_Group", "name=neutron_pg_drop")[0]["ports"])

    neutron.network.delete_port(port.id)
    settled(central, "Logical_Switch_Port", f"name={port.id}", gone=True)
    neutron.network.delete_security_group(group.id)
    settled(central, "Port_Group", f"name={pg}", gone=True)
    neutron.network.delete_network(network.id)
    settled(central, "Logical_Switch", f"name=neutron-{network.id}", gone=True)
    assert rows(central, "DHCP_Options", f"external_ids:subnet_id={subnet.id}") == []


def test_routers_become_logical_routers_with_ports_and_routes(central: OvnCentral, neutron: Connection) -> None:
    nets = [neutron.network.create_network(name=f"ovn-r{i}") for i in range(2)]
    subnets = [neutron.network.create_subnet(network_id=net.id, cidr=f"10.78.{i}.0/24", ip_version=4)
               for i, net in enumerate(nets)]  # fmt: skip
    router = neutron.network.create_router(name="ovn-router")
    for subnet in subnets:
        neutron.network.add_interface_to_router(router, subnet_id=subnet.id)
    interfaces = list(neutron.network.ports(device_id=router.id))
    for made in interfaces:
        settled(central, "Logical_Router_Port", f"name=lrp-{made.id}")
    [logical] = rows(central, "Logical_Router", f"name=neutron-{router.id}")
    router_ports = [row for row in rows(central, "Logical_Router_Port") if row["_uuid"][1] in str(logical["ports"])]
    assert sorted(row["networks"] for row in router_ports) == ["10.78.0.1/24", "10.78.1.1/24"]
    interface = interfaces[0]
    switch_port = lsp(central, interface.id)
    assert switch_port["type"] == "router" and switch_port["options"] == {"router-port": f"lrp-{interface.id}"}

    neutron.network.update_router(router, routes=[{"destination": "10.99.0.0/16", "nexthop": "10.78.0.9"}])
    [route] = settled(central, "Logical_Router_Static_Route", "ip_prefix=10.99.0.0/16")
    assert route["nexthop"] == "10.78.0.9"
    neutron.network.update_router(router, routes=[])
    for subnet in subnets:
        neutron.network.remove_interface_from_router(router, subnet_id=subnet.id)
    neutron.network.delete_router(router)
    settled(central, "Logical_Router", f"name=neutron-{router.id}", gone=True)
    assert rows(central, "Logical_Router_Static_Route", "ip_prefix=10.99.0.0/16") == []
    for net in nets:
        neutron.network.delete_network(net.id)


def test_a_floating_ip_becomes_a_dnat_and_snat_on_its_router(central: OvnCentral, neutron: Connection) -> None:
    net = neutron.network
    external = net.create_network(name="ovn-fip-ext", is_router_external=True)
    net.create_subnet(network_id=external.id, cidr="172.29.0.0/24", ip_version=4)
    inner = net.create_network(name="ovn-fip-in")
    subnet = net.create_subnet(network_id=inner.id, cidr="10.79.0.0/24", ip_version=4)
    port = net.create_port(network_id=inner.id)
    router = net.create_router(name="ovn-fip", external_gateway_info={"network_id": external.id})
    net.add_interface_to_router(router, subnet_id=subnet.id)
    fip = net.create_ip(floating_network_id=external.id, port_id=port.id)
    [nat] = settled(central, "NAT", "type=dnat_and_snat", f"external_ip={fip.floating_ip_address}")
    assert nat["logical_ip"] == port.fixed_ips[0]["ip_address"]
    assert value(nat["external_ids"])["neutron:fip_id"] == fip.id
    [logical] = rows(central, "Logical_Router", f"name=neutron-{router.id}")
    assert nat["_uuid"][1] in str(logical["nat"])  # on the router, beside its SNAT
    [held] = net.ports(device_id=fip.id)
    assert rows(central, "Logical_Switch_Port", f"name={held.id}") == []  # the address is the NAT's, not a port's
    assert settled(central, "NAT", "type=snat", "logical_ip=10.79.0.0/24")

    net.update_ip(fip, port_id=None)
    settled(central, "NAT", "type=dnat_and_snat", f"external_ip={fip.floating_ip_address}", gone=True)
    net.update_ip(fip, port_id=port.id)
    settled(central, "NAT", "type=dnat_and_snat", f"external_ip={fip.floating_ip_address}")
    net.delete_ip(fip)
    settled(central, "NAT", "type=dnat_and_snat", f"external_ip={fip.floating_ip_address}", gone=True)
    net.remove_interface_from_router(router, subnet_id=subnet.id)
    net.update_router(router, external_gateway_info={})
    net.delete_router(router)
    net.delete_port(port)
    for network in (inner, external):
        net.delete_network(network.id)


def sync_ovn(provider: ProviderProcess, central: OvnCentral, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ovn_env(central)}
    command = [sys.executable, "-m", "extnet", "provider", "sync-ovn", "--data-dir", str(provider.data_dir), *args]
    if provider.database_url:
        command += ["--database-url", provider.database_url]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_sync_ovn_reports_every_difference_of_a_damaged_database_and_repairs_them(
    own_central: OvnCentral, tmp_path: Path, database: str | None
) -> None:
    central = own_central
    env = ovn_env(central, EXTNET_PROVIDER_OVN_MAINTENANCE_INTERVAL="3600")  # no repair but sync-ovn's here
    with run_provider(tmp_path / "p", database, env=env) as ovn_provider:
        neutron = ovn_provider.connect()
        _damage_report_repair(central, neutron, ovn_provider)
        neutron.close()


def _damage_report_repair(central: OvnCentral, neutron: Connection, ovn_provider: ProviderProcess) -> None:
    network = neutron.network.create_network(name="ovn-sync")
    neutron.network.create_subnet(network_id=network.id, cidr="10.79.0.0/24", ip_version=4)
    ports = [neutron.network.create_port(network_id=network.id, name=f"p{i}") for i in range(3)]
    settled(central, "Logical_Switch_Port", f"name={ports[-1].id}")
    clean = sync_ovn(ovn_provider, central)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.strip().splitlines()[-1].startswith("0 differences found")

    central.nbctl("lsp-del", ports[0].id)  # a port lost
    central.nbctl("lsp-set-addresses", ports[1].id, "00:00:00:00:00:01 10.79.0.250")  # a port changed
    central.nbctl(
        "ls-add",
        "neutron-00000000-0000-0000-0000-000000000000",
        "--",
        "set",
        "Logical_Switch",
        "neutron-00000000-0000-0000-0000-000000000000",
        "external_ids:extnet\\:owner=network:00000000-0000-0000-0000-000000000000",
        "external_ids:extnet\\:key=neutron-00000000-0000-0000-0000-000000000000",
    )  # a stray switch
    report = sync_ovn(ovn_provider, central)
    assert report.returncode == 1
    lines = report.stdout.strip().splitlines()
    assert f"Logical_Switch_Port {ports[0].id} of port:{ports[0].id} is missing" in lines
    assert any(line.startswith(f"Logical_Switch_Port {ports[1].id}: addresses is") for line in lines)
    assert any("neutron-00000000-0000-0000-0000-000000000000 of network:" in line for line in lines)
    assert lines[-1].startswith("3 differences found"), lines

    repaired = sync_ovn(ovn_provider, central, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert sync_ovn(ovn_provider, central).stdout.strip().splitlines()[-1].startswith("0 differences found")
    assert lsp(central, ports[0].id)["addresses"] == f"{ports[0].mac_address} {ports[0].fixed_ips[0]['ip_address']}"
    for port in ports:
        neutron.network.delete_port(port.id)
    neutron.network.delete_network(network.id)


def test_a_provider_killed_between_its_sql_commit_and_its_ovsdb_transaction_is_repaired_after_restart(
    own_central: OvnCentral, tmp_path: Path, database: str | None
) -> None:
    # the provider reaches Northbound through a relay that is made to swallow what the provider sends: a port's SQL
    # commit lands, its OVSDB transaction never reaches the server; the provider is killed then, and the restarted
    # one (straight to the server) makes OVN match the API
    central = own_central
    relay = Relay(("127.0.0.1", central.nb_port))
    env = ovn_env(central, EXTNET_PROVIDER_OVN_NB=f"tcp:127.0.0.1:{relay.port}")
    with relay, run_provider(tmp_path / "p", database, env=env) as provider:
        connection = provider.connect()
        network = connection.network.create_network(name="ovn-crash")
        settled(central, "Logical_Switch", f"name=neutron-{network.id}")
        token = connection.session.get_token()
        relay.swallow.set()
        request = threading.Thread(target=lambda: _quietly(lambda: httpx.post(
            f"{provider.network_url}/v2.0/ports", headers={"X-Auth-Token": token}, timeout=5,
            json={"port": {"network_id": network.id, "name": "after-crash"}})))  # fmt: skip
        request.start()
        url = database or f"sqlite:///{tmp_path / 'p' / 'provider.sqlite'}"
        until(lambda: _port_ids(url, "after-crash"), "the port committed to SQL")
        provider.process.kill()
        provider.process.wait()
        request.join()
        connection.close()
    [port_id] = _port_ids(url, "after-crash")
    assert rows(central, "Logical_Switch_Port", f"name={port_id}") == []
    with run_provider(tmp_path / "p", database, env=ovn_env(central)) as provider:
        until(lambda: rows(central, "Logical_Switch_Port", f"name={port_id}") != [], "the port in OVN")
        connection = provider.connect()
        connection.network.delete_port(port_id)
        connection.network.delete_network(network.id)
        connection.close()


class Relay:
    """A TCP relay to ``target`` that can be made to swallow what its clients send (the connection stays up)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.swallow = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = [self.server]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not (outbound and self.swallow.is_set()):
                    sink.sendall(data)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


def test_the_maintenance_task_repairs_a_database_restored_from_an_old_backup(
    central: OvnCentral, neutron: Connection
) -> None:
    network = neutron.network.create_network(name="ovn-backup")
    port = neutron.network.create_port(network_id=network.id, name="before")
    settled(central, "Logical_Switch_Port", f"name={port.id}")
    central.nbctl(
        "set", "Logical_Switch_Port", port.id, "external_ids:neutron\\:revision_number=0", "addresses=old"
    )  # the row as an old backup has it
    after = neutron.network.create_port(network_id=network.id, name="after")
    settled(central, "Logical_Switch_Port", f"name={after.id}")
    central.nbctl("lsp-del", after.id)
    until(lambda: lsp(central, port.id)["addresses"] != "old", "the stale port repaired by the maintenance task",
          deadline_s=60)  # fmt: skip
    until(lambda: len(rows(central, "Logical_Switch_Port", "external_ids:neutron\\:port_name=after")) == 1,
          "the lost port made again by the maintenance task", deadline_s=60)  # fmt: skip
    for made in neutron.network.ports(network_id=network.id):
        neutron.network.delete_port(made.id)
    neutron.network.delete_network(network.id)


def _quietly(call: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        call()


def _port_ids(url: str, name: str) -> list[str]:
    """What the provider's database holds (read straight from it: the provider may be hanging or dead)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT id FROM prov_ports WHERE name = :name"), {"name": name})
            return [str(row[0]) for row in found]
    finally:
        engine.dispose()


def test_a_provider_whose_ovn_does_not_answer_says_so_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "EXTNET_PROVIDER_DRIVER": "ovn", "EXTNET_PROVIDER_OVN_NB": "tcp:127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "extnet", "provider", "--data-dir", str(tmp_path), "--listen",
                           "127.0.0.1:0", "--keystone-listen", "127.0.0.1:1"], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: no OVN Northbound database answers at tcp:127.0.0.1:9" in done.stderr
    assert "point --ovn-nb at it" in done.stderr and "Traceback" not in done.stderr


def test_a_restarted_provider_finds_ovn_as_it_left_it(own_central: OvnCentral, tmp_path: Path,
                                                      database: str | None) -> None:  # fmt: skip
    env = ovn_env(own_central)
    with run_provider(tmp_path / "p", database, env=env) as provider:
        neutron = provider.connect()
        network = neutron.network.create_network(name="ovn-restart")
        neutron.network.create_subnet(network_id=network.id, cidr="10.81.0.0/24", ip_version=4)
        port = neutron.network.create_port(network_id=network.id, name="kept")
        settled(own_central, "Logical_Switch_Port", f"name={port.id}")
        before = {table: rows(own_central, table) for table in ("Logical_Switch", "Logical_Switch_Port", "ACL")}
        neutron.close()
    with run_provider(tmp_path / "p", database, env=env) as provider:
        neutron = provider.connect()
        assert neutron.network.get_port(port.id).revision_number == port.revision_number
        assert {table: rows(own_central, table) for table in before} == before  # nothing rewritten
        report = sync_ovn(provider, own_central)
        assert report.stdout.strip().splitlines()[-1].startswith("0 differences found"), report.stdout
        neutron.close()
