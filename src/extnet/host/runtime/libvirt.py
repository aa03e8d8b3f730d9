"""The ``libvirt`` runtime: each VM is a libvirt domain (QEMU; software emulation where there is no usable KVM)
named ``<prefix>-<vm id>`` with the VM's id as its UUID, booted from the guest kernel and initramfs the host is
given (``--guest-kernel``, ``--guest-initrd``), one ``<interface>`` per plugged vNIC in the shape of its kind
(``domain.py``), driven through libvirt-python against a local libvirtd (``--libvirt-uri``, default
``qemu:///system``).

Bridge-shaped kinds (``ovs_hybrid``, ``bridge``) have their bridge made before the domain starts (libvirt puts the
tap in it); every vNIC is then plugged again once its tap exists (the ``ovs`` kind's tap goes on ``br-int`` then).
A restarted agent keeps the domains it runs, forgets a VM whose domain is gone, and destroys a domain of its prefix
that no VM of its own owns.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from extnet.common.vif import BRIDGE, OVS_HYBRID, Vif
from extnet.host.networks import ProviderNetworks
from extnet.host.plugins.base import PlugFailure
from extnet.host.runtime.base import (
    RuntimeFacts,
    RuntimeFailure,
    RuntimeUnavailable,
    VmMissing,
    VmSpec,
    VmState,
    VnicState,
    same_plumbing,
)
from extnet.host.runtime.domain import GuestBoot, domain_xml, interface_xml
from extnet.host.runtime.plumbing import Plumbing
from extnet.host.runtime.state import VmLog
from extnet.host.settings import HostSettings

log = logging.getLogger("extnet.host.libvirt")

STATE = "libvirt-state.jsonl"
PRE_PLUGGED = (OVS_HYBRID, BRIDGE)  # their bridge must exist before libvirt puts the tap in it


def _libvirt() -> Any:
    try:
        import libvirt
    except ImportError:
        raise RuntimeUnavailable("runtime 'libvirt' needs libvirt-python (apt-get install libvirt-dev, then pip "
                                 "install libvirt-python)") from None  # fmt: skip
    return libvirt


class LibvirtRuntime:
    name = "libvirt"

    def __init__(self, settings: HostSettings, plumbing: Plumbing, networks: ProviderNetworks) -> None:
        if not settings.guest_kernel or not settings.guest_initrd:
            raise RuntimeUnavailable("runtime 'libvirt' boots its guests from a kernel and an initramfs: give "
                                     "--guest-kernel and --guest-initrd (EXTNET_HOST_GUEST_KERNEL, "
                                     "EXTNET_HOST_GUEST_INITRD)")  # fmt: skip
        self.lib = _libvirt()
        try:
            self.conn = self.lib.open(settings.libvirt_uri)
        except self.lib.libvirtError as err:
            raise RuntimeUnavailable(f"runtime 'libvirt': no libvirtd answers at {settings.libvirt_uri} ({err}); "
                                     "start it (libvirtd -d, with virtlogd -d)") from None  # fmt: skip
        self.settings = settings
        self.plumbing = plumbing
        self.networks = networks
        self.boot = GuestBoot(settings.guest_kernel, settings.guest_initrd, settings.guest_memory_mib)
        self.prefix = settings.vm_netns_prefix
        self.ovs_virtualport = plumbing.datapath_type == "system"  # libvirt runs ovs-vsctl itself for these
        self._lock = threading.RLock()
        self._log = VmLog(settings.data_dir / STATE)
        self.cleaned: list[str] = []
        self._recover()

    def facts(self) -> RuntimeFacts:
        return self.plumbing.facts()

    def domain_name(self, vm_id: str) -> str:
        return f"{self.prefix}-{vm_id}"

    def xml(self, vm_id: str, name: str, vifs: list[Vif]) -> str:
        return domain_xml(vm_id, self.domain_name(vm_id), name, vifs, self.boot, [self._net_arg(v) for v in vifs],
                          self.ovs_virtualport)  # fmt: skip

    # --- VMs ------------------------------------------------------------------------------------------------

    def create_vm(self, spec: VmSpec) -> VmState:
        with self._lock:
            if self._domain(spec.id) is not None and spec.id in self._log.vms:
                return self._reconcile(spec)
            plugged = [vif for vif in spec.vifs if vif.plugged]
            try:
                for vif in plugged:
                    self._pre_plug(spec.id, vif)
                domain = self.conn.defineXML(self.xml(spec.id, spec.name, plugged))
                domain.create()
                for vif in plugged:
                    self._post_plug(spec.id, vif)
            except self.lib.libvirtError as err:
                self._undefine(spec.id)
                raise RuntimeFailure(f"VM '{spec.name}' ({spec.id}) did not start under libvirt: {err}") from None
            vm = VmState(spec.id, spec.name, "up", [VnicState(vif, vif.plugged) for vif in spec.vifs])
            self._log.save(vm)
            return vm

    def destroy_vm(self, vm_id: str) -> bool:
        with self._lock:
            vm = self._log.vms.get(vm_id)
            found = self._undefine(vm_id)
            for vnic in vm.vnics if vm else []:
                if vnic.plugged:
                    self._unplug_host(vnic.vif)
            return self._log.remove(vm_id) or found

    def ensure_vif_plugged(self, vm_id: str, vif: Vif) -> VnicState:
        with self._lock:
            vm = self._log.vm(vm_id)
            vnic = vm.vnic(vif.vnic_id)
            if vnic is not None and vnic.plugged:
                if same_plumbing(vnic.vif, vif):
                    self._post_plug(vm_id, vif)
                    vnic.vif = vif
                    self._log.save(vm)
                    return vnic
                self._detach(vm_id, vnic.vif)
            self._pre_plug(vm_id, vif)
            self._attach(vm_id, vif)
            self._post_plug(vm_id, vif)
            vnic = vm.plugged_now(vif)
            self._log.save(vm)
            return vnic

    def ensure_vif_unplugged(self, vm_id: str, vnic_id: str) -> bool:
        with self._lock:
            return self._log.unplug(vm_id, vnic_id, lambda vif: self._detach(vm_id, vif))

    def get_vm(self, vm_id: str) -> VmState | None:
        with self._lock:
            vm = self._log.vms.get(vm_id)
            if vm is None:
                return None
            seen = self._addresses(vm_id)
            for vnic in vm.vnics:
                vnic.addresses = seen.get(vnic.vif.mac, []) if vnic.plugged else []
            return vm

    def list_vms(self) -> list[VmState]:
        with self._lock:
            return list(self._log.vms.values())

    def close(self) -> None:
        with self._lock:
            self._log.close()
            self.plumbing.close()
            self.conn.close()

    # --- plugging -------------------------------------------------------------------------------------------

    def _pre_plug(self, vm_id: str, vif: Vif) -> None:
        if vif.kind in PRE_PLUGGED:
            self._plug_host(vm_id, vif)

    def _post_plug(self, vm_id: str, vif: Vif) -> None:
        self._plug_host(vm_id, vif)

    def _plug_host(self, vm_id: str, vif: Vif) -> None:
        plugin = self.plumbing.plugin_for(vif)
        try:
            plugin.plug(vif, vm_id)
        except PlugFailure as err:
            raise RuntimeFailure(str(err)) from None
        except Exception as err:
            log.exception("plugging %s into VM %s failed", vif.label, vm_id)
            raise RuntimeFailure(f"{vif.label}: plugging into VM {vm_id} failed on the host: {err}") from None

    def _unplug_host(self, vif: Vif) -> None:
        if vif.plug is not None and vif.plug.KIND in self.plumbing.plugins:
            self.plumbing.plugins[vif.plug.KIND].unplug(vif)

    def _attach(self, vm_id: str, vif: Vif) -> None:
        domain = self._domain(vm_id)
        if domain is None:
            raise VmMissing(vm_id)
        try:
            domain.attachDeviceFlags(interface_xml(vif, self.ovs_virtualport), self.lib.VIR_DOMAIN_AFFECT_LIVE)
        except self.lib.libvirtError as err:
            raise RuntimeFailure(f"{vif.label}: hot-plugging into VM {vm_id} failed: {err}") from None

    def _detach(self, vm_id: str, vif: Vif) -> None:
        domain = self._domain(vm_id)
        if domain is not None:
            try:
                domain.detachDeviceFlags(interface_xml(vif, self.ovs_virtualport), self.lib.VIR_DOMAIN_AFFECT_LIVE)
            except self.lib.libvirtError as err:
                raise RuntimeFailure(f"{vif.label}: hot-unplugging from VM {vm_id} failed: {err}") from None
        self._unplug_host(vif)

    def _net_arg(self, vif: Vif) -> str:
        if self.settings.guest_ip == "dhcp":
            return f"extnet.net={vif.mac},dhcp"
        info = self.networks.network(vif.provider.id, vif.network.id) if vif.fixed_ips else None
        for fixed in vif.fixed_ips:
            subnet = info.subnets.get(fixed.subnet_id) if info else None
            if subnet is not None and ":" not in fixed.ip_address:
                gateway = f",{subnet.gateway_ip}" if subnet.gateway_ip else ""
                return f"extnet.net={vif.mac},{fixed.ip_address}/{subnet.cidr.rpartition('/')[2]}{gateway}"
        return f"extnet.net={vif.mac}"

    # --- domains --------------------------------------------------------------------------------------------

    def _domain(self, vm_id: str) -> Any:
        try:
            return self.conn.lookupByName(self.domain_name(vm_id))
        except self.lib.libvirtError:
            return None

    def _undefine(self, vm_id: str) -> bool:
        domain = self._domain(vm_id)
        if domain is None:
            return False
        if domain.isActive():
            domain.destroy()
        domain.undefine()
        return True

    def _addresses(self, vm_id: str) -> dict[str, list[str]]:
        """{MAC: [IP/prefix]} the host sees the guest use (its ARP table), libvirt's only view without an agent."""
        domain = self._domain(vm_id)
        if domain is None or not domain.isActive():
            return {}
        try:
            found = domain.interfaceAddresses(self.lib.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP)
        except self.lib.libvirtError:
            return {}
        return {iface["hwaddr"]: [f"{a['addr']}/{a['prefix']}" for a in iface.get("addrs") or []]
                for iface in found.values()}  # fmt: skip

    def _reconcile(self, spec: VmSpec) -> VmState:
        """A create for a VM that runs: bring its vNICs to the spec by hot-plugging."""
        vm = self._log.vms[spec.id]
        wanted = {vif.vnic_id: vif for vif in spec.vifs}
        for vnic in list(vm.vnics):
            target = wanted.get(vnic.vif.vnic_id)
            if vnic.plugged and (target is None or not target.plugged):
                self.ensure_vif_unplugged(spec.id, vnic.vif.vnic_id)
        for vif in spec.vifs:
            if vif.plugged:
                self.ensure_vif_plugged(spec.id, vif)
        vm.vnics = [vm.vnic(vif.vnic_id) or VnicState(vif, False) for vif in spec.vifs]
        vm.name = spec.name
        self._log.save(vm)
        return vm

    def _recover(self) -> None:
        for vm in list(self._log.vms.values()):
            domain = self._domain(vm.id)
            if domain is None or not domain.isActive():
                log.warning("VM %s (%s): its domain is gone; it no longer runs here", vm.name, vm.id)
                self._log.remove(vm.id)
                continue
            for vnic in vm.vnics:
                if vnic.plugged:
                    self._plug_host(vm.id, vnic.vif)
        mine = self.prefix + "-"
        for domain in self.conn.listAllDomains():
            name = domain.name()
            if name.startswith(mine) and name[len(mine) :] not in self._log.vms:
                if domain.isActive():
                    domain.destroy()
                domain.undefine()
                self.cleaned.append(f"libvirt domain {name}")
        owned = {vnic.vif.port_id for vm in self._log.vms.values() for vnic in vm.vnics if vnic.plugged}
        self.cleaned.extend(self.plumbing.clean_ports(owned))
        for item in self.cleaned:
            log.warning("removed %s: no VM of this host owns it", item)
