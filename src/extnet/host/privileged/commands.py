"""The privileged commands no library here covers."""

from __future__ import annotations

import subprocess


def tx_checksum_off(ns: str | None, device: str) -> None:
    """Turn off TX checksum offload on ``device``: Open vSwitch's userspace datapath forwards the frames of a veth
    with the checksum left to the hardware, so TCP fails across it (ping and UDP work) until the sender computes
    checksums itself. pyroute2's ethtool support cannot reach into another namespace."""
    prefix = ["ip", "netns", "exec", ns] if ns else []
    subprocess.run([*prefix, "ethtool", "-K", device, "tx", "off"], check=True, capture_output=True, timeout=30)
