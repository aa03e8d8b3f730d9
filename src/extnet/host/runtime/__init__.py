"""Runtimes: ``noop`` (records what it is asked, plugs nothing); ``netns`` and ``libvirt`` come with the data plane."""

from __future__ import annotations

from extnet.host.runtime.base import Runtime, RuntimeUnavailable
from extnet.host.settings import HostSettings

NOT_YET = {
    "netns": "network namespaces with Open vSwitch ports",
    "libvirt": "libvirt domains with Open vSwitch ports",
}


def make_runtime(settings: HostSettings, unique_id: str) -> Runtime:
    if settings.runtime == "noop":
        from extnet.host.runtime.noop import NoopRuntime

        return NoopRuntime(settings, unique_id)
    raise RuntimeUnavailable(
        f"runtime '{settings.runtime}' ({NOT_YET[settings.runtime]}) is not available yet: start the agent with "
        "--runtime noop (EXTNET_HOST_RUNTIME=noop)"
    )
