"""Boots Xen and a Linux PV dom0 under qemu-system-x86_64 (TCG) for the tests/xen tier.

The host's / is shared read-only (9p tag hostroot) and one host directory read-write
(tag hostshare): dom0 (tests/xen/dom0-init) runs `<share>/run.sh` in a chroot of the host's
/, so the freshly built tree runs unchanged, and leaves its results in the share.

    from xenqemu import prepare, boot
    cache, why = prepare()          # why: the reason the tier cannot run here, else None
In dom0's chroot the guests' kernel and initramfs are GUEST_KERNEL and GUEST_RAMDISK.
    res = boot(cache, share_dir, run_sh_text, timeout=420)
"""
import os
import re
import selectors
import shutil
import signal
import subprocess
import time

TOP = os.environ.get("TS_TOP") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
B = os.environ.get("B", os.path.join(TOP, "build"))
if not os.path.isabs(B):
    B = os.path.join(TOP, B)


GUEST_KERNEL = "/tmp/xenguest/vmlinux"
GUEST_RAMDISK = "/tmp/xenguest/initrd.gz"


def prepare(script="tests/xen/prepare"):
    """Runs SCRIPT (a tier's prepare); returns (cache dir, None) or (None, reason to skip)."""
    # One cache for every build flavour (B=build/asan too): it only holds Debian files.
    cache = os.path.join(TOP, "build", "xen-cache")
    p = subprocess.run([os.path.join(TOP, script), cache], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode == 2:
        return None, p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "not preparable"
    if p.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (script, p.stdout))
    if not shutil.which("qemu-system-x86_64"):
        return None, "qemu-system-x86_64 not installed"
    return cache, None


class Result:
    def __init__(self):
        self.reason = None      # "poweroff", "timeout", "qemu-exited"
        self.wall = 0.0
        self.marks = {}         # MARK name -> seconds since start
        self.log = ""           # the serial console, timestamped


def boot(cache, share, run_sh, timeout=420, mem=2048, dom0_mem=1024, log_path=None,
         on_line=None, qemu_argv=None):
    """Writes RUN_SH into SHARE/run.sh, boots, returns a Result once dom0 powered off (or
    the timeout struck: QEMU is killed, by its own pid).  QEMU_ARGV replaces the Xen command
    line (tests/kern boots Linux alone with the same share and console handling)."""
    share = os.path.abspath(share)
    for path in (share, cache):
        if "," in path or " " in path:
            raise ValueError("QEMU cannot take a path with a comma or space: " + path)
    os.makedirs(share, exist_ok=True)
    with open(os.path.join(share, "run.sh"), "w") as f:
        f.write(run_sh)
    os.chmod(os.path.join(share, "run.sh"), 0o755)
    # spec-ctrl=eager-fpu: QEMU's "max" CPU says AMD, for which Xen switches vCPUs' FPU
    # state lazily (CR0.TS and #NM).  Under TCG that lost user SSE state in dom0: a 16-byte
    # store at a page start wrote another context's register (random bytes where libzmq's
    # message pointer belonged; the daemons crashed in msg_t::size, 3 runs in 10).  With
    # eager switching 11 runs in a row had no crash (and 4 without XSAVE, -cpu max,-xsave).
    xen_cmd = ("console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all noreboot "
               "dom0_mem=%dM,max:%dM dom0_max_vcpus=1 "
               "spec-ctrl=eager-fpu" % (dom0_mem, dom0_mem))
    xen_cmd += " " + os.environ.get("TS_XEN_EXTRA_CMDLINE", "")
    dom0_cmd = "console=hvc0 earlyprintk=xen loglevel=4 xentest.share=%s" % share
    # SMAP under TCG breaks Xen's PV exception bounce: -smap.  TS_XEN_QEMU_CPU replaces
    # the CPU model (to try another one).
    cpu = os.environ.get("TS_XEN_QEMU_CPU", "max,-smap")
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", cpu,
           "-m", str(mem), "-smp", "2", "-nographic", "-no-reboot", "-monitor", "none",
           "-serial", "stdio", "-nic", "none",
           "-kernel", os.path.join(cache, "xen"), "-append", xen_cmd,
           "-initrd", "%s %s,%s" % (os.path.join(cache, "vmlinux"), dom0_cmd,
                                    os.path.join(cache, "dom0-initrd.cpio")),
           "-virtfs", "local,path=%s,mount_tag=hostshare,security_model=none,id=hostshare" % share,
           "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
           "multidevs=remap,id=hostroot"]
    cmd = qemu_argv or cmd
    res = Result()
    logf = open(log_path, "w") if log_path else None
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    os.set_blocking(p.stdout.fileno(), False)
    buf = b""
    lines = []
    poweroff_at = None
    mark_re = re.compile(r"MARK (\S+)")
    try:
        while True:
            now = time.monotonic()
            if now - t0 > timeout:
                res.reason = "timeout"
                break
            if poweroff_at and now - poweroff_at > 20:
                res.reason = "poweroff"
                break
            if not sel.select(timeout=1.0):
                if p.poll() is not None:
                    break
                continue
            chunk = p.stdout.read()
            if chunk is None:
                continue
            if chunk == b"":
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                s = raw.decode("utf-8", "replace").rstrip("\r")
                t = time.monotonic() - t0
                line = "[%7.2f] %s" % (t, s)
                lines.append(line)
                if logf:
                    logf.write(line + "\n")
                    logf.flush()
                if on_line:
                    on_line(t, s)
                m = mark_re.search(s)
                if m and s.lstrip().startswith("MARK"):
                    res.marks.setdefault(m.group(1), t)
                    if m.group(1) == "poweroff":
                        poweroff_at = time.monotonic()
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if logf:
            logf.close()
    if res.reason is None:
        res.reason = "poweroff" if "poweroff" in res.marks else "qemu-exited"
    res.wall = time.monotonic() - t0
    res.log = "\n".join(lines)
    return res


def xc_built():
    """True when this build has the xc backend (the libxen development files were there)."""
    return os.path.exists(os.path.join(B, "obj/domd/hv_xc.o"))
