"""Builders of engine inputs in the shape docs/contracts.md fixes for the fact modules.

These are the engine's inputs, written out by hand per scenario: the engine is the unit under
test here, the fact modules have their own tests against captured command output.
"""

import copy

LB = "lb1"
CFG = "/etc/haproxy/haproxy.cfg"


def server(name, address, port, line, family="ipv4", **extra):
    record = {"name": name, "address": address, "address_raw": "%s:%s" % (address, port), "family": family,
              "port": port, "check": True, "file": CFG, "line": line, "disabled": False, "backup": False}
    record.update(extra)
    return record


def stat(backend, name, status, check_status, last_chk="", addr=None):
    row = {"pxname": backend, "svname": name, "status": status, "check_status": check_status,
           "last_chk": last_chk, "check_desc": ""}
    if addr:
        row["addr"] = addr
    return row


def lb_result(servers, stats, backend="web", runtime_available=True, dns=None):
    facts = {
        "config": {"files": [CFG], "backends": [{"name": backend, "kind": "backend", "file": CFG, "line": 20,
                                                 "servers": servers}]},
        "runtime": {"available": runtime_available, "socket": "/run/haproxy/admin.sock",
                    "error": None if runtime_available else "connect to /run/haproxy/admin.sock: No such file or directory",
                    "stat": stats if runtime_available else []},
        "unavailable": [],
    }
    if dns:
        facts["dns"] = dns
    return {"changed": False, "ansible_facts": {"lbdoctor_haproxy": facts}}


def listener(address, port, process="python3", unit="app.service", pid=100, family=None, v6only=None, socket_unit=None):
    return {"family": family or ("ipv6" if ":" in address else "ipv4"), "address": address, "port": port,
            "inode": 1000 + port, "v6only": v6only, "pid": pid, "pids": [pid], "process": process,
            "cmdline": "%s -m http.server" % process, "user": "root", "unit": unit, "user_unit": None,
            "container": None, "socket_unit": socket_unit}


def socket_listener(address, port, socket_unit, v6only=False):
    """A listening socket systemd (pid 1, init.scope) holds for a .socket unit, as backend_facts
    reports it once the units subset has named the socket unit."""
    record = listener(address, port, process="systemd", unit="init.scope", pid=1, v6only=v6only, socket_unit=socket_unit)
    record["cmdline"] = "/sbin/init"
    return record


def socket_unit(name, listen, service, active="active", sub="listening"):
    """A socket_units entry of backend_facts (a loaded .socket unit with a TCP ListenStream)."""
    return {"unit": name, "listen": list(listen), "ActiveState": active, "SubState": sub, "LoadState": "loaded",
            "UnitFileState": "enabled", "service": service, "triggers": [service] if service else []}


def unit_state(active="active", sub="running", result="success", file_state="enabled", journal=None):
    return {"LoadState": "loaded", "ActiveState": active, "SubState": sub, "Result": result, "ExecMainStatus": 0,
            "NRestarts": 0, "UnitFileState": file_state, "journal": journal or []}


def backend_result(address, listeners=(), units=None, socket_units=None, port_owners=None, bindv6only=0, extra_addresses=(),
                   firewall=None, mac=None):
    addresses = [{"ifname": "lo", "family": "ipv4", "address": "127.0.0.1", "prefixlen": 8, "scope": "host"},
                 {"ifname": "eth0", "family": "ipv4", "address": address, "prefixlen": 24, "scope": "global"}]
    addresses += [copy.deepcopy(a) for a in extra_addresses]
    facts = {"hostname": "h", "bindv6only": bindv6only, "listeners": list(listeners), "addresses": addresses,
             "units": units or {}, "socket_units": socket_units or [], "port_owners": port_owners or {}, "unavailable": []}
    if firewall is not None:
        facts["firewall"] = firewall
    if mac is not None:
        facts["mac"] = mac
    return {"changed": False, "ansible_facts": {"lbdoctor_backend": facts}}


def probe_result(targets):
    return {"changed": False, "results": [
        {"address": address, "port": port, "result": result, "errno": errno, "elapsed_ms": 0.4, "source": None}
        for address, port, result, errno in targets]}
