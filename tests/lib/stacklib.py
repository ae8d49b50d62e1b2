"""Helpers for integration tests: a development stack in a temporary folder, and XenAPI
clients over HTTPS and the unix socket using only Python's standard library."""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import xmlrpc.client

TOP = os.environ.get("TS_TOP", os.getcwd())
B = os.environ.get("B", "build")
BIN = os.path.join(TOP, B, "bin") if not os.path.isabs(B) else os.path.join(B, "bin")


class Stack:
    def __init__(self, name="stack", run_on_tmpfs=False):
        """RUN_ON_TMPFS: the run directory (sockets, pid files, domd and simulated domain
        state) in /dev/shm, as /run/xapid is a tmpfs on a host; the state stays on disk."""
        self.dir = tempfile.mkdtemp(prefix="ts-%s-" % name)
        self.run_tmpfs = None
        if run_on_tmpfs and os.path.isdir("/dev/shm"):
            self.run_tmpfs = tempfile.mkdtemp(prefix="ts-%s-run-" % name, dir="/dev/shm")
            os.symlink(self.run_tmpfs, os.path.join(self.dir, "run"))
        self.info = {}

    def up(self):
        r = subprocess.run([os.path.join(TOP, "scripts", "stack"), "up", self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
        out = r.stdout.decode()
        if r.returncode != 0:
            raise RuntimeError("stack up failed: %s\n%s" % (out, self.logs()))
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                self.info[k] = v
        return self

    def down(self):
        subprocess.run([os.path.join(TOP, "scripts", "stack"), "down", self.dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def cleanup(self):
        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.run_tmpfs:
            shutil.rmtree(self.run_tmpfs, ignore_errors=True)

    def logs(self, name=None):
        out = []
        for n in ([name] if name else ["xapid", "stord", "netd"]):
            p = os.path.join(self.dir, "log", n + ".log")
            if os.path.exists(p):
                out.append("== %s ==\n%s" % (n, open(p).read()[-4000:]))
        return "\n".join(out)

    def pid(self, name):
        try:
            return int(open(os.path.join(self.dir, "run", "stack-%s.pid" % name)).read())
        except (OSError, ValueError):
            return None

    def kill(self, name, sig=signal.SIGKILL):
        pid = self.pid(name)
        os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().split(") ", 1)[1][0] == "Z":
                        break
            except (ProcessLookupError, FileNotFoundError):
                break
            time.sleep(0.02)
        return pid

    def tsctl(self, *args, check=True):
        r = subprocess.run([os.path.join(BIN, "tsctl"), "-r", os.path.join(self.dir, "run")] +
                           list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        if check and r.returncode != 0:
            raise RuntimeError("tsctl %s: %s" % (" ".join(args), r.stderr.decode()))
        return r.stdout.decode(errors="replace")  # a guest console may hold any byte

    def wait_peers(self, want, absent=(), timeout=10):
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            out = self.tsctl("xapid", "peers", check=False)
            names = {l.split()[0] for l in out.splitlines() if l and not l.startswith("no ")}
            if set(want) <= names and not (set(absent) & names):
                return out
            time.sleep(0.05)
        raise AssertionError("peers %r (want %r, absent %r)" % (out, want, absent))

    @property
    def password(self):
        return self.info["password"]

    @property
    def port(self):
        return int(self.info["url"].rsplit(":", 1)[1].strip("/"))

    @property
    def socket_path(self):
        return self.info["socket"]

    def https(self):
        return xmlrpc.client.ServerProxy("https://127.0.0.1:%d/" % self.port,
                                         context=ssl._create_unverified_context())

    def unix(self):
        return xmlrpc.client.ServerProxy("http://localhost/", transport=UnixTransport(self.socket_path))

    def login(self, proxy=None):
        s = proxy or self.https()
        r = s.session.login_with_password("root", self.password, "1.0", "tests")
        assert r["Status"] == "Success", r
        return s, r["Value"]

    def jsonrpc(self, payload, unix=False, path="/jsonrpc"):
        if unix:
            c = UnixHTTPConnection(self.socket_path)
        else:
            c = http.client.HTTPSConnection("127.0.0.1", self.port,
                                            context=ssl._create_unverified_context())
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        c.request("POST", path, body, {"Content-Type": "application/json"})
        resp = c.getresponse()
        data = resp.read()
        c.close()
        return resp.status, data


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        return UnixHTTPConnection(self.path)


def ok(r):
    assert r["Status"] == "Success", r
    return r["Value"]


def fails(r, *code):
    assert r["Status"] == "Failure", r
    assert r["ErrorDescription"][:len(code)] == list(code), r["ErrorDescription"]
    return r["ErrorDescription"]
