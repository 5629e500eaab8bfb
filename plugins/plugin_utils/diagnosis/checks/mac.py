# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SELinux and AppArmor on both sides: may HAProxy connect to the server port (LB), may the
service bind it (backend)? The decisions are mac_assess's; this turns them into findings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_assess import mac_assessment
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.findings import evidence, finding, fix
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.net import listener_accepts

MECHANISM = {"selinux": "SELinux", "apparmor": "AppArmor"}
# HAProxy check results that need the SYN to have left the load balancer. A connect that SELinux
# or AppArmor denies in HAProxy's own process fails at once with EACCES, before any packet: a
# check that passed, answered at layer 6/7, or waited for a timeout was not denied.
CHECK_WENT_OUT = ("L4OK", "L4TOUT", "L6OK", "L6TOUT", "L6RSP", "L7OK", "L7OKC", "L7TOUT", "L7RSP", "L7STS")


def _contradiction(ctx, side):
    """Why the observed connection contradicts a denial on ``side``, or None."""
    if side == "lb":
        stat = ctx.stat or {}
        check_status = (stat.get("check_status") or "").lstrip("* ").strip().upper()
        if check_status in CHECK_WENT_OUT:
            return "HAProxy's last check of the server is %s: its connect left the load balancer" % check_status
        if "connection refused" in (stat.get("last_chk") or "").lower():
            return ("HAProxy's last check was refused by the peer (ECONNREFUSED, not the EACCES of a denied "
                    "connect): its connect left the load balancer")
        return None
    facts = ctx.host_facts or {}
    for listener in facts.get("listeners") or []:
        if listener.get("port") == ctx.port and ctx.ip is not None and listener_accepts(
                listener, ctx.ip, facts.get("bindv6only", 0)):
            return "%s listens on tcp/%s on %s: its bind was allowed" % (
                listener.get("process") or "a process", ctx.port, ctx.host)
    return None


def _denial_text(denial):
    return "%s %s: %s %s -> %s (%s) tcp/%s%s" % (
        denial.get("time_local") or denial.get("stamp") or "", denial.get("comm") or "",
        " ".join(denial.get("permissions") or [denial.get("operation") or ""]),
        denial.get("scontext") or denial.get("profile") or "", denial.get("tcontext") or denial.get("family") or "",
        denial.get("tclass") or denial.get("sock_type") or "", denial.get("port"),
        " permissive" if denial.get("permissive") else "")


def _finding(ctx, assessment, host, side):
    mechanism = MECHANISM.get(assessment.get("mechanism"), assessment.get("mechanism"))
    action = "connecting to" if side == "lb" else "binding"
    who = assessment.get("domain") or assessment.get("profile") or assessment.get("process") or "the service"
    summary = "%s (%s) on %s keeps %s from %s tcp/%s" % (
        mechanism, assessment.get("mode") or assessment.get("profile_mode") or "active", host, who, action, assessment.get("port"))
    if assessment.get("confidence") == "predicted":
        summary += " (predicted from the policy: no denial was logged)"
    if side == "backend":
        summary += "; a unit that cannot bind its port shows up as stopped or failed"
    items = [evidence("%s denial on %s" % (mechanism, host), _denial_text(d)) for d in assessment.get("denials") or []]
    if assessment.get("port_type"):
        items.append(evidence("port label on %s" % host, "tcp/%s is %s" % (assessment.get("port"), assessment["port_type"])))
    items += [evidence("note", note) for note in assessment.get("notes") or []]
    proposed = assessment.get("fix") or {}
    argv = proposed.get("argv")
    action_name = "selinux_port_label" if argv and argv[:2] == ["semanage", "port"] else (
        "selinux_boolean" if argv and argv[0] == "setsebool" else "%s_rule" % assessment.get("mechanism"))
    return finding(assessment["cause"], summary, items,
                   fix(action_name, proposed.get("summary") or "see the notes", automatic=bool(proposed.get("automatic")),
                       host=host, commands=[argv] if argv else [],
                       alternatives=[dict(alt) for alt in assessment.get("alternatives") or []]))


def _findings(ctx, assessments, host, side):
    """A predicted denial that the observed connection contradicts is no finding; an observed
    one stays (the record is evidence), with the contradiction as a note."""
    findings = []
    contradiction = _contradiction(ctx, side) if assessments else None
    for assessment in assessments:
        if contradiction and assessment.get("confidence") == "predicted":
            continue
        if contradiction:
            assessment = dict(assessment, notes=list(assessment.get("notes") or []) + [
                "%s; the denial may predate the current state" % contradiction])
        findings.append(_finding(ctx, assessment, host, side))
    return findings


def check(ctx):
    if ctx.port is None:
        return []
    findings = []
    lb_mac = ctx.lb_facts.get("mac")
    if lb_mac:
        port = ctx.server.get("check_port") or ctx.port
        findings.extend(_findings(ctx, mac_assessment(lb_mac, side="lb", port=port, process="haproxy"), ctx.lb, "lb"))
    host_mac = (ctx.host_facts or {}).get("mac")
    if host_mac:
        findings.extend(_findings(ctx, mac_assessment(host_mac, side="backend", port=ctx.port, process=None),
                                  ctx.host, "backend"))
    return findings
