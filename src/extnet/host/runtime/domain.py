"""The libvirt domain XML of a VM, one ``<interface>`` per vNIC in the shape of its kind of plugging, as Nova and
oVirt's vdsm hooks write it:

- ``ovs`` on the system datapath: ``type="bridge"``, ``<source bridge="br-int"/>``, ``<virtualport
  type="openvswitch"><parameters interfaceid="PORT"/></virtualport>`` (libvirt adds the port; the plugin then sets
  what libvirt does not: the other external_ids and the local VLAN);
- ``ovs`` on the userspace datapath: ``type="ethernet"`` with ``<target dev="tap..."/>``, which libvirt creates and
  the plugin puts on the bridge, and the guest computing its own checksums (``<host csum="off"/>``: the userspace
  datapath forwards frames with the checksum left to the hardware);
- ``ovs_hybrid`` and ``bridge``: ``type="bridge"`` on ``qbr...``/``brq...`` with ``<target dev="tap..."/>``.

Guests are booted from a kernel and initramfs of the host's (the VMs of extnet have no disks); each vNIC's fixed IPs
go on the kernel command line as ``extnet.net=MAC,IP/PREFIX[,GATEWAY]``, for the guest to set as cloud-init would.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from extnet.common.vif import BridgePlug, OvsHybridPlug, OvsPlug, Vif


@dataclass(frozen=True)
class GuestBoot:
    kernel: str
    initrd: str
    memory_mib: int = 256
    cmdline: str = "console=ttyS0 quiet"


def interface_xml(vif: Vif, ovs_virtualport: bool) -> str:
    """The ``<interface>`` of one vNIC (also what hot-plug attaches)."""
    plug = vif.plug
    if isinstance(plug, OvsPlug) and ovs_virtualport:
        iface = ET.Element("interface", type="bridge")
        ET.SubElement(iface, "source", bridge=plug.bridge)
        port = ET.SubElement(iface, "virtualport", type="openvswitch")
        ET.SubElement(port, "parameters", interfaceid=vif.port_id)
    elif isinstance(plug, OvsPlug):
        iface = ET.Element("interface", type="ethernet")
    elif isinstance(plug, OvsHybridPlug):
        iface = ET.Element("interface", type="bridge")
        ET.SubElement(iface, "source", bridge=plug.qbr)
    elif isinstance(plug, BridgePlug):
        iface = ET.Element("interface", type="bridge")
        ET.SubElement(iface, "source", bridge=plug.bridge)
    else:
        raise ValueError(f"{vif.label}: no libvirt interface for vif_type '{vif.vif_type}'")
    ET.SubElement(iface, "mac", address=vif.mac)
    ET.SubElement(iface, "target", dev=vif.devname)
    ET.SubElement(iface, "model", type=vif.model or "virtio")
    if isinstance(plug, OvsPlug) and not ovs_virtualport:
        driver = ET.SubElement(iface, "driver", name="qemu")
        ET.SubElement(driver, "host", csum="off")
    if vif.mtu:
        ET.SubElement(iface, "mtu", size=str(vif.mtu))
    if not vif.linked:
        ET.SubElement(iface, "link", state="down")
    ET.SubElement(iface, "alias", name=f"ua-{vif.vnic_id}")
    return ET.tostring(iface, encoding="unicode")


def domain_xml(vm_id: str, domain_name: str, title: str, vifs: list[Vif], boot: GuestBoot, networks: list[str],
               ovs_virtualport: bool) -> str:  # fmt: skip
    """The whole domain: QEMU with software emulation (``type="qemu"``), the guest kernel, a serial console, the
    plugged vNICs. ``networks`` are the ``extnet.net=`` arguments of its vNICs."""
    domain = ET.Element("domain", type="qemu")
    ET.SubElement(domain, "name").text = domain_name
    ET.SubElement(domain, "uuid").text = vm_id
    ET.SubElement(domain, "title").text = title
    ET.SubElement(domain, "memory", unit="MiB").text = str(boot.memory_mib)
    ET.SubElement(domain, "vcpu").text = "1"
    os_ = ET.SubElement(domain, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="q35").text = "hvm"
    ET.SubElement(os_, "kernel").text = boot.kernel
    ET.SubElement(os_, "initrd").text = boot.initrd
    ET.SubElement(os_, "cmdline").text = " ".join([boot.cmdline, *networks])
    ET.SubElement(domain, "on_poweroff").text = "destroy"
    ET.SubElement(domain, "on_crash").text = "destroy"
    devices = ET.SubElement(domain, "devices")
    for vif in vifs:
        devices.append(ET.fromstring(interface_xml(vif, ovs_virtualport)))
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    ET.SubElement(devices, "memballoon", model="none")
    return ET.tostring(domain, encoding="unicode")
