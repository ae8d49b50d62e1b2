#!/usr/bin/env python3
"""Host networking benchmarks (bench/run runs this as benchmark 6; it also runs alone, as root):

  6a  VIF plug+unplug per second: ApplyBridges round trips to a real netd (in a namespace of
      its own) adding then removing the port vif5.0 (a veth) on a bridge, with the rest of a
      host's desired state present (4 NICs, 4 bridges); anchor: the bare netlink calls of
      netd's library (netk bench), the floor under any toolstack.
  6b  network.create to bridge up: the XenAPI call returns when netd has made the bridge;
      median of N creates (each checked UP in netd's namespace, then destroyed).  Needs a
      stack: --socket SOCKET --netns NS (bench/run passes them).
  6c  full reconcile after a restart of netd with 100 networks, 20 VLANs and 2 bonds in the
      desired state: netd SIGKILLed, its bridges deleted behind its back, restarted; the time
      of the first ApplyBridges (observe, plan, re-create).  VLANs and bonds are left out when
      the kernel lacks them (the reason is printed); also the converged case (nothing to do).

Each result is one JSON line {"id", "name", "figure", "unit", "target", "higher", "anchor",
"anchor_ratio", "note"}; other lines are commentary.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import xmlrpc.client

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "net"))
os.environ.setdefault("TS_TOP", TOP)
from netdlib import B, Netd, kernel_reason, sh, usable  # noqa: E402

NETK = os.path.join(B, "tests", "helpers", "netk")


def emit(**r):
    r.setdefault("anchor", None)
    r.setdefault("anchor_ratio", None)
    r.setdefault("note", "")
    print(json.dumps(r), flush=True)


def say(msg):
    print("# " + msg, flush=True)


def host_state(n, vif_on):
    """A small host: eth0..3 on xenbr0..3; vif5.0 on xenbr0 when VIF_ON."""
    br = [{"name": "xenbr%d" % i, "mtu": 1500, "ports": ["eth%d" % i]} for i in range(4)]
    if vif_on:
        br[0]["ports"].append("vif5.0")
    return {"bridges": br}


def bench_vif(n_cycles):
    n = Netd()
    try:
        n.start()
        for i in range(4):
            n.veth("eth%d" % i, "wire%d" % i)
        n.veth("vif5.0", "vif5.0p")
        n.apply(host_state(n, False))
        # warm up, then measure
        for _ in range(20):
            n.apply(host_state(n, True))
            n.apply(host_state(n, False))
        r = n.repeat(host_state(n, True), host_state(n, False), n_cycles)
        if r["actions"] < 2 * n_cycles:
            raise RuntimeError("netd did not plug/unplug every time: %s" % r)
        dt = r["us"] / 1e6
        assert n.ports("xenbr0") == ["eth0"]
        rate = n_cycles / dt
        anchor = json.loads(sh("ip", "netns", "exec", n.ns, NETK, "bench", "xenbr0", "vif5.0",
                               str(n_cycles)).stdout)
        floor = 1e6 / (anchor["plug_us"] + anchor["unplug_us"])
        say("%d cycles in %.3f s: plug+unplug %.0f/s through ApplyBridges; bare netlink %.0f/s "
            "(plug %.0f us, unplug %.0f us)" % (n_cycles, dt, rate, floor, anchor["plug_us"],
                                                anchor["unplug_us"]))
        # target: a plug and an unplug each within 1 ms, i.e. >= 500 pairs/s
        emit(id="6a", name="VIF plug+unplug through netd", figure=rate, unit="pairs/s",
             target=500, higher=True, anchor="netlink alone %.0f pairs/s" % floor,
             anchor_ratio=rate / floor)
    finally:
        n.close()


def xml(sock, method, *params):
    class T(xmlrpc.client.Transport):
        def make_connection(self, host):
            import http.client
            import socket

            class C(http.client.HTTPConnection):
                def connect(self):
                    self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self.sock.connect(sock)
            return C("localhost")
    r = getattr(xmlrpc.client.ServerProxy("http://localhost/", transport=T()), method)(*params)
    if r.get("Status") != "Success":
        raise RuntimeError("%s: %s" % (method, r.get("ErrorDescription")))
    return r["Value"]


def bench_network_create(sock, ns, count):
    sid = xml(sock, "session.login_with_password", "root", "", "1.0", "bench")
    rec = {"name_label": "bench", "name_description": "", "MTU": "1500", "other_config": {}}
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        net = xml(sock, "network.create", sid, rec)
        dt = time.perf_counter() - t0
        br = xml(sock, "network.get_bridge", sid, net)
        link = json.loads(sh("ip", "-n", ns, "-j", "link", "show", br).stdout)[0]
        if "UP" not in link["flags"]:
            raise RuntimeError("%s not up when network.create returned" % br)
        times.append(dt * 1e3)
        xml(sock, "network.destroy", sid, net)
    med = statistics.median(times)
    say("network.create -> bridge up: median %.2f ms, min %.2f, max %.2f (%d)" % (
        med, min(times), max(times), count))
    emit(id="6b", name="network.create to bridge up (median)", figure=med, unit="ms",
         target=100, higher=False)


def bench_reconcile():
    n = Netd()
    try:
        n.start()
        # 100 networks: 4 on NICs, 96 internal ones each with a VIF (veth) port
        n.veths([("eth%d" % i, "wire%d" % i) for i in range(4)] +
                [("vif%d.0" % i, "vif%d.0p" % i) for i in range(4, 100)])
        # probed on a NIC: the loopback device takes no VLAN even where 802.1Q is there
        vlan_why = kernel_reason(n.ns, "probe.5", "link", "eth1", "name", "probe.5", "type",
                                 "vlan", "id", "5")
        bond_why = kernel_reason(n.ns, "probebond", "probebond", "type", "bond")
        want = {"bridges": [], "vlans": [], "bonds": []}
        for i in range(100):
            ports = ["eth%d" % i] if i < 4 else ["vif%d.0" % i]
            want["bridges"].append({"name": "xapi%d" % i if i >= 4 else "xenbr%d" % i,
                                    "mtu": 1500, "ports": ports})
        left_out = []
        if vlan_why is None:
            for k in range(20):
                want["vlans"].append({"name": "eth1.%d" % (k + 10), "parent": "eth1",
                                      "tag": k + 10})
                want["bridges"][4 + k]["ports"].append("eth1.%d" % (k + 10))
        else:
            left_out.append("20 VLANs (kernel: %s)" % vlan_why)
        if bond_why is None:
            for k in range(2):
                want["bonds"].append({"name": "bond%d" % k, "mode": "active-backup",
                                      "members": ["eth%d" % (2 + k)], "properties": {}})
                want["bridges"][2 + k]["ports"] = ["bond%d" % k]
        else:
            left_out.append("2 bonds (kernel: %s)" % bond_why)
        t0 = time.perf_counter()
        r = n.apply(want)
        first = time.perf_counter() - t0
        say("first build: %d actions in %.3f s" % (r["reply"]["actions"], first))
        n.kill()
        # behind netd's back: every bridge gone
        for b in want["bridges"]:
            n.ip("link", "del", b["name"], check=False)
        n.start()
        t0 = time.perf_counter()
        r = n.apply(want)
        cold = time.perf_counter() - t0
        if r["reply"]["errnum"]:
            raise RuntimeError("reconcile failed: %s" % r)
        t0 = time.perf_counter()
        r2 = n.apply(want)
        warm = time.perf_counter() - t0
        ok = all(n.link(b["name"]) for b in want["bridges"])
        if not ok or r2["reply"]["actions"] != 0:
            raise RuntimeError("not converged after restart: %s" % r2)
        note = "without " + ", ".join(left_out) if left_out else ""
        say("after restart: %d actions in %.3f s; converged re-check %.3f s%s" % (
            r["reply"]["actions"], cold, warm, "; " + note if note else ""))
        emit(id="6c", name="reconcile after netd restart, 100 networks%s" % (
            "" if left_out else ", 20 VLANs, 2 bonds"), figure=cold, unit="s", target=1.0,
            higher=False, note=note)
        emit(id="6d", name="reconcile, converged (100 networks)", figure=warm, unit="s",
             target=1.0, higher=False)
    finally:
        n.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=300)
    ap.add_argument("--creates", type=int, default=20)
    ap.add_argument("--socket")
    ap.add_argument("--netns")
    a = ap.parse_args()
    why = usable()
    if why:
        for bid, name in (("6a", "VIF plug+unplug through netd"),
                          ("6c", "reconcile after netd restart")):
            emit(id=bid, name=name, figure=None, unit="", target=None, higher=True,
                 note="not measured: " + why)
        return 0
    bench_vif(a.cycles)
    if a.socket and a.netns:
        bench_network_create(a.socket, a.netns, a.creates)
    else:
        say("6b skipped: no stack given (--socket, --netns)")
    bench_reconcile()
    return 0


if __name__ == "__main__":
    sys.exit(main())
