"""A real guest for the ``libvirt`` runtime, assembled from Debian packages only (nothing downloaded from elsewhere):
Debian's cloud kernel (``linux-image-*-cloud-amd64``) and an initramfs of ``busybox-static`` that loads virtio_net,
sets each NIC's address from the kernel command line (``extnet.net=MAC,IP/PREFIX[,GATEWAY]``, which the runtime
writes from the port's fixed IPs, or ``extnet.net=MAC,dhcp``: busybox's udhcpc asks) and then idles, answering
ping. Built once into ``/var/cache/extnet/guest``."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from extnet.host.runtime.dhcp import SCRIPT

# not under a home directory: QEMU runs as libvirt-qemu, which must reach the files
CACHE = Path(os.environ.get("EXTNET_GUEST_CACHE", "/var/cache/extnet/guest"))
MODULES = [  # the order insmod needs (virtio_net and what it depends on)
    "drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko", "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko", "drivers/virtio/virtio_pci.ko", "net/core/failover.ko",
    "drivers/net/net_failover.ko", "drivers/net/virtio_net.ko",
]  # fmt: skip
INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for module in {modules}; do insmod /lib/modules/$module.ko; done
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    extnet.net=*)
      set -- $(echo "${{arg#extnet.net=}}" | tr , ' ')
      mac=$1; address=$2; gateway=$3
      for dev in /sys/class/net/*; do
        if [ "$(cat $dev/address)" = "$mac" ]; then
          name=${{dev##*/}}
          ip link set "$name" up
          if [ "$address" = dhcp ]; then
            udhcpc -f -q -O mtu -i "$name" -t 60 -T 1 -s /etc/udhcpc.script &
          elif [ -n "$address" ]; then
            ip addr add "$address" dev "$name"
          fi
          [ -n "$gateway" ] && ip route add default via "$gateway" dev "$name"
          echo "extnet-guest: $name $mac $address"
        fi
      done;;
  esac
done
echo extnet-guest: ready
while true; do sleep 3600; done
"""


DHCP_SCRIPT = SCRIPT  # the guest applies its lease as the netns runtime's guests do


def missing() -> str | None:
    for tool, package in (("apt-get", "apt"), ("dpkg", "dpkg"), ("cpio", "cpio")):
        if shutil.which(tool) is None:
            return f"building the guest needs '{tool}' (Debian: apt-get install -y {package})"
    return None


def guest_image() -> tuple[Path, Path]:
    """(kernel, initramfs), built at the first call (and again when the initramfs' contents change)."""
    version = hashlib.sha256((INIT + DHCP_SCRIPT).encode()).hexdigest()[:8]
    kernel, initrd = CACHE / "vmlinuz", CACHE / f"initrd-{version}.gz"
    if kernel.exists() and initrd.exists():
        return kernel, initrd
    work = CACHE / "build"
    shutil.rmtree(work, ignore_errors=True)
    (work / "debs").mkdir(parents=True)
    package = _kernel_package()
    subprocess.run(["apt-get", "download", package, "busybox-static"], cwd=work / "debs", check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    for deb in (work / "debs").glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(work / "root")], check=True, capture_output=True, timeout=300)
    [vmlinuz] = (work / "root" / "boot").glob("vmlinuz-*")
    [modules] = (work / "root" / "lib" / "modules").iterdir()
    tree = work / "initramfs"
    for sub in ("bin", "proc", "sys", "dev", "etc", "lib/modules"):
        (tree / sub).mkdir(parents=True, exist_ok=True)
    (tree / "etc" / "udhcpc.script").write_text(DHCP_SCRIPT)
    (tree / "etc" / "udhcpc.script").chmod(0o755)
    shutil.copy(work / "root" / "bin" / "busybox", tree / "bin" / "busybox")
    for module in MODULES:
        shutil.copy(modules / "kernel" / module, tree / "lib" / "modules" / Path(module).name)
    names = " ".join(Path(m).stem for m in MODULES)
    (tree / "init").write_text(INIT.format(modules=names))
    (tree / "init").chmod(0o755)
    files = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    archive = subprocess.run(["cpio", "-o", "-H", "newc"], cwd=tree, input="\n".join(files).encode(),
                             capture_output=True, check=True, timeout=120).stdout  # fmt: skip
    CACHE.mkdir(parents=True, exist_ok=True)
    initrd.write_bytes(gzip.compress(archive))
    shutil.copy(vmlinuz, kernel)
    shutil.rmtree(work, ignore_errors=True)
    return kernel, initrd


def _kernel_package() -> str:
    """The cloud kernel the metapackage linux-image-cloud-amd64 points at (itself only a metapackage)."""
    shown = subprocess.run(["apt-cache", "depends", "linux-image-cloud-amd64"], capture_output=True, text=True,
                           check=True, timeout=60).stdout  # fmt: skip
    for line in shown.splitlines():
        if line.strip().startswith("Depends: linux-image-"):
            return line.strip().removeprefix("Depends: ")
    raise RuntimeError(f"no cloud kernel in: {shown}")
