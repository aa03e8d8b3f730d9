"""``extnet up`` run as root where Open vSwitch is installed but not running: it starts an Open vSwitch under its
data dir, chooses the ``netns`` runtime and says why, and two VMs started through the engine reach each other."""

from __future__ import annotations

from pathlib import Path

import ovirtsdk4.types as t
import pytest

from extnet.host.ovs_daemons import OvsDaemons
from extnet.host.privileged import netlink
from extnet.host.settings import DEFAULT_OVSDB
from tests.dataplane import needs_dataplane, pings
from tests.e2e.test_first_run import passwords, sdk_connection
from tests.polling import until
from tests.up import running_up, up_env

pytestmark = [needs_dataplane, pytest.mark.dataplane, pytest.mark.database_agnostic,
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


@pytest.mark.skipif(Path(DEFAULT_OVSDB.removeprefix("unix:")).exists(),
                    reason="an Open vSwitch runs on this machine: extnet up would use it, not start its own")
def test_up_as_root_plugs_vms_for_real(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    env = up_env()
    del env["EXTNET_HOST_RUNTIME"]  # let it choose
    with running_up(data_dir, env) as up:
        admin_password, _ = passwords(up)
        up.wait_for(r"runtime:\s+netns: VMs as network namespaces on an Open vSwitch started under "
                    + str(data_dir / "ovs"))  # fmt: skip
        up.wait_for(r"extnet is ready: network provider 'extnet-builtin', host 'local' up")
        with sdk_connection(up, admin_password) as system:
            [builtin] = system.openstack_network_providers_service().list()
            network = system.networks_service().add(t.Network(
                name="green", data_center=t.DataCenter(name="Default"),
                external_provider=t.OpenStackNetworkProvider(id=builtin.id)))  # fmt: skip
            [cluster] = system.clusters_service().list(search="name=Default")
            system.clusters_service().cluster_service(cluster.id).networks_service().add(t.Network(id=network.id))
            on_provider = system.openstack_network_providers_service().provider_service(builtin.id).networks_service()
            [external] = [n for n in on_provider.list() if n.name == "green"]
            on_provider.network_service(external.id).subnets_service().add(t.OpenStackSubnet(
                name="green-v4", cidr="10.30.0.0/24", ip_version="v4"))  # fmt: skip
            [profile] = system.networks_service().network_service(network.id).vnic_profiles_service().list()
            vms = []
            for name in ("vm-one", "vm-two"):
                vm = system.vms_service().add(t.Vm(name=name, cluster=t.Cluster(name="Default"),
                                                   template=t.Template(name="Blank")))  # fmt: skip
                service = system.vms_service().vm_service(vm.id)
                service.nics_service().add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=profile.id)))
                service.start()
                vms.append(service)
            one, two = (f"extnet-{service.get().id}" for service in vms)
            assert {one, two} <= set(netlink.namespaces())
            nic = vms[1].nics_service().list()[0]
            [device] = vms[1].nics_service().nic_service(nic.id).reported_devices_service().list()
            address = next(ip.address for ip in device.ips if ip.version == t.IpVersion.V4)
            until(lambda: pings(one, address), "the two VMs of extnet up reach each other")
            for service in vms:
                service.stop()
            assert not {one, two} & set(netlink.namespaces())
        assert up.interrupt() == 0, up.output()
    assert not OvsDaemons(data_dir / "ovs").running()  # what up started, it stopped
