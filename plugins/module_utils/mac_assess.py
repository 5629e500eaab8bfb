# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide whether SELinux or AppArmor explains a refused connection, and name the narrowest fix.

Pure functions over the ``mac`` facts (mac_collect.collect_mac); no ansible import, standard
library only, so the correlation engine and plain pytest both use them.

Which port types a domain may reach comes from the Fedora/RHEL policy source
(fedora-selinux/selinux-policy, policy/modules/contrib/rhcs.te for haproxy_t and apache.te for
httpd_t, corenetwork.if.in for what the booleans add; docs/mac.md names the commit). Those tables
only serve the *predicted* verdict when no AVC was logged (dontaudit rules, an unreadable audit
log); an observed denial always comes first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_apparmor import (
    INET_FAMILIES,
    profile_file_name,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_selinux import (
    is_default_port_type,
)

# rhcs.te: corenet_tcp_connect_{commplex_link,commplex_main,fmpro_internal,http,http_cache,
# rtp_media}_port(haproxy_t); corenet_tcp_bind_{commplex_main,http,http_cache}_port(haproxy_t).
# apache.te: corenet_tcp_bind_{http,http_cache,ntop,jboss_management,jboss_messaging,puppet}_port(httpd_t).
CONNECT_TYPES = {
    "haproxy_t": ("http_port_t", "http_cache_port_t", "commplex_link_port_t", "commplex_main_port_t",
                  "fmpro_internal_port_t", "rtp_media_port_t"),
}
BIND_TYPES = {
    "haproxy_t": ("http_port_t", "http_cache_port_t", "commplex_main_port_t"),
    "httpd_t": ("http_port_t", "http_cache_port_t", "ntop_port_t", "jboss_management_port_t",
                "jboss_messaging_port_t", "puppet_port_t"),
}
# Booleans that open every port to the domain: tunable_policy(`haproxy_connect_any') in rhcs.te
# (connect and bind all ports), tunable_policy(`httpd_can_network_connect') in apache.te.
CONNECT_ANY_BOOLEAN = {"haproxy_t": "haproxy_connect_any", "httpd_t": "httpd_can_network_connect"}
BIND_ANY_BOOLEAN = {"haproxy_t": "haproxy_connect_any"}
# nis_enabled gives every nsswitch domain (haproxy_t and httpd_t are) the generic ports:
# nis_use_ypbind_uncond -> corenet_tcp_connect_generic_port / corenet_tcp_bind_generic_port
# ({port_t unreserved_port_t ephemeral_port_t}) and corenet_tcp_connect_all_reserved_ports;
# it also *dontaudits* name_bind on every defined port type, so a bind denial leaves no AVC.
NIS_CONNECT_TYPES = ("port_t", "unreserved_port_t", "ephemeral_port_t", "reserved_port_t",
                     "hi_reserved_port_t")
NIS_BIND_TYPES = ("port_t", "unreserved_port_t", "ephemeral_port_t")
NSSWITCH_DOMAINS = ("haproxy_t", "httpd_t")
# The type the fix labels a port with: the first type the domain may reach.
PREFERRED_TYPE = {("connect", "haproxy_t"): "http_port_t", ("bind", "haproxy_t"): "http_port_t",
                  ("bind", "httpd_t"): "http_port_t"}

SIDES = ("lb", "backend")


def _matches_process(record, process, domain_key="stype"):
    if process is None:
        return True
    if isinstance(process, int):
        return record.get("pid") == process
    comm = record.get("comm")
    if comm and comm in (process, process[:15]):
        return True
    if domain_key and record.get(domain_key) == process:
        return True
    profile = record.get("profile")
    if profile and (profile == process or profile.rsplit("/", 1)[-1] == process):
        return True
    return False


def _selinux_domain(selinux, denials, process):
    for denial in denials:
        if denial.get("stype"):
            return denial["stype"]
    for proc in selinux.get("processes") or ():
        if process is None or proc.get("process") == process or proc.get("pid") == process:
            if proc.get("type"):
                return proc["type"]
    return None


def _port_fact(selinux, port):
    for entry in selinux.get("ports") or ():
        if entry.get("port") == port and entry.get("proto", "tcp") == "tcp":
            return entry
    return None


def _allowed(domain, action, port_type, booleans):
    """True/False when the policy tables know the answer, None when they do not."""
    if domain is None or port_type is None:
        return None
    any_boolean = (CONNECT_ANY_BOOLEAN if action == "connect" else BIND_ANY_BOOLEAN).get(domain)
    if any_boolean and booleans.get(any_boolean):
        return True
    if domain in NSSWITCH_DOMAINS and booleans.get("nis_enabled"):
        if port_type in (NIS_CONNECT_TYPES if action == "connect" else NIS_BIND_TYPES):
            return True
        if action == "bind" and not is_default_port_type(port_type):
            return None  # dontaudit hides the answer; the tables do not model the rest
    table = CONNECT_TYPES if action == "connect" else BIND_TYPES
    if domain not in table:
        return None
    return port_type in table[domain]


def _semanage_fix(port, port_type, new_type):
    flag = "-a" if port_type is None or is_default_port_type(port_type) else "-m"
    return ["semanage", "port", flag, "-t", new_type, "-p", "tcp", str(port)]


def _selinux_fix(side, domain, port, port_fact):
    """(fix, alternatives, notes) for a domain that may not reach ``port``."""
    action = "connect" if side == "lb" else "bind"
    port_type = port_fact.get("type") if port_fact else None
    notes = []
    alternatives = []
    new_type = PREFERRED_TYPE.get((action, domain))
    if new_type is None:
        table = CONNECT_TYPES if action == "connect" else BIND_TYPES
        if domain in table:
            new_type = table[domain][0]
    any_boolean = (CONNECT_ANY_BOOLEAN if action == "connect" else BIND_ANY_BOOLEAN).get(domain)
    boolean_fix = None
    if any_boolean:
        boolean_fix = {"argv": ["setsebool", "-P", any_boolean, "1"],
                       "summary": "broad: lets %s name_%s every port" % (domain, action),
                       "scope": "domain", "automatic": False}
    lookup = {"argv": ["sesearch", "--allow", "-s", domain or "DOMAIN", "-c", "tcp_socket", "-p",
                       "name_" + action],
              "summary": "list the port types %s may name_%s, then label the port with one "
                         "(semanage port -a -t TYPE -p tcp PORT)" % (domain, action),
              "scope": "lookup", "automatic": False}
    table = CONNECT_TYPES if action == "connect" else BIND_TYPES
    if new_type is not None and port_type in table.get(domain, ()):
        notes.append("tcp/%s is labelled %s, which the policy tables let %s name_%s, yet it was "
                     "denied: the loaded policy differs from the tables" % (port, port_type, domain, action))
        new_type = None
    if port is None:
        notes.append("no port given: cannot name the port to label")
        fix = None
    elif new_type is None:
        # No port type is known to be reachable by this domain: the boolean (when there is one)
        # is the only fix we can name; otherwise say how to find the type.
        notes.append("the policy tables name no port type that %s may name_%s" % (domain, action))
        if boolean_fix:
            fix, boolean_fix = boolean_fix, None
            alternatives.append(lookup)
        else:
            fix = lookup
    else:
        argv = _semanage_fix(port, port_type, new_type)
        summary = "label tcp/%d %s so that %s may name_%s it" % (port, new_type, domain, action)
        if argv[2] == "-m":
            notes.append("tcp/%d is labelled %s; relabelling changes it for every local service "
                         "that binds or connects to that port" % (port, port_type))
        fix = {"argv": argv, "summary": summary, "scope": "port", "automatic": argv[2] == "-a"}
        if domain == "haproxy_t" and action == "connect":
            alternatives.append({"argv": _semanage_fix(port, port_type, "http_cache_port_t"),
                                 "summary": "or label tcp/%d http_cache_port_t (haproxy_t may "
                                            "name_connect it too)" % port,
                                 "scope": "port", "automatic": False})
    if boolean_fix:
        alternatives.append(boolean_fix)
    return fix, alternatives, notes


def _denial_blocks(denial, mode):
    if denial.get("result") != "denied":
        return False
    if denial.get("permissive") is None:
        return mode == "enforcing"
    return not denial["permissive"]


def _dismiss_reason(denial, mode, action):
    perm = " ".join(denial.get("permissions") or [])
    syscall = denial.get("syscall") or {}
    if not denial.get("network"):
        return ("%s on %s (%s) is not a network permission: it does not stop a TCP connection"
                % (perm, denial.get("tclass"), denial.get("ttype")))
    if syscall.get("errno") == "ECONNREFUSED":
        return ("the connect() went out and the peer refused it (exit=ECONNREFUSED): SELinux "
                "logged %s but did not cause the refusal" % perm)
    if not _denial_blocks(denial, mode):
        return "permissive: SELinux logged %s but did not block it" % perm
    if "name_" + action not in (denial.get("permissions") or []):
        return "%s is not the name_%s that this side needs" % (perm, action)
    return None


def selinux_assessment(mac_facts, side="lb", port=None, process=None):
    """Does SELinux explain the refusal of TCP ``port`` for ``process`` on this ``side``?

    ``side`` is "lb" (HAProxy's domain must name_connect the server port) or "backend" (the
    service's domain must name_bind its port). ``process`` is a comm ("haproxy"), an SELinux
    domain ("haproxy_t") or a pid. Returns a dict: mechanism, side, port, process, cause
    ("selinux_denied" or None), confidence ("observed": a blocking AVC; "predicted": no AVC but
    the policy tables say the label is not reachable; None), mode, domain, port_type, denials
    (the AVCs that explain it), dismissed ([{denial, reason}]: AVCs of the process that do not),
    fix ({argv, summary, scope, automatic} or None), alternatives (broader fixes, narrowest
    first), notes.
    """
    if side not in SIDES:
        raise ValueError("side must be one of %s, not %r" % (", ".join(SIDES), side))
    selinux = (mac_facts or {}).get("selinux") or {}
    mode = selinux.get("mode")
    booleans = selinux.get("booleans") or {}
    action = "connect" if side == "lb" else "bind"
    result = {"mechanism": "selinux", "side": side, "port": port, "process": process, "cause": None,
              "confidence": None, "mode": mode, "domain": None, "port_type": None, "denials": [],
              "dismissed": [], "fix": None, "alternatives": [], "notes": []}
    if mode in (None, "disabled"):
        result["notes"].append("SELinux is %s" % (mode or "of unknown state"))
        return result
    port_fact = _port_fact(selinux, port) if port is not None else None
    if port_fact:
        result["port_type"] = port_fact.get("type")
    relevant = []
    for denial in selinux.get("denials") or ():
        if not _matches_process(denial, process):
            continue
        port_ok = port is None or denial.get("port") is None or denial.get("port") == port
        reason = _dismiss_reason(denial, mode, action)
        if reason is None and not port_ok:
            reason = "concerns tcp/%s, not tcp/%s" % (denial.get("port"), port)
        if reason is None:
            relevant.append(denial)
        else:
            result["dismissed"].append({"denial": denial, "reason": reason})
    domain = _selinux_domain(selinux, relevant, process)
    if domain is None and not relevant:
        # Without a process to match, a dismissed record names the domain only when it concerns
        # this port: another port's AVC may be another service's.
        domain = _selinux_domain(selinux, [d["denial"] for d in result["dismissed"]
                                           if process is not None or d["denial"].get("port") == port], process)
    result["domain"] = domain
    permissive_domain = domain is not None and mode == "enforcing" and any(
        d["denial"].get("stype") == domain and d["denial"].get("permissive") is True for d in result["dismissed"])
    if relevant:
        result.update(cause="selinux_denied", confidence="observed", denials=relevant)
        if result["port_type"] is None:
            result["port_type"] = relevant[-1].get("ttype")
            port_fact = {"type": result["port_type"]}
    elif permissive_domain and port is not None:
        # permissive=1 on an enforcing host: the domain itself is permissive (semanage permissive -a).
        result["notes"].append("%s logged permissive=1 on an enforcing host: the domain is permissive, "
                               "SELinux blocks nothing it does" % domain)
    elif mode == "enforcing" and port is not None:
        allowed = _allowed(domain, action, result["port_type"], booleans)
        if allowed is False:
            result.update(cause="selinux_denied", confidence="predicted")
            result["notes"].append("no AVC seen, but %s may not name_%s %s (tcp/%d) under the "
                                   "loaded booleans" % (domain, action, result["port_type"], port))
        elif allowed is None and domain and result["port_type"]:
            result["notes"].append("cannot tell from the policy tables whether %s may name_%s %s"
                                   % (domain, action, result["port_type"]))
    if mode == "permissive":
        result["notes"].append("SELinux is permissive: it logs but blocks nothing")
    if result["cause"]:
        fix, alternatives, notes = _selinux_fix(side, domain, port, port_fact)
        result.update(fix=fix, alternatives=alternatives)
        result["notes"].extend(notes)
    return result


def _profile_mode(apparmor, profile):
    if not profile:
        return None
    return (apparmor.get("profiles") or {}).get(profile)


def apparmor_assessment(mac_facts, side="lb", port=None, process=None):
    """Does AppArmor explain the refusal? Same result shape as ``selinux_assessment`` with
    mechanism "apparmor", cause "apparmor_denied", ``profile`` and ``profile_mode`` instead of
    domain and port_type.

    On the LB side a denied inet ``create``/``connect`` of HAProxy's profile explains it, on a
    backend a denied ``create``/``bind``/``listen``/``accept``. The fix names the rule to add
    (``network inet stream,``) to the profile file and the reload command.
    """
    if side not in SIDES:
        raise ValueError("side must be one of %s, not %r" % (", ".join(SIDES), side))
    apparmor = (mac_facts or {}).get("apparmor") or {}
    operations = ("create", "connect") if side == "lb" else ("create", "bind", "listen", "accept")
    result = {"mechanism": "apparmor", "side": side, "port": port, "process": process, "cause": None,
              "confidence": None, "enabled": apparmor.get("enabled"), "profile": None,
              "profile_mode": None, "denials": [], "dismissed": [], "fix": None, "alternatives": [],
              "notes": []}
    if not apparmor.get("enabled"):
        result["notes"].append("AppArmor is %s" % ("disabled" if apparmor.get("enabled") is False
                                                   else "of unknown state"))
        return result
    relevant = []
    for denial in apparmor.get("denials") or ():
        if not _matches_process(denial, process, domain_key=None):
            continue
        reason = None
        if not denial.get("network"):
            reason = "operation %s on %s is not an inet socket operation" % (
                denial.get("operation"), denial.get("family") or denial.get("name"))
        elif denial.get("result") != "DENIED":
            reason = "complain mode: AppArmor logged %s but allowed it" % denial.get("operation")
        elif denial.get("operation") not in operations:
            stopped = "connect" if side == "lb" else "listener"
            reason = "operation %s does not stop a %s" % (denial.get("operation"), stopped)
        elif port is not None and side == "lb" and denial.get("fport") not in (None, port):
            reason = "concerns port %s, not %s" % (denial.get("fport"), port)
        elif port is not None and side == "backend" and denial.get("lport") not in (None, port):
            reason = "concerns port %s, not %s" % (denial.get("lport"), port)
        if reason:
            result["dismissed"].append({"denial": denial, "reason": reason})
        else:
            relevant.append(denial)
    profile = relevant[-1]["profile"] if relevant else None
    if profile is None:
        for proc in apparmor.get("processes") or ():
            if process is None or proc.get("process") == process or proc.get("pid") == process:
                if proc.get("profile") and proc["profile"] != "unconfined":
                    profile = proc["profile"]
                    result["profile_mode"] = proc.get("mode")
                    break
    result["profile"] = profile
    if result["profile_mode"] is None:
        result["profile_mode"] = _profile_mode(apparmor, profile)
    if relevant:
        families = sorted(set(d.get("family") for d in relevant if d.get("family") in INET_FAMILIES))
        sock_types = sorted(set(d.get("sock_type") or "stream" for d in relevant))
        rules = ["network %s %s," % (family, sock_type) for family in families for sock_type in sock_types]
        path = profile_file_name(profile) if profile else None
        result.update(cause="apparmor_denied", confidence="observed", denials=relevant)
        result["fix"] = {
            "argv": ["apparmor_parser", "-r", path] if path else None,
            "summary": "add %s to profile %s (%s), then reload it" % (" ".join(rules), profile, path),
            "rules": rules, "file": path, "scope": "profile", "automatic": False,
        }
        result["alternatives"].append({
            "argv": ["aa-complain", profile] if profile else None,
            "summary": "broad: put %s in complain mode (logs, blocks nothing)" % profile,
            "scope": "profile", "automatic": False})
        if path and not profile.startswith("/"):
            result["notes"].append("profile %s is not path-named: find its file with "
                                   "grep -rl 'profile %s' /etc/apparmor.d" % (profile, profile))
    return result


def mac_assessment(mac_facts, side="lb", port=None, process=None):
    """Both assessments, SELinux first; only those that found a cause."""
    results = [selinux_assessment(mac_facts, side, port, process),
               apparmor_assessment(mac_facts, side, port, process)]
    return [r for r in results if r["cause"]]
