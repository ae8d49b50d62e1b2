#!/usr/bin/env python3
"""Converts XAPI's published xenapi.json + errors.json into idl/xenapi.idl, the project's own
compact description of the XenAPI subset xapid serves (format: idl/README.md).

Usage: import-xenapi.py XENAPI_JSON ERRORS_JSON SYNC_CALLS > idl/xenapi.idl
Descriptions are dropped on purpose: the IDL only keeps facts (names, types, qualifiers,
defaults, parameters, errors, roles)."""
import json
import re
import sys

CLASSES = """session task event pool pool_patch host host_metrics host_cpu host_crashdump
host_patch VM VM_metrics VM_guest_metrics console VTPM crashdump user network VIF VIF_metrics
PIF PIF_metrics Bond VLAN SM SR VDI VBD VBD_metrics PBD message blob""".split()

# Classes kept only in memory, as XAPI does (clients log in again after a restart).
NOT_PERSISTENT = {"session", "task"}
# Classes with no table at all (event is a call namespace whose record is synthesized).
NO_TABLE = {"event"}

# XAPI's all_relations (ocaml/idl/datamodel.ml), as (class, ref field) <-> (class, set field),
# restricted below to the pairs whose both ends are in the subset.
RELATIONS = [
    ("VM", "snapshot_of", "VM", "snapshots"),
    ("VDI", "snapshot_of", "VDI", "snapshots"),
    ("VM", "parent", "VM", "children"),
    ("task", "subtask_of", "task", "subtasks"),
    ("task", "session", "session", "tasks"),
    ("PIF", "bond_slave_of", "Bond", "slaves"),
    ("Bond", "master", "PIF", "bond_master_of"),
    ("VLAN", "tagged_PIF", "PIF", "VLAN_slave_of"),
    ("PBD", "host", "host", "PBDs"),
    ("PBD", "SR", "SR", "PBDs"),
    ("VBD", "VDI", "VDI", "VBDs"),
    ("crashdump", "VDI", "VDI", "crash_dumps"),
    ("VBD", "VM", "VM", "VBDs"),
    ("crashdump", "VM", "VM", "crash_dumps"),
    ("VIF", "VM", "VM", "VIFs"),
    ("VIF", "network", "network", "VIFs"),
    ("PIF", "host", "host", "PIFs"),
    ("PIF", "network", "network", "PIFs"),
    ("VDI", "SR", "SR", "VDIs"),
    ("VTPM", "VM", "VM", "VTPMs"),
    ("console", "VM", "VM", "consoles"),
    ("VM", "resident_on", "host", "resident_VMs"),
    ("host_cpu", "host", "host", "host_CPUs"),
    ("host_crashdump", "host", "host", "crashdumps"),
    ("host_patch", "host", "host", "patches"),
    ("host_patch", "pool_patch", "pool_patch", "host_patches"),
]


def split_map(t):
    """'(K -> V) map' -> (K, V), respecting nested parentheses."""
    inner = t[1:t.rindex(")")]
    depth = 0
    for i in range(len(inner) - 3):
        c = inner[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and inner[i:i + 4] == " -> ":
            return inner[:i], inner[i + 4:]
    raise ValueError(t)


def norm_type(t):
    """Checks a type expression and returns it in the IDL's form (the same text form)."""
    t = t.strip()
    if t in ("string", "int", "float", "bool", "datetime", "void"):
        return t
    if t == "an event batch":  # event.from: a struct built by hand-written code
        return "event_batch"
    if t.endswith(" map"):
        k, v = split_map(t)
        return "(%s -> %s) map" % (norm_type(k), norm_type(v))
    if t.endswith(" set"):
        return norm_type(t[:-4]) + " set"
    if t.endswith(" option"):
        return norm_type(t[:-7]) + " option"
    if re.fullmatch(r"enum \w+", t) or re.fullmatch(r"\S+ (ref|record)", t):
        return t
    raise ValueError("unknown type " + t)


def enums_of(t, out):
    for m in re.finditer(r"enum (\w+)", t):
        out.add(m.group(1))


def parse_scalar(ty, s):
    if ty == "int":
        return int(s)
    if ty == "float":
        return float(s)
    if ty == "bool":
        return s == "true"
    if s.startswith('"') and s.endswith('"'):
        return s[1:-1]
    return s


def parse_default(ty, s):
    """Turns XAPI's printed default into a JSON value of the field's type."""
    if s is None:
        return None
    if ty.endswith(" ref") and s in ("Null", "OpaqueRef:NULL"):
        return "OpaqueRef:NULL"
    if ty.endswith(" set"):
        body = s.strip("{}").strip()
        elem = ty[:-4]
        return [parse_scalar(elem, x.strip()) for x in body.split(",")] if body else []
    if ty.endswith(" map"):
        k, v = split_map(ty)
        body = s.strip("{}").strip()
        out = []
        for kv in re.findall(r'("[^"]*"|[^,]+?)\s*->\s*("[^"]*"|[^,]+)', body):
            out.append([parse_scalar(k, kv[0].strip()), parse_scalar(v, kv[1].strip())])
        return out
    return parse_scalar(ty, s)


def main():
    api = json.load(open(sys.argv[1]))
    errors = json.load(open(sys.argv[2]))
    sync = set()
    for line in open(sys.argv[3]):
        line = line.strip()
        if line and not line.startswith("#"):
            sync.add(line)
    by_name = {c["name"]: c for c in api}
    all_enums = {}
    for c in api:
        for e in c["enums"]:
            all_enums[e["name"]] = [v["name"] for v in e["values"]]
    used_enums = set()
    out_classes = []
    for cname in CLASSES:
        c = by_name[cname]
        fields = []
        for f in c["fields"]:
            ty = norm_type(f["type"])
            enums_of(ty, used_enums)
            fd = {"name": f["name"], "type": ty, "qualifier": f["qualifier"]}
            d = parse_default(ty, f.get("default"))
            if d is not None:
                fd["default"] = d
            fields.append(fd)
        msgs = []
        for m in sorted(c["messages"], key=lambda m: m["name"]):
            params = []
            for p in m["params"]:
                pty = norm_type(p["type"])
                enums_of(pty, used_enums)
                pd = {"name": p["name"], "type": pty}
                if not p.get("required", True):
                    pd["required"] = False
                params.append(pd)
            res = norm_type(m["result"][0])
            enums_of(res, used_enums)
            implicit = bool(m["implicit"])
            if implicit:
                # XAPI: only the implicit constructor and destructor have Async forms.
                is_async = m["name"] in ("create", "destroy")
            else:
                is_async = ("%s.%s" % (cname, m["name"])) not in sync
            msgs.append({
                "name": m["name"], "params": params, "result": res,
                "errors": [e["name"] for e in m["errors"]], "roles": m["roles"],
                "implicit": implicit, "async": is_async,
            })
        out_classes.append({
            "name": cname,
            "persistent": cname not in NOT_PERSISTENT and cname not in NO_TABLE,
            "table": cname not in NO_TABLE,
            "fields": fields, "messages": msgs,
        })
    fieldset = {(c["name"], f["name"]) for c in out_classes for f in c["fields"]}
    rels = [list(r) for r in RELATIONS
            if (r[0], r[1]) in fieldset and (r[2], r[3]) in fieldset]
    doc = {
        "version": 1,
        "classes": out_classes,
        "enums": {k: all_enums[k] for k in sorted(used_enums)},
        "relations": rels,
        "errors": {e["code"]: e["params"] for e in sorted(errors, key=lambda e: e["code"])},
    }
    # One entity per line keeps diffs of the committed file readable.
    w = sys.stdout
    w.write('{"version": 1,\n"classes": [\n')
    for i, c in enumerate(out_classes):
        head = {k: c[k] for k in ("name", "persistent", "table")}
        w.write("%s{%s,\n \"fields\": [\n" % ("," if i else "", json.dumps(head)[1:-1]))
        w.write(",\n".join("  " + json.dumps(f) for f in c["fields"]))
        w.write("],\n \"messages\": [\n")
        w.write(",\n".join("  " + json.dumps(m) for m in c["messages"]))
        w.write("]}\n")
    w.write('],\n"enums": {\n')
    w.write(",\n".join(" %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in doc["enums"].items()))
    w.write('},\n"relations": [\n')
    w.write(",\n".join(" " + json.dumps(r) for r in rels))
    w.write('],\n"errors": {\n')
    w.write(",\n".join(" %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in doc["errors"].items()))
    w.write("}}\n")


if __name__ == "__main__":
    main()
