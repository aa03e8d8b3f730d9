"""``extnet host setup``: ``ovn`` points a test-bed host's Open vSwitch at an OVN central and finds its chassis
registered (and says so when none registers); ``neutron-ovs-agent`` writes a Neutron Open vSwitch agent's
configuration and bridges. Each, run again, changes nothing. Needs root, Open vSwitch and OVN."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dataplane import Bed, bed, needs_dataplane
from tests.ovn import needs_ovn, ovn_central

pytestmark = [needs_dataplane, pytest.mark.dataplane]


@pytest.fixture
def testbed(tmp_path: Path) -> Iterator[Bed]:
    with bed(tmp_path / "host") as made:
        yield made


def setup(testbed: Bed, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "extnet", "host", "setup", *args, "--ovsdb", testbed.ovs.remote]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **testbed.ovs.env()})


@needs_ovn
def test_setup_ovn_configures_the_switch_and_finds_the_chassis(testbed: Bed, tmp_path: Path) -> None:
    with ovn_central(tmp_path / "ovn") as central:
        args = ["ovn", "--central", central.sb, "--encap-ip", "192.0.2.7", "--system-id", "chassis-7",
                "--hostname", "host-7"]  # fmt: skip
        lonely = setup(testbed, *args, "--wait", "1")  # no ovn-controller yet: said, and the exit status says it
        assert lonely.returncode == 1
        assert "error: chassis chassis-7 did not appear in the OVN Southbound database" in lonely.stdout
        assert "changed: Open_vSwitch external_ids:ovn-encap-ip=192.0.2.7" in lonely.stdout
        pid = central.controller(testbed.ovs.run_dir, "chassis-7")
        try:
            done = setup(testbed, *args)
            assert done.returncode == 0, done.stdout + done.stderr
            assert done.stdout.strip() == "nothing to change"  # the first run wrote it all
            ids = testbed.vsctl("get", "Open_vSwitch", ".", "external_ids")
            for pair in ('system-id=chassis-7', 'hostname=host-7', f'ovn-remote="{central.sb}"',
                         'ovn-encap-type=geneve', 'ovn-bridge=br-int'):  # fmt: skip
                assert pair in ids, ids
            assert "chassis-7" in central.sbctl("--columns=name", "list", "Chassis")
            assert testbed.vsctl("get", "Bridge", "br-int", "datapath_type") in ("netdev", "system")
        finally:
            central.stop_daemon(pid)
            central.sbctl("--if-exists", "chassis-del", "chassis-7")


def test_setup_neutron_ovs_agent_writes_its_configuration_and_bridges(testbed: Bed, tmp_path: Path) -> None:
    config = tmp_path / "neutron"
    args = ["neutron-ovs-agent", "--transport-url", "rabbit://neutron:secret@192.0.2.1:5672/", "--bridge-mappings",
            "physnet1:br-ex,physnet2:br-two", "--local-ip", "192.0.2.7", "--config-dir", str(config)]  # fmt: skip
    first = setup(testbed, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "secret" not in first.stdout  # the transport URL's password is never shown
    assert "changed: bridge br-ex" in first.stdout and "changed: bridge br-two" in first.stdout
    agent = configparser.ConfigParser()
    agent.read(config / "plugins" / "ml2" / "openvswitch_agent.ini")
    assert agent["ovs"]["bridge_mappings"] == "physnet1:br-ex,physnet2:br-two"
    assert agent["ovs"]["local_ip"] == "192.0.2.7" and agent["agent"]["tunnel_types"] == "vxlan"
    neutron = configparser.ConfigParser()
    neutron.read(config / "neutron.conf")
    assert neutron["DEFAULT"]["transport_url"] == "rabbit://neutron:secret@192.0.2.1:5672/"
    assert (config / "neutron.conf").stat().st_mode & 0o077 == 0o040  # not readable by others
    assert {"br-int", "br-ex", "br-two"} <= set(testbed.vsctl("list-br").split())
    again = setup(testbed, *args)
    assert again.returncode == 0 and again.stdout.strip() == "nothing to change"
    bad = setup(testbed, "neutron-ovs-agent", "--transport-url", "rabbit://x/", "--bridge-mappings", "physnet1",
                "--config-dir", str(config))  # fmt: skip
    assert bad.returncode == 2 and "bridge mapping 'physnet1' is not PHYSNET:BRIDGE" in bad.stderr


