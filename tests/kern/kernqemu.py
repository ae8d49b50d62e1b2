"""Boots Debian's kernel alone (no Xen) under qemu-system-x86_64 (TCG) for the tests/kern tier.

The kernel and its modules are those tests/xen/prepare caches; tests/kern/prepare adds the
initramfs whose /init (tests/kern/kern-init) loads device-mapper, NFS, 802.1Q, bonding and the
rest from them and runs `<share>/run.sh` in a chroot of the host's / (9p, read-only).  The
console, the share and the timeout are handled by tests/xen/xenqemu.boot.

    cache, why = kernqemu.prepare()     # why: the reason the tier cannot run here, else None
    res = kernqemu.boot(cache, share_dir, run_sh_text, timeout=300)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "xen"))
import xenqemu  # noqa: E402

TOP = xenqemu.TOP
B = xenqemu.B


def prepare():
    """Runs tests/kern/prepare; returns (cache dir, None) or (None, reason to skip)."""
    return xenqemu.prepare("tests/kern/prepare")


def boot(cache, share, run_sh, timeout=300, mem=2048, cpus=2, log_path=None):
    """Writes RUN_SH into SHARE/run.sh, boots the kernel, returns xenqemu's Result once the
    guest powered off (or the timeout struck)."""
    share = os.path.abspath(share)
    kroot = os.path.join(cache, "kroot")
    kver = sorted(os.listdir(os.path.join(kroot, "lib", "modules")))[-1]
    append = ("console=ttyS0 loglevel=4 panic=-1 kern.share=%s kern.modules=%s" %
              (share, kroot))
    argv = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max",
            "-m", str(mem), "-smp", str(cpus), "-nographic", "-no-reboot", "-monitor", "none",
            "-serial", "stdio", "-nic", "none", "-device", "virtio-rng-pci",
            "-kernel", os.path.join(kroot, "boot", "vmlinuz-" + kver),
            "-initrd", os.path.join(cache, "kern-initrd.cpio"), "-append", append,
            "-virtfs", "local,path=%s,mount_tag=hostshare,security_model=none,id=hostshare"
            % share,
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
            "multidevs=remap,id=hostroot"]
    return xenqemu.boot(cache, share, run_sh, timeout=timeout, log_path=log_path,
                        qemu_argv=argv)
