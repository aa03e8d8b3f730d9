"""The VIF contract: what the engine tells a host agent about each vNIC it must plug (the private contract between
the two programs; see docs/host-agent.md).

One ``Vif`` per vNIC, built by the engine from its vNIC and from the provider's answer for the vNIC's port, as the
engine parsed it (a ``VifPort``: its binding's ``vif_type`` and ``vif_details``, as Nova builds its VIF model), and
sent as JSON. The structure is
versioned ``MAJOR.MINOR``: a host refuses a major version it does not speak; within a major version fields are only
ever added (a newer minor), so a reader ignores the fields it does not know and defaults the ones it does not get.
The fields are declared once, on the classes, and (de)serialized from there (``extnet.common.codec``).

Versions: 1.0 the first; 1.1 adds ``plug``, the kind of plugging with its device names (``kinds.py``), which a
reader derives from ``vif_type`` and ``vif_details`` when a 1.0 sender leaves it out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from extnet.common.codec import decode, encode
from extnet.common.vif.kinds import UNBOUND_VIF_TYPES, Binding, VifDetails, VifPlug, plug_for

VERSION = "1.1"
SUPPORTED_MAJORS = (1,)
DEVNAME_PREFIX = "tap"
DEVNAME_MAX = 14  # Nova's NIC_NAME_LEN: "tap" + the first 11 characters of the port id
IFNAME_MAX = 15  # Linux IFNAMSIZ - 1
MTU_MIN, MTU_MAX = 68, 65535

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_VERSION_RE = re.compile(r"^(\d{1,4})\.(\d{1,4})$")


class VifError(ValueError):
    """A VIF structure is malformed; ``problems`` lists every broken rule, each naming the vNIC."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class VifVersionError(VifError):
    """The VIF structure has a major version this side does not speak."""


def devname_for(port_id: str) -> str:
    """The guest TAP device name of a port, as Nova and oVirt's openstacknet hook name it."""
    return (DEVNAME_PREFIX + port_id)[:DEVNAME_MAX]


def parse_version(text: Any) -> tuple[int, int]:
    match = _VERSION_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise VifError([f"VIF version {text!r} is not MAJOR.MINOR (e.g. {VERSION})"])
    return int(match.group(1)), int(match.group(2))


def check_version(text: Any) -> tuple[int, int]:
    major, minor = parse_version(text)
    if major not in SUPPORTED_MAJORS:
        spoken = ", ".join(f"{m}.x" for m in SUPPORTED_MAJORS)
        raise VifVersionError([f"VIF contract version {text} is not supported: this side speaks {spoken}; upgrade "
                               "the older of the engine and the host agent"])  # fmt: skip
    return major, minor


@dataclass(frozen=True)
class VifNetwork:
    id: str  # the network's id on the provider (the port's network_id)
    name: str  # the engine's name of the network


@dataclass(frozen=True)
class VifProvider:
    id: str  # the engine's id of the provider
    type: str  # the engine's provider type: neutron | external


@dataclass(frozen=True)
class FixedIp:
    subnet_id: str = ""
    ip_address: str = ""


class VifPort(Protocol):
    """What the VIF builder reads of a provider's port, parsed (the engine's ``ProviderPort`` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def mac(self) -> str | None: ...

    @property
    def network_id(self) -> str | None: ...

    @property
    def binding(self) -> Binding: ...

    @property
    def fixed_ips(self) -> tuple[FixedIp, ...]: ...

    @property
    def security_groups(self) -> tuple[str, ...] | None: ...


@dataclass(frozen=True)
class Vif:
    vnic_id: str
    port_id: str
    mac: str
    network: VifNetwork
    provider: VifProvider
    plugin_type: str
    vif_type: str
    vif_details: VifDetails = field(default_factory=VifDetails)
    vnic_name: str = ""
    mtu: int | None = None
    model: str = "virtio"
    devname: str = ""  # empty: devname_for(port_id)
    fixed_ips: tuple[FixedIp, ...] = ()
    security_groups: tuple[str, ...] = ()
    plugged: bool = True
    linked: bool = True
    plug: VifPlug | None = None  # 1.1; None: not bound, or a vif_type no host of ours plugs
    version: str = VERSION

    def __post_init__(self) -> None:
        if not self.devname and isinstance(self.port_id, str):
            object.__setattr__(self, "devname", devname_for(self.port_id))
        if isinstance(self.mac, str):
            object.__setattr__(self, "mac", self.mac.lower())
        if self.plug is None and isinstance(self.port_id, str) and isinstance(self.network.id, str):
            binding = Binding(None, self.vif_type if isinstance(self.vif_type, str) else "", self.vif_details)
            object.__setattr__(self, "plug", plug_for(binding, self.port_id, self.network.id, self.devname))
        problems = self.problems()
        if problems:
            raise VifError(problems)

    @property
    def label(self) -> str:
        return f"vNIC '{self.vnic_name}' ({self.vnic_id})" if self.vnic_name else f"vNIC {self.vnic_id}"

    @property
    def bound(self) -> bool:
        return self.vif_type not in UNBOUND_VIF_TYPES

    def problems(self) -> list[str]:
        """Every broken rule of the structure, each naming the vNIC."""
        found: list[str] = []
        try:
            check_version(self.version)
        except VifError as err:
            found.extend(err.problems)
        for name in ("vnic_id", "port_id"):
            if not _is_uuid(getattr(self, name)):
                found.append(f"{self.label}: {name} {getattr(self, name)!r} is not a UUID")
        if not isinstance(self.mac, str) or not _MAC_RE.match(self.mac):
            found.append(f"{self.label}: mac {self.mac!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
        if self.mtu is not None and (not _is_int(self.mtu) or not MTU_MIN <= self.mtu <= MTU_MAX):
            found.append(f"{self.label}: mtu {self.mtu!r} is not between {MTU_MIN} and {MTU_MAX}")
        for name in ("plugin_type", "vif_type", "model"):
            if not _is_text(getattr(self, name)):
                found.append(f"{self.label}: {name} must be a non-empty string")
        if not _is_text(self.network.id) or not isinstance(self.network.name, str):
            found.append(f"{self.label}: network needs an id and a name")
        if not _is_text(self.provider.id) or not _is_text(self.provider.type):
            found.append(f"{self.label}: provider needs an id and a type")
        if not _is_ifname(self.devname):
            found.append(f"{self.label}: devname {self.devname!r} is not a Linux interface name of at most "
                         f"{IFNAME_MAX} characters")  # fmt: skip
        if self.plug is not None:
            bad = [name for name in self.plug.devices() if not _is_ifname(name)]
            if bad or not all(_is_text(getattr(self.plug, name, "x")) for name in ("bridge", "datapath_type")):
                found.append(f"{self.label}: plug {self.plug.KIND} needs its bridge and device names (Linux "
                             f"interface names of at most {IFNAME_MAX} characters)")  # fmt: skip
        if not all(_is_text(group) for group in self.security_groups):
            found.append(f"{self.label}: security_groups must be a list of ids")
        if not all(_is_text(ip.subnet_id) and _is_text(ip.ip_address) for ip in self.fixed_ips):
            found.append(f"{self.label}: each fixed IP needs a subnet_id and an ip_address")
        found.extend(f"{self.label}: {name} must be true or false" for name in ("plugged", "linked")
                     if not isinstance(getattr(self, name), bool))  # fmt: skip
        return found

    @property
    def kind(self) -> str | None:
        return self.plug.KIND if self.plug else None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = encode(self)
        return document

    @classmethod
    def from_json(cls, data: Any) -> Vif:
        """Read a VIF sent by the other side: a major version this side does not speak is a ``VifVersionError``,
        anything malformed a ``VifError`` listing every problem; fields of a newer minor version are ignored."""
        if not isinstance(data, dict):
            raise VifError(["a VIF must be a JSON object"])
        check_version(data.get("version"))
        label = f"vNIC {data.get('vnic_name') or data.get('vnic_id')!r}"
        problems: list[str] = []
        try:
            parsed = decode(cls, data, label, problems)
        except VifError as err:
            raise VifError(problems + err.problems) from None
        except TypeError as err:  # a field of the wrong shape that the rules did not foresee
            raise VifError([*problems, f"{label}: {err}"]) from None
        if problems or parsed is None:
            raise VifError(problems)
        return parsed

    @classmethod
    def from_port(
        cls, port: VifPort, *, vnic_id: str, vnic_name: str, network_name: str, provider: VifProvider,
        plugin_type: str, mtu: int | None = None, plugged: bool = True, linked: bool = True, model: str = "virtio",
    ) -> Vif:  # fmt: skip
        """The VIF of a vNIC from the provider's answer for its port; what the answer lacks (a MAC, a network) is
        a ``VifError``."""
        binding = port.binding
        return cls(
            vnic_id=vnic_id, vnic_name=vnic_name, port_id=port.id, mac=port.mac or "", mtu=mtu, model=model,
            network=VifNetwork(port.network_id or "", network_name), provider=provider, plugin_type=plugin_type,
            vif_type=binding.vif_type, vif_details=binding.details, fixed_ips=port.fixed_ips,
            security_groups=port.security_groups or (), plugged=plugged, linked=linked,
        )  # fmt: skip


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_ifname(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= IFNAME_MAX and _IFNAME_RE.match(value) is not None
