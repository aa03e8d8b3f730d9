"""The ``ovs_agent`` driver: hosts' agents (extnet's host agent, Neutron's Open vSwitch or Linux bridge agent) report
themselves and their ports by heartbeat; ports bind to a host with a live agent; nothing follows a commit (the
agents read what they need through the API)."""

from __future__ import annotations

from extnet.provider.drivers.base import Changes


class OvsAgentDriver:
    name = "ovs_agent"

    def start(self) -> None:
        pass

    def after_commit(self, changes: Changes) -> None:
        pass

    def stop(self) -> None:
        pass
