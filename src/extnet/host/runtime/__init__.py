"""Runtimes: ``noop`` (records what it is asked, plugs nothing), ``netns`` (VMs as network namespaces, the test bed)
and ``libvirt`` (real guests)."""

from __future__ import annotations

from extnet.host.networks import ProviderNetworks
from extnet.host.runtime.base import Runtime, RuntimeUnavailable
from extnet.host.settings import HostSettings


def make_runtime(settings: HostSettings, unique_id: str, networks: ProviderNetworks) -> Runtime:
    if settings.runtime == "noop":
        from extnet.host.runtime.noop import NoopRuntime

        return NoopRuntime(settings, unique_id)
    from extnet.host.runtime.plumbing import Plumbing

    if settings.runtime == "libvirt" and not (settings.guest_kernel and settings.guest_initrd):
        raise RuntimeUnavailable("runtime 'libvirt' boots its guests from a kernel and an initramfs: give "
                                 "--guest-kernel and --guest-initrd (EXTNET_HOST_GUEST_KERNEL, "
                                 "EXTNET_HOST_GUEST_INITRD)")  # fmt: skip

    try:
        plumbing = Plumbing(settings, networks)
    except PermissionError as err:
        raise RuntimeUnavailable(f"runtime '{settings.runtime}' plugs devices and needs root (CAP_NET_ADMIN): "
                                 f"{err}") from None  # fmt: skip
    if settings.runtime == "netns":
        from extnet.host.runtime.netns import NetnsRuntime

        return NetnsRuntime(settings, plumbing, networks)
    from extnet.host.runtime.libvirt import LibvirtRuntime

    try:
        return LibvirtRuntime(settings, plumbing, networks)
    except RuntimeUnavailable:
        plumbing.close()
        raise
