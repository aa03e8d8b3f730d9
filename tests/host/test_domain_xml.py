"""The libvirt domain XML of a VM with one vNIC of each kind (``extnet.host.runtime.domain``): the shapes Nova and
oVirt's hooks write, and valid against libvirt's own schema (``virt-xml-validate``, Debian's libvirt-clients and
libxml2-utils)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from extnet.common.vif import Vif, VifProvider
from extnet.engine.providers.neutron import port_from
from extnet.host.runtime.domain import GuestBoot, domain_xml


def _vif(name: str, vif_type: str, **details: object) -> Vif:
    port = {"id": str(uuid.uuid4()), "mac_address": f"fa:16:3e:00:00:0{name[-1]}", "network_id": str(uuid.uuid4()),
            "binding:vif_type": vif_type, "binding:vif_details": details,
            "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}]}  # fmt: skip
    parsed = port_from(port)
    assert parsed is not None
    return Vif.from_port(parsed, vnic_id=str(uuid.uuid4()), vnic_name=name, network_name="red", mtu=1450,
                         provider=VifProvider(str(uuid.uuid4()), "external"), plugin_type="open_vswitch")  # fmt: skip


VIFS = [_vif("nic1", "ovs", bridge_name="br-int", datapath_type="netdev"),
        _vif("nic2", "ovs", bridge_name="br-int", ovs_hybrid_plug=True), _vif("nic3", "bridge")]  # fmt: skip
BOOT = GuestBoot("/var/lib/extnet/vmlinuz", "/var/lib/extnet/initrd.gz")


def _xml(virtualport: bool) -> str:
    return domain_xml(str(uuid.uuid4()), "extnet-vm", "vm1", VIFS, BOOT, ["extnet.net=fa:16:3e:00:00:01"],
                      virtualport)  # fmt: skip


@pytest.mark.parametrize("virtualport", [False, True], ids=["userspace-datapath", "system-datapath"])
def test_each_kind_has_its_shape(virtualport: bool) -> None:
    devices = ET.fromstring(_xml(virtualport)).find("devices")
    assert devices is not None
    ovs, hybrid, bridge = devices.findall("interface")
    if virtualport:  # libvirt adds the OVS port itself, with the port id as iface-id
        assert ovs.get("type") == "bridge" and ovs.find("source").get("bridge") == "br-int"  # type: ignore[union-attr]
        assert ovs.find("virtualport").get("type") == "openvswitch"  # type: ignore[union-attr]
        assert ovs.find("virtualport/parameters").get("interfaceid") == VIFS[0].port_id  # type: ignore[union-attr]
    else:  # a tap the agent plugs, the guest computing its checksums
        assert ovs.get("type") == "ethernet" and ovs.find("virtualport") is None
        assert ovs.find("driver/host").get("csum") == "off"  # type: ignore[union-attr]
    assert ovs.find("target").get("dev") == VIFS[0].devname  # type: ignore[union-attr]
    assert hybrid.get("type") == "bridge" and hybrid.find("source").get("bridge") == f"qbr{VIFS[1].port_id[:11]}"  # type: ignore[union-attr]
    assert bridge.find("source").get("bridge") == f"brq{VIFS[2].network.id[:11]}"  # type: ignore[union-attr]
    for iface, vif in zip((ovs, hybrid, bridge), VIFS, strict=True):
        assert iface.find("mac").get("address") == vif.mac and iface.find("mtu").get("size") == "1450"  # type: ignore[union-attr]
        assert iface.find("target").get("dev") == vif.devname and iface.find("model").get("type") == "virtio"  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("virt-xml-validate") is None or shutil.which("xmllint") is None,
                    reason="needs virt-xml-validate and xmllint (Debian: apt-get install -y libvirt-clients "
                    "libxml2-utils)")  # fmt: skip
@pytest.mark.parametrize("virtualport", [False, True], ids=["userspace-datapath", "system-datapath"])
def test_the_domain_validates_against_libvirts_schema(tmp_path: Path, virtualport: bool) -> None:
    path = tmp_path / "domain.xml"
    path.write_text(_xml(virtualport))
    done = subprocess.run(["virt-xml-validate", str(path), "domain"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.xml"  # and the validator does refuse what libvirt would
    broken.write_text(_xml(virtualport).replace('type="bridge"', 'type="brige"', 1))
    assert subprocess.run(["virt-xml-validate", str(broken), "domain"], capture_output=True).returncode != 0
