"""Two real faults on one server (issue: every cause, not just the first): the report shows both
in fix order, and fixing only one of them by hand leaves HAProxy's server DOWN."""

import re
import time

SERVER = "web2-8080"


def haproxy_status(ansible_adhoc, inventory, server):
    lb = ansible_adhoc(inventory=inventory, host_pattern="lb")["lb"]
    result = lb.command(argv=["socat", "stdio", "/run/haproxy/admin.sock"], stdin="show stat")["lb"]
    header = result["stdout_lines"][0].lstrip("# ").split(",")
    for line in result["stdout_lines"][1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("svname") == server:
            return row["status"], row["check_status"]
    raise AssertionError("no show stat row for %s" % server)


def causes(report, server):
    return [f["cause"] for f in [s for s in report["servers"] if s["server"] == server][0]["findings"]]


def test_both_causes_reported_and_fixing_one_leaves_the_server_down(two_causes_lab, ansible_adhoc, tmp_path):
    report, out = two_causes_lab.diagnose(tmp_path / "before")
    assert causes(report, SERVER) == ["firewall_reject", "service_stopped"]
    assert causes(report, "web1-8080") == []
    # People see both too: report.md numbers them in fix order, the console adds a `+` line.
    markdown = (tmp_path / "before" / "report.md").read_text()
    section = markdown.split("## web/%s on lb: `firewall_reject`" % SERVER, 1)[1].split("\n## ", 1)[0]
    assert re.search(r"^1\. \*\*firewall_reject\*\*: ", section, re.M) and re.search(r"^2\. \*\*service_stopped\*\*: ", section, re.M)
    console = [line for line in out.splitlines() if SERVER in line or "+ service_stopped:" in line]
    assert any("firewall_reject" in line for line in console) and any("+ service_stopped:" in line for line in console), console

    unit = two_causes_lab.server(SERVER)["service"]["unit"]
    web2 = ansible_adhoc(inventory=two_causes_lab.inventory, host_pattern="web2")["web2"]
    started = web2.service(name=unit, state="started")["web2"]
    assert started.get("state") == "started", started

    time.sleep(4)  # several health-check intervals (inter 1s, rise 1)
    status, check = haproxy_status(ansible_adhoc, two_causes_lab.inventory, SERVER)
    assert status.startswith("DOWN"), (status, check)

    report, _out = two_causes_lab.diagnose(tmp_path / "after")
    assert causes(report, SERVER) == ["firewall_reject"]


def test_check_mode_changes_nothing_and_a_rerun_reports_no_change(two_causes_lab, tmp_path):
    # The first run may record the units of healthy ports (last_healthy.json); after it, neither a
    # check-mode run nor a real one changes anything.
    two_causes_lab.diagnose(tmp_path / "first")
    _report, out = two_causes_lab.diagnose(tmp_path / "check", "--check")
    _report, out_again = two_causes_lab.diagnose(tmp_path / "again")
    for text in (out, out_again):
        recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", text, re.M)
        assert recap and all(changed == "0" for _host, changed in recap), text[-2000:]
    assert (tmp_path / "check" / "report.json").exists()
