"""A real netd in a private network namespace, driven by $B/tests/helpers/netd_driver standing
in for xapid (ApplyBridges in, replies and LinkEvents out).  Used by tests/net/test_netd and
the bench/net_* benchmarks."""
import json
import sys
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time

TOP = os.environ.get("TS_TOP", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
B = os.environ.get("B", os.path.join(TOP, "build"))
DRIVER = os.path.join(B, "tests", "helpers", "netd_driver")
NETD = os.path.join(B, "bin", "netd")
_seq = [0]


def sh(*argv, check=True):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=20)
    if check and p.returncode != 0:
        raise AssertionError("%s: rc %d: %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
    return p


def wait_for(cond, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class Netd:
    """netd in namespace NS with run directory under a temporary folder, and the driver."""

    def __init__(self):
        _seq[0] += 1
        self.ns = "tsnetd-%d-%d" % (os.getpid(), _seq[0])
        self.dir = tempfile.mkdtemp(prefix="tsnetd.")
        self.run = os.path.join(self.dir, "run")
        os.makedirs(self.run)
        os.makedirs(os.path.join(self.dir, "state"))
        self.conf = os.path.join(self.dir, "netd.conf")
        with open(self.conf, "w") as f:
            f.write("run_dir = %s\nstate_dir = %s/state\nlog_level = info\n"
                    "[network]\nphysical = eth*\n" % (self.run, self.dir))
        self.log = os.path.join(self.dir, "netd.log")
        self.netd = None
        self.events = queue.Queue()
        self.replies = queue.Queue()
        sh("ip", "netns", "add", self.ns)
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        self.driver = subprocess.Popen([DRIVER, self.run], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, bufsize=1,
                                       stderr=open(os.path.join(self.dir, "driver.log"), "ab"))
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.replies.get(timeout=10) == {"ready": True}

    def _pump(self):
        for line in self.driver.stdout:
            o = json.loads(line)
            (self.events if "event" in o or "peer" in o else self.replies).put(o)

    def start(self, path_prefix=None):
        log = open(self.log, "ab")
        env = dict(os.environ)
        if path_prefix:
            env["PATH"] = path_prefix + ":" + env.get("PATH", "")
        self.netd = subprocess.Popen(["ip", "netns", "exec", self.ns, NETD, "-f", "-c", self.conf],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
        self.wait_event(lambda e: e.get("peer") == "netd" and e["up"], "netd's Hello")

    def kill(self):
        if self.netd is not None and self.netd.poll() is None:
            self.netd.send_signal(signal.SIGKILL)
            self.netd.wait()
        self.netd = None

    def wait_event(self, pred, what, timeout=10):
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            try:
                ev = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no event for %s; saw %s" % (what, seen))
            seen.append(ev)
            if pred(ev):
                return ev

    def apply(self, desired):
        self.driver.stdin.write(json.dumps(desired) + "\n")
        self.driver.stdin.flush()
        r = self.replies.get(timeout=30)
        if "reply" not in r:
            raise AssertionError("netd did not answer: %s" % r)
        return r

    def repeat(self, a, b, n):
        """A, B, A, B... 2N ApplyBridges back to back inside the driver: {"n", "us", "actions"}."""
        self.driver.stdin.write(json.dumps({"repeat": n, "states": [a, b]}) + "\n")
        self.driver.stdin.flush()
        r = self.replies.get(timeout=120)
        if "bench" not in r or r["bench"]["error"]:
            raise AssertionError("repeat run failed: %s" % r)
        return r["bench"]

    def ip(self, *args, check=True):
        return sh("ip", "-n", self.ns, *args, check=check)

    def ipj(self, *args):
        out = sh("ip", "-n", self.ns, "-j", *args).stdout
        return json.loads(out) if out.strip() else []

    def link(self, name):
        links = [l for l in self.ipj("-d", "link", "show") if l["ifname"] == name]
        return links[0] if links else None

    def veth(self, a, b, up=True):
        self.ip("link", "add", a, "type", "veth", "peer", "name", b)
        if up:
            self.ip("link", "set", b, "up")

    def veths(self, pairs):
        """Many veth pairs (A, B), B up, in one `ip -batch`: one program, not two per pair
        (which costs minutes under QEMU's TCG)."""
        cmds = "".join("link add %s type veth peer name %s\nlink set %s up\n" % (a, b, b)
                       for a, b in pairs)
        p = subprocess.run(["ip", "-n", self.ns, "-batch", "-"], input=cmds, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if p.returncode != 0:
            raise AssertionError("ip -batch: rc %d: %s" % (p.returncode, p.stderr.strip()))

    def ports(self, br):
        return sorted(l["ifname"] for l in self.ipj("link", "show") if l.get("master") == br)

    def addrs(self, dev):
        info = self.ipj("addr", "show", "dev", dev)
        return sorted("%s/%d" % (a["local"], a["prefixlen"]) for a in info[0]["addr_info"]
                      if a.get("scope") != "link")

    def logs(self):
        try:
            return open(self.log).read()[-4000:]
        except OSError:
            return ""

    def close(self):
        self.kill()
        if self.driver.poll() is None:
            self.driver.stdin.close()
            try:
                self.driver.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
        sh("ip", "netns", "del", self.ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def usable():
    """None when the tests can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for p in (DRIVER, NETD):
        if not os.access(p, os.X_OK):
            return "%s not built (make tests)" % p
    return None


def kernel_reason(ns, name, *ip_args):
    """Why the kernel refuses a link type, in its own words (from `ip link add`)."""
    p = sh("ip", "-n", ns, "link", "add", *ip_args, check=False)
    if p.returncode == 0:
        sh("ip", "-n", ns, "link", "del", name, check=False)
        return None
    return p.stderr.strip()


ETHTOOL_GET = {"rx": 0x14, "tx": 0x16, "sg": 0x18, "tso": 0x1e, "gso": 0x23}
_ETHTOOL_PROBE = """
import array, fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a = array.array("I", [int(sys.argv[2]), 0])
ifr = struct.pack("16sP", sys.argv[1].encode(), a.buffer_info()[0]) + bytes(16)
fcntl.ioctl(s, 0x8946, ifr)  # SIOCETHTOOL
print(a[1])
"""


def ethtool_get(ns, dev, what):
    """An offload flag of DEV as the kernel reports it (SIOCETHTOOL from Python, independent
    of netd's code)."""
    out = sh("ip", "netns", "exec", ns, sys.executable, "-c", _ETHTOOL_PROBE, dev,
             str(ETHTOOL_GET[what])).stdout
    return int(out) != 0
