"""Hosts through the real ovirtsdk4 (XML) and through JSON: CRUD, rules, maintenance, search. Every host added is
paired with a real host agent of its own (the ``host_agent`` fixture); tests/engine/test_host_agent.py covers the
pairing itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from tests.servers import HostAgentProcess, free_port

Unique = Callable[[str], str]
StartAgent = Callable[..., HostAgentProcess]


@pytest.fixture
def cluster(system: sdk.services.SystemService, unique: Unique) -> Iterator[t.Cluster]:
    """A cluster of its own data center, so that no other test's host or VM is in it."""
    dc = system.data_centers_service().add(t.DataCenter(name=unique("hdc")))
    made = system.clusters_service().add(
        t.Cluster(name=unique("hcl"), data_center=t.DataCenter(id=dc.id), cpu=t.Cpu(type="Intel Nehalem Family"))
    )
    yield made
    system.data_centers_service().data_center_service(dc.id).remove(force=True)


def add_host(system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, agent: HostAgentProcess,
             **fields: object) -> t.Host:  # fmt: skip
    host = t.Host(name=unique("host"), address=agent.address, port=agent.port, cluster=t.Cluster(name=cluster.name),
                  root_password=agent.password, **fields)  # fmt: skip
    return system.hosts_service().add(host)


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def test_add_get_update_remove(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    hosts = system.hosts_service()
    agent = host_agent()
    host = add_host(system, unique, cluster, agent, description="first")
    assert host.status == t.HostStatus.UP  # paired with its agent, which answers
    assert host.port == agent.port and host.cluster.id == cluster.id and host.description == "first"
    assert host.href == f"/ovirt-engine/api/hosts/{host.id}"
    assert host.root_password is None  # never echoed

    service = hosts.host_service(host.id)
    assert service.get().address == host.address
    port = free_port()
    updated = service.update(t.Host(description="second", port=port, comment="c"))
    assert (updated.description, updated.port, updated.comment, updated.name) == ("second", port, "c", host.name)

    service.deactivate()
    assert service.get().status == t.HostStatus.MAINTENANCE
    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_cluster_by_id_and_follow_link(
    connection: sdk.Connection, system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster,
    host_agent: StartAgent,
) -> None:  # fmt: skip
    agent = host_agent()
    wanted = t.Host(name=unique("host"), address=agent.address, port=agent.port, root_password=agent.password,
                    cluster=t.Cluster(id=cluster.id))  # fmt: skip
    host = system.hosts_service().add(wanted)
    assert connection.follow_link(host.cluster).name == cluster.name


def test_unique_name_and_address(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    hosts = system.hosts_service()
    agent = host_agent()
    second = host_agent(address=agent.address)  # another agent at the same address
    host = add_host(system, unique, cluster, agent)
    err = fault(
        lambda: hosts.add(t.Host(name=host.name, address="other.example.test", cluster=t.Cluster(id=cluster.id)))
    )
    assert err.code == 409 and f"The host name '{host.name}' is already in use" in str(err)
    err = fault(lambda: hosts.add(t.Host(name=unique("h"), address=host.address, port=host.port,
                                         root_password=agent.password, cluster=t.Cluster(id=cluster.id))))  # fmt: skip
    assert err.code == 409 and f"Host '{host.name}' already uses the address {host.address}:{host.port}" in str(err)
    other = hosts.add(t.Host(name=unique("h"), address=host.address, port=second.port, root_password=second.password,
                             cluster=t.Cluster(id=cluster.id)))  # fmt: skip
    assert other.port == second.port  # the same address on another port is another host
    err = fault(lambda: hosts.host_service(other.id).update(t.Host(port=host.port)))
    assert err.code == 409 and "already uses the address" in str(err)


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"address": ""}, 400, "The host address is required"),
        ({"address": "bad address!"}, 400, "is not a valid host name or IP address"),
        ({"port": 0}, 400, "The host port 0 is out of range"),
        ({"port": 70000}, 400, "The host port 70000 is out of range"),
        ({"cluster": None}, 400, "A host needs a cluster"),
        ({"cluster": t.Cluster(name="no-such-cluster")}, 400, "The cluster named 'no-such-cluster' does not exist"),
        ({"name": "bad name!"}, 400, "may contain only"),
    ],
)
def test_invalid_input(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, fields: dict[str, object], status: int,
    fragment: str,
) -> None:  # fmt: skip
    name = unique("host")
    values: dict[str, object] = {"name": name, "address": f"{name}.example.test", "cluster": t.Cluster(id=cluster.id)}
    values.update(fields)
    err = fault(lambda: system.hosts_service().add(t.Host(**values)))
    assert err.code == status and fragment in str(err), str(err)
    assert "Cannot add Host." in str(err)


def test_maintenance_rules(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    service = system.hosts_service().host_service(add_host(system, unique, cluster, host_agent()).id)
    err = fault(service.remove)
    assert err.code == 409 and "Cannot remove Host." in str(err) and "is not in maintenance mode" in str(err)
    err = fault(service.activate)
    assert err.code == 409 and "is already up" in str(err)
    service.deactivate()
    err = fault(service.deactivate)
    assert err.code == 409 and "Cannot switch Host to Maintenance mode." in str(err)
    assert "is already in maintenance mode" in str(err)
    service.activate()
    assert service.get().status == t.HostStatus.UP


def test_moving_to_another_cluster_needs_maintenance(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    service = system.hosts_service().host_service(add_host(system, unique, cluster, host_agent()).id)
    default = t.Cluster(name="Default")
    err = fault(lambda: service.update(t.Host(cluster=default)))
    assert err.code == 409 and "must be in maintenance mode to move to another cluster" in str(err)
    service.deactivate()
    moved = service.update(t.Host(cluster=default))
    assert moved.cluster.id != cluster.id
    service.remove()


def test_hosts_running_vms(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    first = add_host(system, unique, cluster, host_agent())
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(id=cluster.id)))
    vm_service = system.vms_service().vm_service(vm.id)
    vm_service.start()
    assert vm_service.get().host.id == first.id
    first_service = system.hosts_service().host_service(first.id)
    assert first_service.get().summary.active == 1

    err = fault(first_service.deactivate)  # nowhere to move the VM to
    assert err.code == 409 and vm.name in str(err) and "no other host" in str(err)

    second = add_host(system, unique, cluster, host_agent())
    first_service.deactivate()  # the VM moves to the other host
    assert vm_service.get().host.id == second.id
    first_service.remove()

    second_service = system.hosts_service().host_service(second.id)
    err = fault(second_service.remove)  # every broken rule is reported at once
    assert err.code == 409 and "is not in maintenance mode" in str(err)
    assert f"VMs are still running on host '{second.name}': {vm.name}" in str(err)
    vm_service.stop()
    second_service.deactivate()
    second_service.remove()


def test_search(system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent) -> None:
    hosts = system.hosts_service()
    made = [add_host(system, unique, cluster, host_agent()) for _ in range(3)]  # each agent on its own address
    names = sorted(h.name for h in made)
    assert sorted(h.name for h in hosts.list(search=f"cluster={cluster.name}")) == names
    dc_name = system.data_centers_service().data_center_service(cluster.data_center.id).get().name
    assert sorted(h.name for h in hosts.list(search=f'datacenter="{dc_name}"')) == names
    assert [h.name for h in hosts.list(search=f"name={made[1].name}")] == [made[1].name]
    assert [h.name for h in hosts.list(search=f"address={made[2].address}")] == [made[2].name]
    hosts.host_service(made[0].id).deactivate()
    found = hosts.list(search=f"cluster={cluster.name} and status=maintenance")
    assert [h.name for h in found] == [made[0].name]
    assert sorted(h.name for h in hosts.list(search=f"cluster={cluster.name} and status!=maintenance")) == sorted(
        h.name for h in made[1:]
    )
    err = fault(lambda: hosts.list(search="status=sleeping"))
    assert err.code == 400 and "Unknown host status 'sleeping'" in str(err)


def test_json_flow(rest: httpx.Client, unique: Unique, cluster: t.Cluster, host_agent: StartAgent) -> None:
    name = unique("jhost")
    agent = host_agent()
    created = rest.post("hosts", json={"name": name, **agent.host_fields(), "cluster": {"name": cluster.name}})
    assert created.status_code == 201, created.text
    host = created.json()
    assert host["status"] == "up" and host["port"] == str(agent.port) and host["cluster"]["id"] == cluster.id
    listed = rest.get("hosts", params={"search": f"name={name}"}).json()
    assert [h["id"] for h in listed["host"]] == [host["id"]]
    assert rest.post(f"hosts/{host['id']}/deactivate", json={}).json()["status"] == "complete"
    assert rest.get(f"hosts/{host['id']}").json()["status"] == "maintenance"
    assert rest.delete(f"hosts/{host['id']}").status_code == 200
    missing = rest.get(f"hosts/{host['id']}")
    assert missing.status_code == 404 and "host" in missing.json()["detail"]
