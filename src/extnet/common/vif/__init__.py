"""The VIF contract between the engine and its host agents (``model``), with the kinds of plugging (``kinds``)."""

from extnet.common.vif.kinds import (
    BRIDGE,
    KINDS,
    OVS,
    OVS_HYBRID,
    UNBOUND_VIF_TYPES,
    Binding,
    BridgePlug,
    OvsHybridPlug,
    OvsPlug,
    VifDetails,
    VifPlug,
    device_name,
    plug_for,
)
from extnet.common.vif.model import (
    VERSION,
    FixedIp,
    Vif,
    VifError,
    VifNetwork,
    VifPort,
    VifProvider,
    VifVersionError,
    check_version,
    devname_for,
)

__all__ = [
    "BRIDGE", "KINDS", "OVS", "OVS_HYBRID", "UNBOUND_VIF_TYPES", "VERSION", "Binding", "BridgePlug", "FixedIp",
    "OvsHybridPlug", "OvsPlug", "Vif", "VifDetails", "VifError", "VifNetwork", "VifPlug", "VifPort", "VifProvider",
    "VifVersionError", "check_version", "device_name", "devname_for", "plug_for",
]  # fmt: skip
