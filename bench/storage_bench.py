#!/usr/bin/env python3
"""Storage benchmarks on a running stack (bench/run's benchmark 6; also runnable alone):

  bench/storage_bench.py --unix SOCKET --dir STACK_DIR [--seconds 3] [--vdis 1000]

Prints one `key=value` line per figure:
  create_destroy_per_s   VDI.create + VDI.destroy pairs per second (1 MiB qcow2, serial);
                         anchor qemu_create_rm_per_s: `qemu-img create` + unlink per second
  clone_10g_ms           median VDI.clone latency of a 10 GiB VDI (target <= 50 ms);
                         anchor qemu_overlay_ms: `qemu-img create -b` of the same image
  scan_1000_s            SR.scan of an SR holding --vdis VDIs, already known (target <= 1 s);
                         scan_intro_1000_s: the first scan, introducing them all
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import time
import uuid
import http.client
import xmlrpc.client

MiB = 1024 * 1024
GiB = 1024 * MiB


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(600)
        self.sock.connect(self.path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        return UnixConn(self.path)


def ok(r):
    if r["Status"] != "Success":
        raise RuntimeError(str(r["ErrorDescription"]))
    return r["Value"]


def vdi_args(sr, size):
    return {"name_label": "bench", "name_description": "", "SR": sr, "virtual_size": str(size),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unix", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--vdis", type=int, default=1000)
    a = ap.parse_args()
    s = xmlrpc.client.ServerProxy("http://localhost/", transport=UnixTransport(a.unix),
                                  allow_none=True)
    sid = ok(s.session.login_with_password("root", "", "1.0", "bench"))
    deadline = time.monotonic() + 30
    sr = "OpaqueRef:NULL"
    while time.monotonic() < deadline:
        sr = ok(s.pool.get_default_SR(sid, ok(s.pool.get_all(sid))[0]))
        if sr != "OpaqueRef:NULL" and ok(s.PBD.get_currently_attached(
                sid, ok(s.SR.get_PBDs(sid, sr))[0])):
            break
        time.sleep(0.1)
    srdir = ok(s.PBD.get_device_config(sid, ok(s.SR.get_PBDs(sid, sr))[0]))["location"]
    scratch = os.path.join(a.dir, "bench-scratch")
    os.makedirs(scratch, exist_ok=True)

    # 1. VDI.create + destroy per second, and qemu-img create + unlink as the anchor
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < a.seconds:
        ok(s.VDI.destroy(sid, ok(s.VDI.create(sid, vdi_args(sr, MiB)))))
        n += 1
    print("create_destroy_per_s=%.1f" % (n / (time.monotonic() - t0)), flush=True)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < a.seconds:
        p = os.path.join(scratch, "a.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", p, "1M"], check=True)
        os.unlink(p)
        n += 1
    print("qemu_create_rm_per_s=%.1f" % (n / (time.monotonic() - t0)), flush=True)

    # 2. clone of a 10 GiB VDI
    big = ok(s.VDI.create(sid, vdi_args(sr, 10 * GiB)))
    lat, clones = [], []
    for _ in range(7):
        t0 = time.monotonic()
        clones.append(ok(s.VDI.clone(sid, big, {})))
        lat.append((time.monotonic() - t0) * 1e3)
    print("clone_10g_ms=%.2f" % statistics.median(lat), flush=True)
    src = os.path.join(srdir, ok(s.VDI.get_location(sid, big)) + ".qcow2")
    lat = []
    for i in range(7):
        p = os.path.join(scratch, "o%d.qcow2" % i)
        t0 = time.monotonic()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", src, p],
                       check=True)
        lat.append((time.monotonic() - t0) * 1e3)
    print("qemu_overlay_ms=%.2f" % statistics.median(lat), flush=True)
    for c in clones:
        ok(s.VDI.destroy(sid, c))
    ok(s.VDI.destroy(sid, big))

    # 3. SR.scan with --vdis VDIs (copies of one small image made behind stord's back)
    model = os.path.join(scratch, "model.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", model, "1M"], check=True)
    for _ in range(a.vdis):
        shutil.copyfile(model, os.path.join(srdir, "%s.qcow2" % uuid.uuid4()))
    t0 = time.monotonic()
    ok(s.SR.scan(sid, sr))
    print("scan_intro_%d_s=%.3f" % (a.vdis, time.monotonic() - t0), flush=True)
    lat = []
    for _ in range(3):
        t0 = time.monotonic()
        ok(s.SR.scan(sid, sr))
        lat.append(time.monotonic() - t0)
    print("scan_%d_s=%.3f" % (a.vdis, min(lat)), flush=True)
    print("vdis_in_sr=%d" % len(ok(s.SR.get_VDIs(sid, sr))), flush=True)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
