"""The ``netns`` runtime, the test bed: each VM is a network namespace ``<prefix>-<vm id>`` (prefix ``extnet``), each
vNIC a veth whose guest end sits in the namespace under the vNIC's name (``nic1``, ...) with its MAC and MTU, and
whose host end (``tap`` + port id) the VIF plugin of the vNIC's kind plugs. Guest addresses are the port's fixed
IPs, set as cloud-init would set them, with the subnet's gateway as the default route (``--guest-ip static``), or
what a DHCP server on the network answers (``--guest-ip dhcp``: busybox's udhcpc in the guest's namespace).

A restarted agent finds its VMs in its state log and their plumbing on the host: it makes sure of each plugged vNIC
again (plugging is idempotent, so nothing is duplicated), forgets a VM whose namespace is gone, and removes what no
VM owns (a namespace of the prefix, an OVS port of a VM it does not run), saying so in its log and capabilities.
"""

from __future__ import annotations

import logging
import re
import threading

from extnet.common.vif import Vif
from extnet.host.networks import ProviderNetworks
from extnet.host.plugins.base import PlugFailure
from extnet.host.privileged import commands, netlink
from extnet.host.runtime.base import RuntimeFacts, RuntimeFailure, VmSpec, VmState, VnicState, same_plumbing
from extnet.host.runtime.dhcp import DhcpClients
from extnet.host.runtime.plumbing import Plumbing
from extnet.host.runtime.state import VmLog
from extnet.host.settings import HostSettings

log = logging.getLogger("extnet.host.netns")

STATE = "netns-state.jsonl"
_IFNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,15}$")


class NetnsRuntime:
    name = "netns"

    def __init__(self, settings: HostSettings, plumbing: Plumbing, networks: ProviderNetworks) -> None:
        self.settings = settings
        self.plumbing = plumbing
        self.networks = networks
        self.prefix = settings.vm_netns_prefix
        self._lock = threading.RLock()
        self._log = VmLog(settings.data_dir / STATE)
        self._dhcp = DhcpClients(settings.data_dir)
        self.cleaned: list[str] = []
        self._recover()

    def facts(self) -> RuntimeFacts:
        return self.plumbing.facts()

    # --- VMs ------------------------------------------------------------------------------------------------

    def namespace(self, vm_id: str) -> str:
        return f"{self.prefix}-{vm_id}"

    def create_vm(self, spec: VmSpec) -> VmState:
        with self._lock:
            netlink.ensure_namespace(self.namespace(spec.id))
            old = self._log.vms.get(spec.id)
            wanted = {vif.vnic_id for vif in spec.vifs}
            for vnic in old.vnics if old else []:
                if vnic.vif.vnic_id not in wanted and vnic.plugged:
                    self._unplug(spec.id, vnic.vif)
            vm = VmState(spec.id, spec.name, "up", [])
            for index, vif in enumerate(spec.vifs):
                before = old.vnic(vif.vnic_id) if old else None
                if vif.plugged:
                    if before and before.plugged and not same_plumbing(before.vif, vif):
                        self._unplug(spec.id, before.vif)
                    self._plug(spec.id, vif, index)
                elif before and before.plugged:
                    self._unplug(spec.id, before.vif)
                vm.vnics.append(VnicState(vif, vif.plugged))
            self._log.save(vm)
            return vm

    def destroy_vm(self, vm_id: str) -> bool:
        with self._lock:
            vm = self._log.vms.get(vm_id)
            for vnic in vm.vnics if vm else []:
                if vnic.plugged:
                    self._unplug(vm_id, vnic.vif)
            self._dhcp.forget(self.namespace(vm_id))
            removed = netlink.remove_namespace(self.namespace(vm_id))
            return self._log.remove(vm_id) or removed

    def ensure_vif_plugged(self, vm_id: str, vif: Vif) -> VnicState:
        with self._lock:
            vm = self._log.vm(vm_id)
            vnic = vm.vnic(vif.vnic_id)
            if vnic is not None and vnic.plugged and not same_plumbing(vnic.vif, vif):
                self._unplug(vm_id, vnic.vif)
            index = vm.vnics.index(vnic) if vnic else len(vm.vnics)
            self._plug(vm_id, vif, index)
            vnic = vm.plugged_now(vif)
            self._log.save(vm)
            return vnic

    def ensure_vif_unplugged(self, vm_id: str, vnic_id: str) -> bool:
        with self._lock:
            return self._log.unplug(vm_id, vnic_id, lambda vif: self._unplug(vm_id, vif))

    def get_vm(self, vm_id: str) -> VmState | None:
        with self._lock:
            vm = self._log.vms.get(vm_id)
            return self._observed(vm) if vm else None

    def list_vms(self) -> list[VmState]:
        with self._lock:
            return list(self._log.vms.values())

    def close(self) -> None:
        with self._lock:
            self._log.close()
            self._dhcp.close()
            self.plumbing.close()

    # --- plugging -------------------------------------------------------------------------------------------

    def _plug(self, vm_id: str, vif: Vif, index: int) -> None:
        plugin = self.plumbing.plugin_for(vif)
        ns, guest = self.namespace(vm_id), guest_name(vif, index)
        try:
            netlink.ensure_guest_veth(self.plumbing.ns, vif.devname, ns, guest, vif.mac, vif.mtu)
            commands.tx_checksum_off(ns, guest)
            plugin.plug(vif, vm_id)
            netlink.set_up(self.plumbing.ns, vif.devname, vif.linked)
            self._address(ns, guest, vif)
        except PlugFailure as err:
            raise RuntimeFailure(str(err)) from None
        except Exception as err:
            log.exception("plugging %s into VM %s failed", vif.label, vm_id)
            raise RuntimeFailure(f"{vif.label}: plugging into VM {vm_id} failed on the host: {err}") from None

    def _unplug(self, vm_id: str, vif: Vif) -> None:
        try:
            netlink.delete_link(self.plumbing.ns, vif.devname)  # and the guest end with it
            if vif.plug is not None and vif.plug.KIND in self.plumbing.plugins:
                self.plumbing.plugins[vif.plug.KIND].unplug(vif)
        except Exception as err:
            log.exception("unplugging %s from VM %s failed", vif.label, vm_id)
            raise RuntimeFailure(f"{vif.label}: unplugging from VM {vm_id} failed on the host: {err}") from None

    def _address(self, ns: str, guest: str, vif: Vif) -> None:
        if self.settings.guest_ip == "dhcp":
            self._dhcp.ask(ns, guest)
            return
        if not vif.fixed_ips:
            return
        info = self.networks.network(vif.provider.id, vif.network.id)
        if info is None:
            return
        cidrs, gateway = [], None
        for fixed in vif.fixed_ips:
            subnet = info.subnets.get(fixed.subnet_id)
            if subnet is not None:
                cidrs.append(f"{fixed.ip_address}/{subnet.cidr.rpartition('/')[2]}")
                gateway = gateway or subnet.gateway_ip
        netlink.ensure_addresses(ns, guest, cidrs, gateway)

    def _observed(self, vm: VmState) -> VmState:
        """The VM with the addresses its guest devices have now."""
        ns = self.namespace(vm.id)
        for index, vnic in enumerate(vm.vnics):
            vnic.guest_name = guest_name(vnic.vif, index)
            vnic.addresses = netlink.addresses(ns, vnic.guest_name) if vnic.plugged else []
        return vm

    # --- after a restart ------------------------------------------------------------------------------------

    def _recover(self) -> None:
        present = set(netlink.namespaces())
        for vm in list(self._log.vms.values()):
            if self.namespace(vm.id) not in present:
                log.warning("VM %s (%s): its namespace is gone; it no longer runs here", vm.name, vm.id)
                self._log.remove(vm.id)
                continue
            for index, vnic in enumerate(vm.vnics):
                if vnic.plugged:
                    self._plug(vm.id, vnic.vif, index)
        for ns in sorted(present):
            if ns.startswith(self.prefix + "-") and ns[len(self.prefix) + 1 :] not in self._log.vms:
                netlink.remove_namespace(ns)
                self.cleaned.append(f"namespace {ns}")
        owned = {vnic.vif.port_id for vm in self._log.vms.values() for vnic in vm.vnics if vnic.plugged}
        self.cleaned.extend(self.plumbing.clean_ports(owned))
        for item in self.cleaned:
            log.warning("removed %s: no VM of this host owns it", item)


def guest_name(vif: Vif, index: int) -> str:
    return vif.vnic_name if _IFNAME.match(vif.vnic_name) else f"eth{index}"
