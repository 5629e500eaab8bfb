# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SELinux and AppArmor on both sides: may HAProxy connect to the server port (LB), may the
service bind it (backend)? The decisions are mac_assess's; this turns them into findings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_assess import mac_assessment
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.findings import evidence, finding, fix

MECHANISM = {"selinux": "SELinux", "apparmor": "AppArmor"}


def _denial_text(denial):
    return "%s %s: %s %s -> %s (%s) tcp/%s%s" % (
        denial.get("time_local") or denial.get("stamp") or "", denial.get("comm") or "",
        " ".join(denial.get("permissions") or [denial.get("operation") or ""]),
        denial.get("scontext") or denial.get("profile") or "", denial.get("tcontext") or denial.get("family") or "",
        denial.get("tclass") or denial.get("sock_type") or "", denial.get("port"),
        " permissive" if denial.get("permissive") else "")


def _finding(ctx, assessment, host, side):
    mechanism = MECHANISM.get(assessment.get("mechanism"), assessment.get("mechanism"))
    action = "connect to" if side == "lb" else "bind"
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


def check(ctx):
    if ctx.port is None:
        return []
    findings = []
    lb_mac = ctx.lb_facts.get("mac")
    if lb_mac:
        port = ctx.server.get("check_port") or ctx.port
        for assessment in mac_assessment(lb_mac, side="lb", port=port, process="haproxy"):
            findings.append(_finding(ctx, assessment, ctx.lb, "lb"))
    host_mac = (ctx.host_facts or {}).get("mac")
    if host_mac:
        for assessment in mac_assessment(host_mac, side="backend", port=ctx.port, process=None):
            findings.append(_finding(ctx, assessment, ctx.host, "backend"))
    return findings
