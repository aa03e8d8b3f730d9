"""The VIF contract (``extnet.common.vif``): a round trip through JSON, versions, the rules, built from a port."""

from __future__ import annotations

import json
import uuid

import pytest

from extnet.common.vif import (
    VERSION,
    BridgePlug,
    FixedIp,
    OvsHybridPlug,
    OvsPlug,
    Vif,
    VifDetails,
    VifError,
    VifNetwork,
    VifProvider,
    VifVersionError,
    devname_for,
)
from extnet.engine.providers.neutron import ProviderPort, port_from
from tests.host.rpc import vif


def test_round_trip_through_json() -> None:
    document = vif()
    parsed = Vif.from_json(json.loads(json.dumps(document)))
    # a 1.0 document has no plug: the reader derives it from vif_type and vif_details
    assert parsed.to_json() == {**document, "plug": {"kind": "ovs", "devname": document["devname"], "bridge": "br-int",
                                                     "datapath_type": "system"}}  # fmt: skip
    assert Vif.from_json(parsed.to_json()) == parsed
    assert parsed.vif_details == VifDetails(True, "br-int", "system", False)
    assert parsed.fixed_ips == (FixedIp(document["fixed_ips"][0]["subnet_id"], "10.0.0.5"),)


def test_defaults_of_fields_a_sender_leaves_out() -> None:
    port_id = str(uuid.uuid4())
    document = {"version": "1.0", "vnic_id": str(uuid.uuid4()), "port_id": port_id, "mac": "FA:16:3E:00:00:01",
                "network": {"id": "n", "name": "net"}, "provider": {"id": "p", "type": "neutron"},
                "plugin_type": "open_vswitch", "vif_type": "ovs"}  # fmt: skip
    parsed = Vif.from_json(document)
    assert parsed.devname == devname_for(port_id) == f"tap{port_id[:11]}"
    assert parsed.mac == "fa:16:3e:00:00:01" and parsed.mtu is None and parsed.model == "virtio"
    assert (parsed.plugged, parsed.linked, parsed.fixed_ips, parsed.security_groups) == (True, True, (), ())
    assert parsed.vif_details == VifDetails()


@pytest.mark.parametrize("version", ["0.9", "2.0", "10.1"])
def test_an_unknown_major_version_is_refused(version: str) -> None:
    with pytest.raises(VifVersionError) as err:
        Vif.from_json(vif(version=version))
    assert f"VIF contract version {version} is not supported" in str(err.value)


@pytest.mark.parametrize("version", [None, "1", "one.two", 1.0])
def test_a_version_that_is_not_major_minor_is_malformed(version: object) -> None:
    with pytest.raises(VifError) as err:
        Vif.from_json(vif(version=version))
    assert not isinstance(err.value, VifVersionError) and "MAJOR.MINOR" in str(err.value)


def test_a_newer_minor_version_is_read_without_its_new_fields() -> None:
    parsed = Vif.from_json(vif(version="1.42", queues=4))
    assert parsed.version == "1.42" and "queues" not in parsed.to_json()


def test_every_broken_rule_is_reported_naming_the_vnic() -> None:
    bad = vif(vnic_name="eth1", vnic_id="x", mac="zz", mtu=70000, vif_type="", devname="a-very-long-device-name",
              security_groups=[1], fixed_ips=[{"subnet_id": "s"}], plugged="yes")  # fmt: skip
    with pytest.raises(VifError) as err:
        Vif.from_json(bad)
    problems = err.value.problems
    expected = ["vnic_id 'x' is not a UUID", "mac 'zz'", "mtu 70000", "vif_type must be", "devname 'a-very-long",
                "security_groups must be", "each fixed IP needs", "plugged must be true or false"]  # fmt: skip
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert all(p.startswith("vNIC 'eth1'") for p in problems)
    with pytest.raises(VifError):
        Vif.from_json(["not", "an", "object"])


def test_built_from_a_neutron_port() -> None:
    details = {"port_filter": True, "bridge_name": "br-int", "datapath_type": "system", "ovs_hybrid_plug": False}
    port = {"id": str(uuid.uuid4()), "mac_address": "fa:16:3e:12:34:56", "network_id": str(uuid.uuid4()),
            "binding:vif_type": "ovs", "binding:vif_details": details, "security_groups": ["sg1", "sg2"],
            "fixed_ips": [{"subnet_id": "sub", "ip_address": "10.1.0.4"}]}  # fmt: skip
    provider = VifProvider(str(uuid.uuid4()), "external")
    built = Vif.from_port(_parsed(port), vnic_id=str(uuid.uuid4()), vnic_name="nic1", network_name="red",
                          provider=provider, plugin_type="open_vswitch", mtu=1442, linked=False)  # fmt: skip
    assert built.port_id == port["id"] and built.devname == devname_for(port["id"]) and built.version == VERSION
    assert built.network == VifNetwork(port["network_id"], "red") and built.mtu == 1442 and built.linked is False
    assert built.vif_details.bridge_name == "br-int" and built.vif_details.port_filter is True
    assert built.fixed_ips == (FixedIp("sub", "10.1.0.4"),) and built.security_groups == ("sg1", "sg2")
    assert built.bound
    unbound = Vif.from_port(_parsed({**port, "binding:vif_type": "binding_failed", "binding:vif_details": {}}),
                            vnic_id=str(uuid.uuid4()), vnic_name="nic1", network_name="red", provider=provider,
                            plugin_type="open_vswitch")  # fmt: skip
    assert not unbound.bound and unbound.vif_details == VifDetails()


def _port(vif_type: str, **details: object) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "mac_address": "fa:16:3e:12:34:56", "network_id": str(uuid.uuid4()),
            "binding:vif_type": vif_type, "binding:vif_details": details}  # fmt: skip


def _parsed(raw: dict[str, object]) -> ProviderPort:
    """The port as the engine reads Neutron's answer (``extnet.engine.providers.neutron``)."""
    port = port_from(raw)
    assert port is not None
    return port


def _built(port: dict[str, object]) -> Vif:
    return Vif.from_port(_parsed(port), vnic_id=str(uuid.uuid4()), vnic_name="nic1", network_name="red",
                         provider=VifProvider(str(uuid.uuid4()), "external"), plugin_type="open_vswitch")  # fmt: skip


def test_the_kind_of_plugging_is_read_from_the_binding_as_nova_reads_it() -> None:
    ovs = _port("ovs", port_filter=True, bridge_name="br-int", datapath_type="netdev", ovs_hybrid_plug=False)
    assert _built(ovs).plug == OvsPlug(f"tap{ovs['id']}"[:14], "br-int", "netdev")
    hybrid = _port("ovs", port_filter=True, bridge_name="br-int", ovs_hybrid_plug=True)
    pid = str(hybrid["id"])
    assert _built(hybrid).plug == OvsHybridPlug(f"tap{pid[:11]}", "br-int", "system", f"qbr{pid[:11]}",
                                                f"qvb{pid[:11]}", f"qvo{pid[:11]}")  # fmt: skip
    assert _built(hybrid).plug.devices() == (f"tap{pid[:11]}", f"qbr{pid[:11]}", f"qvb{pid[:11]}", f"qvo{pid[:11]}")
    bridge = _port("bridge", port_filter=True)
    assert _built(bridge).plug == BridgePlug(f"tap{bridge['id']}"[:14], f"brq{bridge['network_id']}"[:14])
    assert _built(_port("bridge", bridge_name="br-phys")).plug.bridge == "br-phys"  # type: ignore[union-attr]
    assert _built(_port("binding_failed")).plug is None and _built(_port("vhostuser")).plug is None


def test_the_plug_goes_over_the_wire_and_an_unknown_kind_is_derived_again() -> None:
    hybrid = _built(_port("ovs", ovs_hybrid_plug=True))
    document = hybrid.to_json()
    assert document["version"] == VERSION == "1.1" and document["plug"]["kind"] == "ovs_hybrid"
    assert Vif.from_json(json.loads(json.dumps(document))) == hybrid
    newer = {**document, "version": "1.7", "plug": {"kind": "vdpa", "devname": "x"}}
    assert Vif.from_json(newer).plug == hybrid.plug  # a kind of a newer minor: derived from the binding
    with pytest.raises(VifError) as err:
        Vif.from_json({**document, "plug": {"kind": "ovs"}})
    assert "plug ovs needs its bridge and device names" in str(err.value)
