"""VIF plugins, one per kind of plugging (``extnet.common.vif.kinds``), as os-vif has one per VIF type: each makes
the host side of a vNIC (bridges, veths, OVS ports) around the guest device its runtime made, and undoes exactly
that. They are separate from the runtimes, which make the guest devices and run the VMs."""

from __future__ import annotations

from extnet.common.vif import BRIDGE, OVS, OVS_HYBRID
from extnet.host.plugins.base import HostSwitch, VifPlugin
from extnet.host.plugins.bridge import BridgePlugin
from extnet.host.plugins.ovs import OvsHybridPlugin, OvsPlugin


def plugins_for(switch: HostSwitch) -> dict[str, VifPlugin]:
    """The plugins this host can run: the OVS kinds only where an Open vSwitch answers."""
    found: dict[str, VifPlugin] = {BRIDGE: BridgePlugin(switch)}
    if switch.ovs is not None:
        found[OVS] = OvsPlugin(switch)
        found[OVS_HYBRID] = OvsHybridPlugin(switch)
    return found
