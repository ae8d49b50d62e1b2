#!/bin/sh
# Runs inside the kernel tier's guest, in the chroot of the host's / (tests/kern/test_kernel
# fills in the tree, build and share paths, and the `run` lines): an NFS server for the nfs SR, then each program,
# its TAP into the share, then bench 7's reconcile.
cd @TOP@
export B=@B@ TS_TOP=@TOP@ PYTHONPATH=@TOP@/tests/lib CMOCKA_MESSAGE_OUTPUT=TAP
export PYTHONDONTWRITEBYTECODE=1
# TCG on a shared machine: daemons take seconds to start
export TS_STACK_TIMEOUT=120
# ... and peers are silent for seconds: xapid's default 3 s would drop them (as tests/xen)
export TS_STACK_XAPID_EXTRA="
[msg]
peer_timeout = 30s
"
export TS_PEER_TIMEOUT_MS=30000  # the same for netd_driver, xapid's stand-in (tests/net)
mark() { echo "MARK $* t=$(cut -d' ' -f1 /proc/uptime)"; }

# NFS server: an export on the guest's tmpfs (fsid: tmpfs has no UUID), NFSv3 and v4.
mkdir -p /tmp/nfs-export
rpcbind -w >/dev/null 2>&1 || echo "# rpcbind failed"
exportfs -o rw,no_root_squash,insecure,no_subtree_check,fsid=77 "127.0.0.1:/tmp/nfs-export" ||
	echo "# exportfs failed"
rpc.mountd >/dev/null 2>&1 || echo "# rpc.mountd failed"
rpc.nfsd 4 || echo "# rpc.nfsd failed"
export TS_NFS_SERVER=127.0.0.1 TS_NFS_SERVERPATH=/tmp/nfs-export
mark nfs-server

# run PROGRAM CASES: CASES ('|'-separated substrings, empty: all) through $TS_CASES
run() {
	out=@SHARE@/$(echo "$1" | tr / _).tap
	TS_CASES=$2 timeout 600 tests/$1 >"$out" 2>&1
	rc=$?
	echo "# exit status $rc" >>"$out"
	if [ $rc = 124 ]; then # timed out: what was still running, and the daemons' logs
		ps -eo pid,stat,etime,wchan:24,args | sed 's/^/# /' >>"$out"
		for f in /tmp/ts-*/log/*.log; do
			[ -f "$f" ] && { echo "# == $f"; tail -n 40 "$f" | sed 's/^/# /'; } >>"$out"
		done
	fi
	mark "$1" done
}
# bench 7's reconcile (bench/net_bench.py) with 100 networks, 20 VLANs and 2 bonds
bench() {
	timeout 300 python3 -c '
import sys
sys.path.insert(0, "bench")
import net_bench
net_bench.bench_reconcile()' >@SHARE@/net_bench.txt 2>&1
	mark net_bench done
}
@PROGRAMS@
exit 0
