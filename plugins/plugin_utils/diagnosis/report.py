# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report contract (schema_version 1, docs/report.md) and its renderings for people.

Later layers (remediation, verification, other output formats) fill the "remediation" and
"after" members and add keys; none of the keys here is ever renamed or removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.tcp_probe import HTTP_PASSED
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.causes import VERDICTS

SCHEMA_VERSION = 1
STAT_KEYS = ("status", "check_status", "last_chk")


# What the probe should have seen for each L4 outcome of HAProxy's last check. An ICMP reject can
# surface as L4TOUT when it arrives after HAProxy's check timeout (docs/causes.md).
PROBE_FOR_CHECK = {
    "L4CON": ("refused", "unreachable"),
    "L4TOUT": ("timeout", "unreachable"),
}
CONNECTED_CHECKS = ("L4OK", "L6OK", "L6RSP", "L6TOUT", "L7OK", "L7OKC", "L7RSP", "L7STS", "L7TOUT")
L7_CHECKS = ("L7OK", "L7OKC", "L7RSP", "L7STS", "L7TOUT")
L7_PASSED = ("L7OK", "L7OKC")


def describe_http(http):
    """One line for the probe's emulated HTTP check: "L7STS: GET /health HTTP/1.1 -> 503 (...)"."""
    if not http:
        return None
    text = str(http.get("result"))
    if http.get("request"):
        text += ": %s" % http["request"]
        if http.get("status") is not None:
            text += " -> %s" % http["status"]
    if http.get("reason"):
        text += " (%s)" % http["reason"]
    return text


def cross_check(stat, probe, check_probe=None):
    """Does the probe from the LB agree with HAProxy's own last health check?

    ``check_probe`` is the probe of where the check connects (its `addr`/`port`, with the HTTP
    check it sends) when that is known; HAProxy's Layer-7 codes are compared with its HTTP
    result, everything else with the TCP connect as before."""
    check = (stat or {}).get("check_status") or ""
    check = check[2:] if check.startswith("* ") else check
    target = check_probe or probe
    result = (target or {}).get("result")
    if not check or not result:
        return {"haproxy": check or None, "probe": result, "agree": None}
    http = (target or {}).get("http") or {}
    if check in L7_CHECKS and result == "open" and http.get("result") not in (None, "not_emulated"):
        probe_passed = http["result"] in HTTP_PASSED
        agree = http["result"] == check or (check in L7_PASSED and probe_passed)
        record = {"haproxy": check, "probe": result, "agree": agree, "layer": "L7", "http": http["result"],
                  "http_status": http.get("status")}
        if not agree:
            record["note"] = ("HAProxy's check says %s but the probe's HTTP check gave %s: the application's answer "
                              "may have changed since the last check, or the emulation differs (%s)" % (
                                  check, describe_http(http), "see docs/haproxy_facts.md"))
        return record
    if check in CONNECTED_CHECKS:
        agree = result == "open"
    elif check in PROBE_FOR_CHECK:
        agree = result in PROBE_FOR_CHECK[check]
    else:
        agree = None
    record = {"haproxy": check, "probe": result, "agree": agree}
    if check in L7_CHECKS and result == "open":
        record["layer"] = "L4"
        record["note"] = "HAProxy's check is Layer 7; the probe compared the TCP connect only (%s)" % (
            http.get("reason") or "no HTTP check emulated")
    if agree is False:
        record["note"] = ("HAProxy's check says %s but the probe saw %s: the fault may be intermittent, on the check "
                          "port, or already fixed since the last check" % (check, result))
    return record


def log_evidence(ctx):
    """The HAProxy log's latest lines about the server, as evidence (None when there are none)."""
    log = ctx.log or {}
    if not log.get("lines"):
        return None
    where = "HAProxy log on %s (%s)" % (ctx.lb, log.get("source") or "logs")
    if log.get("last_transition"):
        where += ", last transition %s to %s" % (log["last_transition"], log.get("last_state") or "?")
    return {"source": where, "text": "\n".join(log["lines"])}


def server_record(ctx, verdict, findings):
    stat = ctx.stat or {}
    haproxy = dict((key, stat.get(key)) for key in STAT_KEYS)
    haproxy["check_desc"] = stat.get("check_desc")
    haproxy["runtime_error"] = ctx.runtime_error if not ctx.stat else None
    record = {
        "lb": ctx.lb,
        "backend": ctx.backend.get("name"),
        "server": ctx.server.get("name"),
        "address": str(ctx.ip) if ctx.ip is not None else ctx.address,
        "port": ctx.port,
        "host": ctx.host,
        "config": {"file": ctx.server.get("file"), "line": ctx.server.get("line"),
                   "address_raw": ctx.server.get("address_raw"), "check_port": ctx.server.get("check_port")},
        "haproxy": haproxy,
        "probe": dict(ctx.probe) if ctx.probe else {},
        "check_probe": dict(ctx.check_probe) if ctx.check_probe else {},
        "cross_check": cross_check(ctx.stat, ctx.probe, ctx.check_probe),
        "log": dict(ctx.log) if ctx.log is not None else {},
        "verdict": verdict,
        "findings": _with_log(ctx, verdict, findings),
        "remediation": {"status": "not_requested", "actions": []},
        "after": {},
    }
    if ctx.resolution:
        record["config"]["resolution"] = ctx.resolution
    if ctx.intended_unit:
        record["intended_unit"] = {"unit": ctx.intended_unit, "source": ctx.intended_source}
    return record


def _with_log(ctx, verdict, findings):
    """The log's latest lines go with the finding that names the verdict (the first), unless the
    server is healthy or the finding already quotes them."""
    item = log_evidence(ctx)
    if item is None or verdict == "healthy" or not findings:
        return findings
    first = dict(findings[0])
    if item not in first["evidence"]:
        first["evidence"] = list(first["evidence"]) + [item]
    return [first] + list(findings[1:])


def summarize(servers):
    counts = dict((verdict, 0) for verdict in VERDICTS)
    for server in servers:
        counts[server["verdict"]] = counts.get(server["verdict"], 0) + 1
    return {
        "servers": len(servers),
        "healthy": counts["healthy"],
        "not_healthy": len(servers) - counts["healthy"],
        "by_verdict": dict((verdict, count) for verdict, count in counts.items() if count),
    }


def build_report(servers, generated_at, mode="diagnose", hosts=None):
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated_at,
        "mode": mode,
        "servers": servers,
        "hosts": hosts or {},
        "summary": summarize(servers),
    }


def _row_evidence(server):
    haproxy = server["haproxy"]
    shown = "%s/%s" % (haproxy.get("status") or "?", haproxy.get("check_status") or "?")
    if haproxy.get("last_chk"):
        shown += " %s" % haproxy["last_chk"]
    if not server["findings"]:
        return shown
    return "%s; %s" % (shown, server["findings"][0]["summary"])


def table_lines(report):
    """The console summary: one line per server, aligned columns, then the totals."""
    header = ("LB", "SERVER", "ADDRESS", "HOST", "VERDICT", "EVIDENCE")
    rows = []
    for server in report["servers"]:
        address = server["address"] if ":" not in str(server["address"]) else "[%s]" % server["address"]
        rows.append((server["lb"], "%s/%s" % (server["backend"], server["server"]), "%s:%s" % (address, server["port"]),
                     server["host"] or "-", server["verdict"], _row_evidence(server)))
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header) - 1)]
    lines = []
    for number, row in enumerate([header] + rows):
        lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + str(row[-1]))
        if number:
            # Every further cause of the same server, so that fixing the first is not mistaken for done.
            indent = " " * (sum(widths[:4]) + 8)
            for item in report["servers"][number - 1]["findings"][1:]:
                lines.append("%s+ %s: %s" % (indent, item["cause"], item["summary"]))
    summary = report["summary"]
    lines.append("%d servers: %d healthy, %d not healthy (%s)" % (
        summary["servers"], summary["healthy"], summary["not_healthy"],
        ", ".join("%s %d" % (k, v) for k, v in sorted(summary["by_verdict"].items())) or "none"))
    return lines


def _md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def _md_context(server):
    """What the probe and the HAProxy log said, above the findings."""
    lines = []
    check_probe = server.get("check_probe") or {}
    if check_probe.get("http"):
        lines.append("- HTTP check emulated from %s to %s:%s: `%s`" % (
            server["lb"], check_probe.get("address"), check_probe.get("port"),
            describe_http(check_probe["http"]).replace("`", "'")))
    cross = server.get("cross_check") or {}
    if cross.get("agree") is not None:
        lines.append("- cross-check: HAProxy %s, probe %s%s: %s" % (
            cross.get("haproxy"), cross.get("probe"), " / HTTP %s" % cross["http"] if cross.get("http") else "",
            "agree" if cross["agree"] else "DISAGREE (%s)" % cross.get("note")))
    log = server.get("log") or {}
    if log.get("last_transition"):
        reason = ", ".join(str(x) for x in (log.get("last_reason"), log.get("last_info")) if x)
        lines.append("- HAProxy log: last transition %s to %s%s" % (
            log["last_transition"], log.get("last_state") or "?", " (%s)" % reason if reason else ""))
    elif log.get("last_check"):
        lines.append("- HAProxy log: last failed check %s (%s)" % (log["last_check"], ", ".join(
            str(x) for x in (log.get("last_check_reason"), log.get("last_check_info")) if x)))
    elif log and log.get("source"):
        lines.append("- HAProxy log: nothing about this server in the last %s minutes" % log.get("window_minutes"))
    return lines


def render_markdown(report):
    """report.md: the summary table, then every finding of every server with evidence and fix."""
    out = ["# lbdoctor diagnosis", "",
           "Generated %s, mode `%s`, schema %s." % (report["generated_at"], report["mode"], report["schema_version"]), "",
           "| LB | Server | Address | Host | HAProxy | Verdict |", "|---|---|---|---|---|---|"]
    for server in report["servers"]:
        haproxy = server["haproxy"]
        out.append("| %s | %s/%s | %s:%s | %s | %s %s | **%s** |" % tuple(_md_cell(x) for x in (
            server["lb"], server["backend"], server["server"], server["address"], server["port"], server["host"] or "-",
            haproxy.get("status") or "?", haproxy.get("check_status") or "", server["verdict"])))
    summary = report["summary"]
    out += ["", "%d servers: %d healthy, %d not healthy." % (summary["servers"], summary["healthy"], summary["not_healthy"]), ""]
    for server in report["servers"]:
        if not server["findings"]:
            continue
        out += ["## %s/%s on %s: `%s`" % (server["backend"], server["server"], server["lb"], server["verdict"]), ""]
        context = _md_context(server)
        if context:
            out += context + [""]
        for number, item in enumerate(server["findings"], 1):
            out.append("%d. **%s**: %s" % (number, item["cause"], item["summary"]))
            for ev in item["evidence"]:
                text = str(ev["text"])
                if "\n" in text:
                    out.append("   - %s:" % ev["source"])
                    out.append("")
                    out += ["         " + line for line in text.splitlines()]
                    out.append("")
                else:
                    out.append("   - %s: `%s`" % (ev["source"], text.replace("`", "'")))
            fix = item["fix"]
            out.append("   - fix (%s): %s" % ("automatic" if fix.get("automatic") else "manual", fix["description"]))
            for argv in fix.get("commands") or []:
                out.append("     `%s` on %s" % (" ".join(argv), fix.get("host")))
        out.append("")
    return "\n".join(out).rstrip() + "\n"
