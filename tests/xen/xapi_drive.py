#!/usr/bin/env python3
"""Runs inside the Xen dom0 (tests/xen/test_xapi_xen): starts the development stack (xapid,
stord, netd; xapid spawns one domd per VM, backend xc) and drives the VM lifecycle through
the XenAPI over the unix socket with xmlrpc.client.  Prints TAP on stdout.
argv: kernel ramdisk"""
import glob
import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
os.environ["TS_STACK_NETNS"] = "0"
# Under QEMU's TCG on a busy host a domd's loop still stalls for seconds while it builds or
# restores a domain, or waits for a qcow2 disk's QEMU to come up (suspend images are now
# written by a helper process), and dom0's single vCPU starves xapid itself for tens of
# seconds at times (seen: 30-55 s with 15 s): xapid's default 3 s is far too tight here.
# XAPI_DRIVE_PEER_TIMEOUT (e.g. 3s) forces the churn instead: domds dropped and re-announced
# during the calls.
os.environ["TS_STACK_XAPID_EXTRA"] = "\n[msg]\npeer_timeout = %s\n" % os.environ.get(
    "XAPI_DRIVE_PEER_TIMEOUT", "30s")
# With an ASan build (B=build/asan), every daemon (xapid, stord, netd, the domds xapid spawns)
# writes its sanitizer reports to the share, where the host test prints them.
if os.environ.get("XAPI_DRIVE_LOGS"):
    _san = "log_path=%s/sanitizer" % os.environ["XAPI_DRIVE_LOGS"]
    os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), _san]))
    os.environ.setdefault("TS_STACK_STOP_TIMEOUT", "60")  # the leak check at exit, under TCG
    os.environ["UBSAN_OPTIONS"] = ":".join(
        filter(None, [os.environ.get("UBSAN_OPTIONS"), _san, "print_stacktrace=1"]))
from stacklib import Stack, ok  # noqa: E402
from tap import Tap  # noqa: E402
from vmlib import vm_record  # noqa: E402

MiB = 1024 * 1024
kernel, ramdisk = sys.argv[1], sys.argv[2]
t = Tap()
st = Stack("xapixen")


def wait(pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.5)  # each poll spawns processes: dear on dom0's one vCPU under TCG
    raise AssertionError("timed out waiting for %s (last %r)" % (what, last))


def console(uuid):
    try:
        r = st.tsctl("domd/" + uuid, "console", check=False)
    except subprocess.TimeoutExpired:
        return ""  # dom0 starved for a while: the caller's wait has its own deadline
    return r if isinstance(r, str) else str(r)


def power(vm):
    return ok(s.VM.get_power_state(sid, vm))


def domid(vm):
    return int(ok(s.VM.get_domid(sid, vm)))


def guest(name, domain_type="pv", crash=False, **fields):
    args = "console=hvc0 guest_name=%s guest_wait_devices=1" % name
    if crash:
        args += " guest_crash=%s" % ("once" if crash == "once" else "1")
    platform = {}
    if domain_type == "pvh":
        # TCG: see tests/xen/README.md
        platform = {"tsc_mode": "2", "cpuid": "host,avx=0,avx2=0,fma=0,f16c=0"}
    given = dict(PV_kernel=kernel, PV_ramdisk=ramdisk, PV_args=args, domain_type=domain_type,
                 platform=platform)
    given.update(fields)
    rec = vm_record(name, memory=128 * MiB, vcpus=1, **given)
    return ok(s.VM.create(sid, rec))


def want(part):
    """XAPI_DRIVE_ONLY=a,b runs only those parts (a short QEMU run while developing)."""
    only = os.environ.get("XAPI_DRIVE_ONLY", "")
    return not only or part in only.split(",")


def new_vdi(sr, name, sm_config):
    return ok(s.VDI.create(sid, {
        "name_label": name, "name_description": "", "SR": sr, "virtual_size": str(16 * MiB),
        "type": "user", "sharable": False, "read_only": False, "other_config": {},
        "xenstore_data": {}, "sm_config": sm_config, "tags": []}))


def new_vbd(vm, vdi, userdevice="0", bootable=True):
    return ok(s.VBD.create(sid, {
        "VM": vm, "VDI": vdi, "userdevice": userdevice, "bootable": bootable, "mode": "RW",
        "type": "Disk", "unpluggable": True, "empty": False, "other_config": {},
        "qos_algorithm_type": "", "qos_algorithm_params": {}, "device": ""}))


def xs_read(path):
    p = subprocess.run(["xenstore-read", path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie not yet reaped counts as gone
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def vdi_file(vdi):
    """The image file of a VDI of the stack's local SR."""
    u = ok(s.VDI.get_uuid(sid, vdi))
    found = glob.glob(os.path.join(st.dir, "srs", "*", u + ".*"))
    assert len(found) == 1, found
    return found[0]


def qcow2_case(sr):
    with t.case("qcow2 VDI on Xen: served by QEMU qdisk, the guest reads its data; "
                "xenstore_data in the guest's vm-data"):
        q = guest("xapiqcow", xenstore_data={"vm-data/ts-test": "qcow-ok", "other": "no"})
        quuid = ok(s.VM.get_uuid(sid, q))
        vdi = new_vdi(sr, "qroot", {})
        new_vbd(q, vdi)
        path = vdi_file(vdi)
        assert path.endswith(".qcow2"), path
        # data written through qcow2's own mapping: the guest sees it only if QEMU reads
        # the image as qcow2
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x51 0 4096", path],
                       check=True, stdout=subprocess.DEVNULL)
        ok(s.VM.start(sid, q, False, False))
        running_with_marker(q, quuid, "xapiqcow")
        wait(lambda: "GUEST-DISK: xvda 32768 sectors, data: QQQQQQQQQQQQQQQQ" in console(quuid),
             "guest reading its qcow2 disk", 30)
        d = domid(q)
        # checked from dom0 (the guest's busybox has no xenstore client)
        assert xs_read("/local/domain/%d/vm-data/ts-test" % d) == "qcow-ok"
        assert xs_read("/local/domain/%d/other" % d) is None
        assert xs_read("/local/domain/0/backend/qdisk/%d/51712/params" % d).startswith(
            "qcow2:"), "not a qdisk backend"
        assert xs_read("/local/domain/0/device-model/%d/state" % d) == "running"
        pid = int(xs_read("/local/domain/0/device-model/%d/ts-pid" % d))
        assert pid_alive(pid), "QEMU %d not running" % pid
        print("# qdisk: domain %d served by QEMU pid %d" % (d, pid))
        ok(s.VM.hard_shutdown(sid, q))
        assert power(q) == "Halted"
        wait(lambda: not pid_alive(pid), "QEMU gone with the domain", 10)
        assert xs_read("/local/domain/0/backend/qdisk/%d" % d) is None


def pygrub_case(sr):
    with t.case("PV_bootloader=pygrub: the kernel, initrd and args from the disk's grub.cfg"):
        g = guest("xapigrub", PV_bootloader="pygrub", PV_kernel="", PV_ramdisk="")
        ok(s.VM.set_PV_args(sid, g, "guest_wait_devices=1"))
        guuid = ok(s.VM.get_uuid(sid, g))
        vdi = new_vdi(sr, "groot", {"type": "raw"})
        new_vbd(g, vdi)
        root = "/tmp/pygrub-root"
        os.makedirs(root + "/boot/grub", exist_ok=True)
        subprocess.run(["cp", kernel, root + "/boot/vmlinux"], check=True)
        subprocess.run(["cp", ramdisk, root + "/boot/initrd.gz"], check=True)
        with open(root + "/boot/grub/grub.cfg", "w") as f:
            f.write("set default=0\nset timeout=0\nmenuentry 'ts' {\n"
                    "\tlinux /boot/vmlinux console=hvc0 guest_name=xapigrub\n"
                    "\tinitrd /boot/initrd.gz\n}\n")
        img = vdi_file(vdi)
        subprocess.run(["truncate", "-s", str(96 * MiB), img], check=True)
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-d", root, img], check=True)
        subprocess.run(["rm", "-rf", root])
        ok(s.VM.start(sid, g, False, False))
        running_with_marker(g, guuid, "xapigrub")
        ok(s.VM.hard_shutdown(sid, g))

    with t.case("PV_bootloader=pygrub on a disk without a grub config: BOOTLOADER_FAILED"):
        n = guest("xapinogrub", PV_bootloader="pygrub", PV_kernel="", PV_ramdisk="")
        vdi = new_vdi(sr, "nogrub", {"type": "raw"})
        new_vbd(n, vdi)
        os.makedirs("/tmp/nogrub-root/etc", exist_ok=True)
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-d", "/tmp/nogrub-root",
                        vdi_file(vdi)], check=True)
        r = s.VM.start(sid, n, False, False)
        assert r["Status"] == "Failure", r
        e = r["ErrorDescription"]
        print("# %r" % e)
        assert e[0] == "BOOTLOADER_FAILED" and e[1] == n and len(e) == 3, e
        assert power(n) == "Halted"

    with t.case("PV_bootloader=eliloader (none here): UNKNOWN_BOOTLOADER"):
        u = guest("xapieli", PV_bootloader="eliloader")
        r = s.VM.start(sid, u, False, False)
        assert r["Status"] == "Failure", r
        assert r["ErrorDescription"] == ["UNKNOWN_BOOTLOADER", u, "eliloader"], r
        assert power(u) == "Halted"


def crash_restart_case(sr):
    with t.case("actions_after_crash=restart: a crashed guest comes back with a new domid"):
        c = guest("xapicrashr", crash="once", actions_after_crash="restart")
        cuuid = ok(s.VM.get_uuid(sid, c))
        new_vbd(c, new_vdi(sr, "crashdisk", {"type": "raw"}))
        ok(s.VM.start(sid, c, False, False))
        first = domid(c)
        wait(lambda: power(c) == "Running" and domid(c) not in (first, -1), "restarted domain",
             90)
        wait(lambda: "data: CRASHED" in console(cuuid), "the second boot's guest", 60)
        ok(s.VM.hard_shutdown(sid, c))
        assert power(c) == "Halted"


def suspend_case():
    with t.case("VM.suspend (image written by domd's helper process) and VM.resume"):
        v = guest("xapisusp")
        vuuid = ok(s.VM.get_uuid(sid, v))
        ok(s.VM.start(sid, v, False, False))
        running_with_marker(v, vuuid, "xapisusp")
        wait(lambda: "GUEST-HEARTBEAT 1" in console(vuuid), "heartbeats", 60)
        ok(s.VM.suspend(sid, v))
        assert power(v) == "Suspended"
        ok(s.VM.resume(sid, v, False, False))
        assert power(v) == "Running" and domid(v) > 0
        before = console(vuuid)
        wait(lambda: console(vuuid) != before, "heartbeat after resume", 60)
        ok(s.VM.hard_shutdown(sid, v))


def pvh_shutdown_case():
    # Linux finds no ACPI power-off on PVH and halts every vCPU with interrupts off;
    # Xen takes a domain whose vCPUs are all down as powered off.
    with t.case("PVH guest: clean_shutdown reaches Halted"):
        h = guest("xapipvhs", domain_type="pvh")
        ok(s.VM.start(sid, h, False, False))
        running_with_marker(h, ok(s.VM.get_uuid(sid, h)), "xapipvhs")
        ok(s.VM.clean_shutdown(sid, h))
        assert power(h) == "Halted"


def running_with_marker(vm, uuid, name, since=0):
    wait(lambda: power(vm) == "Running", "Running")
    assert domid(vm) > 0, domid(vm)
    wait(lambda: console(uuid).count("GUEST-MARKER: %s up" % name) > since, "console marker")


try:
    st.up()
    s, sid = st.login(st.unix())
    with t.case("stack up in dom0: host on Xen"):
        host = ok(s.host.get_all(sid))[0]
        sv = ok(s.host.get_software_version(sid, host))
        print("# software_version: %r" % sv)
        cpus = len(ok(s.host.get_host_CPUs(sid, host)))
        mem = int(ok(s.host_metrics.get_memory_total(sid, ok(s.host.get_metrics(sid, host)))))
        print("# host cpus %d, memory %d" % (cpus, mem))
        assert sv.get("hypervisor") == "xen" and sv.get("xen", "").startswith("4.17"), sv
        assert sv.get("hv_backend") == "xc", sv
        # the hypervisor's memory (QEMU gives the machine 2 GiB), not dom0's 1 GiB
        assert 1536 * MiB < mem <= 2048 * MiB, mem

    pool = ok(s.pool.get_all(sid))[0]
    sr = wait(lambda: (lambda r: r if r != "OpaqueRef:NULL" else None)(
        ok(s.pool.get_default_SR(sid, pool))), "default SR", 20)
    if want("lifecycle"):
        vm = guest("xapipv")
        uuid = ok(s.VM.get_uuid(sid, vm))

        with t.case("a raw VDI + VBD and a VIF on a network"):
            vdi = ok(s.VDI.create(sid, {
                "name_label": "root", "name_description": "", "SR": sr, "virtual_size": str(16 * MiB),
                "type": "user", "sharable": False, "read_only": False, "other_config": {},
                "xenstore_data": {}, "sm_config": {"type": "raw"}, "tags": []}))
            ok(s.VBD.create(sid, {
                "VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                "type": "Disk", "unpluggable": True, "empty": False, "other_config": {},
                "qos_algorithm_type": "", "qos_algorithm_params": {}, "device": ""}))
            nets = ok(s.network.get_all_records(sid))
            net = [r for r, n in nets.items() if n["bridge"]]
            if not net:
                net = [ok(s.network.create(sid, {"name_label": "xt", "name_description": "",
                                                 "MTU": "1500", "other_config": {}, "bridge": "",
                                                 "managed": True, "tags": []}))]
            ok(s.VIF.create(sid, {
                "device": "0", "network": net[0], "VM": vm, "MAC": "02:12:34:56:78:9a",
                "MTU": "1500", "other_config": {}, "qos_algorithm_type": "",
                "qos_algorithm_params": {}, "locking_mode": "network_default",
                "ipv4_allowed": [], "ipv6_allowed": []}))

        with t.case("VM.start (PV): Running, domid > 0, guest console marker, disk and NIC"):
            ok(s.VM.start(sid, vm, False, False))
            running_with_marker(vm, uuid, "xapipv")
            wait(lambda: "GUEST-DISK: xvda" in console(uuid), "guest disk", 20)
            wait(lambda: "GUEST-NET: eth0" in console(uuid), "guest NIC", 20)

        with t.case("VM.pause / unpause"):
            ok(s.VM.pause(sid, vm))
            assert power(vm) == "Paused"
            ok(s.VM.unpause(sid, vm))
            assert power(vm) == "Running"

        with t.case("VM.clean_shutdown: Halted; start again"):
            ok(s.VM.clean_shutdown(sid, vm))
            assert power(vm) == "Halted"
            ok(s.VM.start(sid, vm, False, False))
            running_with_marker(vm, uuid, "xapipv")

        with t.case("VM.clean_reboot: a new domid, Running, the new boot's guest up"):
            before = domid(vm)
            old = console(uuid)
            ok(s.VM.clean_reboot(sid, vm))
            wait(lambda: power(vm) == "Running" and domid(vm) not in (before, -1), "new domain")

            def rebooted_guest_up():
                # the console may go on from the old boot's text or start afresh
                c = console(uuid)
                new = c[len(old):] if c.startswith(old) else c
                mark = "GUEST-MARKER: xapipv up"
                return mark in new and "GUEST-HEARTBEAT" in new.split(mark)[-1]
            # a guest still booting cannot answer the suspend request that follows
            wait(rebooted_guest_up, "the rebooted guest's marker and heartbeat")

        with t.case("VM.suspend: Suspended with a suspend VDI; resume: Running"):
            ok(s.VM.suspend(sid, vm))
            assert power(vm) == "Suspended"
            assert ok(s.VM.get_suspend_VDI(sid, vm)) != "OpaqueRef:NULL"
            ok(s.VM.resume(sid, vm, False, False))
            assert power(vm) == "Running" and domid(vm) > 0
            before = console(uuid)
            wait(lambda: console(uuid) != before, "heartbeat after resume", 20)

        with t.case("VM.hard_shutdown: Halted"):
            ok(s.VM.hard_shutdown(sid, vm))
            assert power(vm) == "Halted"

        with t.case("a guest crash with actions_after_crash=destroy: Halted"):
            c = guest("xapicrash", crash=True, actions_after_crash="destroy")
            ok(s.VM.start(sid, c, False, False))
            wait(lambda: power(c) == "Halted", "crashed VM halted")

        with t.case("PVH guest: start (marker) and hard_shutdown"):
            h = guest("xapipvh", domain_type="pvh")
            ok(s.VM.start(sid, h, False, False))
            running_with_marker(h, ok(s.VM.get_uuid(sid, h)), "xapipvh")
            ok(s.VM.hard_shutdown(sid, h))
            assert power(h) == "Halted"
    if want("qcow2"):
        qcow2_case(sr)
    if want("pygrub"):
        pygrub_case(sr)
    if want("crash"):
        crash_restart_case(sr)
    if want("pvhshutdown"):
        pvh_shutdown_case()
    if os.environ.get("XAPI_DRIVE_ONLY") and want("suspend"):
        suspend_case()  # the lifecycle part suspends already
except Exception as e:  # the stack itself failed: one failing case with the logs
    with t.case("stack in dom0"):
        raise AssertionError("%r\n%s" % (e, st.logs()))
finally:
    st.down()  # first: the logs then end with the daemons' exit (and sanitizer reports)
    out = os.environ.get("XAPI_DRIVE_LOGS")
    if out:
        os.system("cp -r %s/log %s/ 2>/dev/null" % (st.dir, out))
        os.system("cp %s/run/domd/*.log %s/ 2>/dev/null" % (st.dir, out))
sys.exit(t.done())
