"""VM helpers for tests and benchmarks: the record VM.create wants (the field set the Python
XenAPI bindings' clients send) and waiting for power states."""
import time

MiB = 1024 * 1024


def vm_record(name, memory=64 * MiB, vcpus=1, other_config=None, **fields):
    rec = {
        "name_label": name, "name_description": "", "user_version": "1",
        "is_a_template": False, "affinity": "OpaqueRef:NULL",
        "memory_static_max": str(memory), "memory_dynamic_max": str(memory),
        "memory_dynamic_min": str(memory), "memory_static_min": str(min(memory, 16 * MiB)),
        "VCPUs_params": {}, "VCPUs_max": str(max(vcpus, 2)), "VCPUs_at_startup": str(vcpus),
        "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
        "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "/boot/vmlinuz-sim",
        "PV_ramdisk": "", "PV_args": "console=hvc0", "PV_bootloader_args": "",
        "PV_legacy_args": "", "HVM_boot_policy": "", "HVM_boot_params": {},
        "HVM_shadow_multiplier": 1.0, "platform": {}, "PCI_bus": "",
        "other_config": dict(other_config or {}), "recommendations": "", "xenstore_data": {},
        "ha_always_run": False, "ha_restart_priority": "", "tags": [], "blocked_operations": {},
        "protection_policy": "OpaqueRef:NULL", "is_snapshot_from_vmpp": False,
        "appliance": "OpaqueRef:NULL", "start_delay": "0", "shutdown_delay": "0", "order": "0",
        "suspend_SR": "OpaqueRef:NULL", "version": "0", "generation_id": "",
        "hardware_platform_version": "0", "has_vendor_device": False, "reference_label": "",
        "domain_type": "pv", "NVRAM": {},
    }
    rec.update(fields)
    return rec


def wait_power(s, sid, vm, state, timeout=15):
    deadline = time.monotonic() + timeout
    cur = None
    while time.monotonic() < deadline:
        cur = s.VM.get_power_state(sid, vm)["Value"]
        if cur == state:
            return cur
        time.sleep(0.02)
    raise AssertionError("VM %s: power state %s, wanted %s" % (vm, cur, state))


def wait_task(s, sid, task, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = s.task.get_record(sid, task)["Value"]
        if rec["status"] != "pending":
            return rec
        time.sleep(0.01)
    raise AssertionError("task %s still pending" % task)


def wait_default_sr(s, sid, timeout=20):
    """The pool's default SR once stord has attached it (suspend images go there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool = s.pool.get_all(sid)["Value"][0]
        sr = s.pool.get_default_SR(sid, pool)["Value"]
        if sr != "OpaqueRef:NULL":
            pbds = s.SR.get_PBDs(sid, sr)["Value"]
            if pbds and s.PBD.get_currently_attached(sid, pbds[0])["Value"]:
                return sr
        time.sleep(0.05)
    raise AssertionError("no attached default SR")
