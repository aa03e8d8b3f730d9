"""The host's capabilities as a typed, versioned structure (``extnet.common.capabilities``): a round trip through
JSON, a report read without failing (unknown fields ignored, wrong types defaulted), the binding host id rule."""

from __future__ import annotations

import json

from extnet.common.capabilities import VERSION, HostCapabilities


def test_round_trip_through_json() -> None:
    caps = HostCapabilities(hostname="h1", runtime="netns", binding_host_ids={"open_vswitch": "h1"},
                            plugin_types=("open_vswitch",), vif_types=("bridge", "ovs"), vif_kinds=("ovs", "bridge"),
                            bridges=("br-int",), tunnel_ip="192.0.2.1", ovs_hybrid_plug=True)  # fmt: skip
    document = json.loads(json.dumps(caps.to_json()))
    assert document["version"] == VERSION == "1.1" and document["vif_kinds"] == ["ovs", "bridge"]
    assert HostCapabilities.read(document) == caps


def test_a_report_is_read_whatever_it_holds() -> None:
    older = {"hostname": "h2", "plugin_types": ["open_vswitch"], "version": "1.0"}  # no vif_kinds yet
    read = HostCapabilities.read(older)
    assert read.hostname == "h2" and read.vif_kinds == () and read.binding("OPEN_VSWITCH") == "h2"
    odd = {"hostname": 7, "bridges": "br-int", "binding_host_ids": ["x"], "ovs_hybrid_plug": "yes", "queues": 4}
    assert HostCapabilities.read(odd) == HostCapabilities()
    assert HostCapabilities.read(None) == HostCapabilities() and HostCapabilities.read([1]) == HostCapabilities()


def test_the_binding_host_id_of_a_plugin_type() -> None:
    caps = HostCapabilities(hostname="h3", binding_host_ids={"ovirt_provider_ovn": "chassis-9"},
                            plugin_types=("open_vswitch", "ovirt_provider_ovn"))  # fmt: skip
    assert caps.binding("OVIRT_PROVIDER_OVN") == "chassis-9"  # the id it reports
    assert caps.binding("open_vswitch") == "h3"  # a plugin type it plugs without an id: its host name
    assert caps.binding("linux_bridge") is None  # one it cannot plug
