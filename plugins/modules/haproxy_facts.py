#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: haproxy_facts
short_description: Gather the configuration and runtime state of the HAProxy on this host
version_added: "0.1.0"
description:
  - Returns, under C(ansible_facts.lbdoctor_haproxy), what is needed to explain why HAProxy
    reports C(Connection refused) or C(Layer4 timeout) for a backend server.
  - Finds the configuration the running HAProxy really uses, the C(-f) files and directories
    from the command line of a running C(haproxy) process (C(/proc/*/cmdline)), else from the
    C(ExecStart) of C(haproxy.service) with its C(Environment=) and C(EnvironmentFile=), else
    C(/etc/haproxy/haproxy.cfg). A directory means its C(*.cfg) files in lexical order.
  - Parses every backend and listen section with its servers (C(server) and
    C(server-template)), resolving C(default-server) and C(defaults) inheritance (also named
    C(defaults) and C(from)), every address form, C(${VAR}) expansion with the environment of
    the HAProxy process, and C(.if)/C(.elif)/C(.else)/C(.endif) blocks. Every server keeps its
    file and line. Problems go to C(config.errors) (what HAProxy refuses) and
    C(config.warnings), each with file and line.
  - Runs C(haproxy -c) on the same files when the binary is present and adds its messages.
  - Reads C(show info), C(show stat) and C(show servers state) from a stats socket (UNIX or
    TCP), or else from the master CLI of C(haproxy -W -S), one connection per command, each
    bounded by O(socket_timeout). When the runtime API
    cannot be used the facts say why in C(runtime.error) and the rest is still returned.
  - Resolves the host names servers are written with, on this host.
  - Scans HAProxy's log (journald for C(haproxy.service), and the syslog files the global C(log)
    lines of the configuration end in, found by following their facility and tag through the
    rsyslog rules of C(/etc/rsyslog.conf) and its includes; or O(log_files)) over the last
    O(log_window) minutes for server state changes, failed health checks, C(has no server
    available) and traffic refused at connect (C(SC)). An event already read from the journal
    is not counted again from a file.
  - Never changes anything; check mode runs the same reads.
author: lbdoctor maintainers (@lbdoctor)
options:
  config:
    description:
      - Configuration files or directories to read instead of those the running HAProxy uses,
        in load order.
    type: list
    elements: path
  content:
    description:
      - Configuration text to analyse offline (for example a file a user pasted). Nothing on
        the host is read for the configuration; it is reported as C(<content>).
      - Mutually exclusive with O(config).
    type: str
  environment:
    description:
      - Variables for C(${VAR}) expansion. They are added to (and override) the environment of
        the HAProxy process. Without this option and without a readable process environment,
        C(${VAR}) stays unexpanded and the affected servers are reported with family C(env).
    type: dict
  stats_socket:
    description:
      - Stats socket to use instead of those in the C(global) section, as a path, C(unix@PATH),
        C(abns@NAME), C(HOST:PORT), C(ipv4@HOST:PORT) or C(ipv6@[ADDR]:PORT).
    type: str
  runtime:
    description:
      - Query the runtime API over the stats socket.
    type: bool
    default: true
  socket_timeout:
    description:
      - Seconds allowed for each runtime API command (connect and answer).
    type: float
    default: 2.0
  validate:
    description:
      - Run C(haproxy -c) on the configuration files when the C(haproxy) binary is present.
    type: bool
    default: true
  resolve:
    description:
      - Resolve the host names of servers on this host (all address families).
    type: bool
    default: true
  logs:
    description:
      - Scan HAProxy's logs for server state changes and Layer-4 errors.
      - With O(content), logs are read only from O(log_files).
    type: bool
    default: true
  log_window:
    description:
      - How many minutes of logs to scan, back from now.
    type: int
    default: 60
  log_files:
    description:
      - Log files to scan instead of journald and the files chosen from the rsyslog configuration.
        Only the last 16 MiB of each file is read.
    type: list
    elements: path
  mac:
    description:
      - Read SELinux and AppArmor state for the HAProxy process and the server ports (mode,
        booleans, port labels, recent denials), for the C(selinux_denied) and C(apparmor_denied)
        verdicts. Not with O(content).
    type: bool
    default: true
  firewall:
    description:
      - Read the HAProxy host's own netfilter rulesets (iptables and ip6tables of both backends,
        nftables, referenced ipsets), so that a rule in its OUTPUT path that stops the SYN to a
        server is found. Not with O(content).
    type: bool
    default: true
notes:
  - Reading the process environment, the configuration and the admin socket usually needs root.
  - Facts are identical in check mode.
seealso:
  - module: lbdoctor.haproxy.tcp_probe
"""

EXAMPLES = r"""
- name: Gather HAProxy facts on the load balancer
  lbdoctor.haproxy.haproxy_facts:

- name: Analyse a configuration pasted by a user, with the variables it uses
  lbdoctor.haproxy.haproxy_facts:
    content: "{{ lookup('ansible.builtin.file', 'incident/haproxy.cfg') }}"
    environment:
      BACKEND_ADDR: 198.18.0.11
    runtime: false

- name: Use a TCP stats socket and show the servers HAProxy marks DOWN
  lbdoctor.haproxy.haproxy_facts:
    stats_socket: 127.0.0.1:9999
- name: Show the servers HAProxy marks DOWN
  ansible.builtin.debug:
    msg: "{{ ansible_facts.lbdoctor_haproxy.runtime.stat | selectattr('state', 'equalto', 'DOWN') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    lbdoctor_haproxy:
      description:
        - The HAProxy configuration and runtime state. See C(docs/haproxy_facts.md) in the
          collection for every key.
      returned: always
      type: dict
      contains:
        config:
          description:
            - C(files) in load order, C(source) (C(cmdline), C(unit), C(default), C(option) or
              C(content)), C(errors) and C(warnings) (each C({file, line, message, code,
              origin})), C(stats_sockets), C(backends) (backend and listen sections in file
              order, each with its C(servers) in file order), C(frontends), C(resolvers),
              C(logs) (the global C(log) lines, each C({target, args, file, line})), C(log_tag)
              (C({tag, file, line}) or null), C(conditionals) and C(validation) (the C(haproxy -c)
              run).
          returned: always
          type: dict
          sample:
            files: [/etc/haproxy/haproxy.cfg]
            source: cmdline
            errors: []
            warnings: []
            stats_sockets:
              - {address: /run/haproxy/admin.sock, family: unix, port: null, level: admin,
                 file: /etc/haproxy/haproxy.cfg, line: 4}
            backends:
              - name: web
                kind: backend
                file: /etc/haproxy/haproxy.cfg
                line: 30
                mode: http
                servers:
                  - {name: web1, address: 198.18.0.11, address_raw: "198.18.0.11:8080",
                     family: ipv4, port: 8080, port_offset: null, check: true, check_port: null,
                     check_addr: null, source: null, inter_ms: 2000, fall: 3, rise: 2,
                     disabled: false, backup: false, file: /etc/haproxy/haproxy.cfg, line: 33}
        runtime:
          description:
            - C(available), C(socket), C(error) and C(error_kind) (why the runtime API could not
              be read), C(info) (C(show info)), C(stat) (one dict per server row of
              C(show stat), keyed by header name, plus C(state), C(transition),
              C(transition_counts), C(status_detail) and C(in_progress)), C(stat_backends),
              C(servers_state) (C(show servers state) rows) and C(warnings).
          returned: always
          type: dict
          sample:
            available: true
            socket: /run/haproxy/admin.sock
            error: null
            stat:
              - {pxname: web, svname: web1, status: DOWN, state: DOWN, check_status: L4CON,
                 last_chk: Connection refused, in_progress: false, addr: "198.18.0.11:8080"}
        haproxy:
          description: The binary, its version and features, and the process found.
          returned: always
          type: dict
        dns:
          description:
            - For each host name a server is written with, C(addresses) (each C({address,
              family})) and C(error), and C(used_by) (backend, server and the address HAProxy
              holds now from C(show servers state)).
          returned: always
          type: dict
        logs:
          description:
            - Null when logs were not read. Otherwise C(servers) keyed by C(backend/server), each
              with C(last_transition) (the time as logged), C(last_state), C(last_reason),
              C(last_info), C(checks_failed), C(checks_succeeded), C(last_check),
              C(last_check_reason), C(last_check_info), C(traffic_errors) (counts of C(SC)/C(sC))
              and C(lines) (the latest, oldest first); C(backends) keyed by name with
              C(no_server_available); C(source), C(sources), C(window_minutes), C(since) and
              C(events).
            - C(source_reason) says why the files were read (for example C(local0 from
              /etc/haproxy/haproxy.cfg:2 -> /etc/rsyslog.d/49-haproxy.conf:7), or why none was);
              C(routes) holds one entry per global C(log) line (C(target), C(facility),
              C(config) file:line, C(journal), C(note), and C(files), each with C(path),
              C(rule) file:line, C(filter), C(severities), C(stop) and C(dynamic));
              C(rsyslog_files) the rsyslog configuration files read.
          returned: always
          type: dict
          sample:
            source: journalctl -u haproxy.service -o short-iso, /var/log/haproxy.log
            sources: [journalctl -u haproxy.service -o short-iso, /var/log/haproxy.log]
            source_reason: "local0 from /etc/haproxy/haproxy.cfg:2 -> /etc/rsyslog.d/49-haproxy.conf:7
              (:programname, startswith, \"haproxy\")"
            rsyslog_files: [/etc/rsyslog.conf, /etc/rsyslog.d/49-haproxy.conf]
            servers:
              web/web1:
                last_transition: "2026-11-25T17:03:24+0000"
                last_state: DOWN
                last_reason: Layer4 connection problem
                last_info: Connection refused
                lines: ["2026-11-25T17:03:24+0000 lb1 haproxy[812]: Server web/web1 is DOWN, ..."]
        mac:
          description:
            - SELinux and AppArmor facts (C(selinux), C(apparmor), C(unavailable)) for the HAProxy
              process and the server ports; absent with O(content) or O(mac=false). See the
              collection's docs/mac.md.
          returned: when O(mac) is true and O(content) is not given
          type: dict
        firewall:
          description:
            - The HAProxy host's rulesets, in the shape of the C(firewall) subset of
              M(lbdoctor.haproxy.backend_facts) (see the collection's docs/netfilter.md).
          returned: when O(firewall) is true and O(content) is not given
          type: dict
        unavailable:
          description: What could not be read, each C({what, reason, source}).
          returned: always
          type: list
          elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config_facts import gather, utf8_safe
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_collect import collect_mac
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_collect import collect_firewall

ENV = {"LC_ALL": "C", "LANG": "C"}


def _runner(module):
    def run(argv, env=None):
        binary = argv[0]
        if os.path.isabs(binary):
            if not os.access(binary, os.X_OK):
                return 127, "", "%s: not found" % binary
        elif module.get_bin_path(binary) is None:
            return 127, "", "%s: not found" % binary
        update = dict(env or {})
        update.update(ENV)
        # output that is not UTF-8 (a config line echoed by `haproxy -c`, a log line) becomes
        # U+FFFD: a lone surrogate would make the result invalid UTF-8, which ansible refuses
        return module.run_command(argv, environ_update=update, check_rc=False, errors="replace")

    return run


def _read_text(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def _haproxy_processes(facts):
    process = (facts.get("haproxy") or {}).get("process") or {}
    return [process["pid"]] if process.get("pid") else ["haproxy"]


def _server_ports(facts):
    """Every port HAProxy connects to: traffic and health-check ports, for their SELinux labels."""
    ports = set()
    for backend in (facts.get("config") or {}).get("backends") or []:
        for server in backend.get("servers") or []:
            for key in ("port", "check_port"):
                if isinstance(server.get(key), int):
                    ports.add(server[key])
    return sorted(ports)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="list", elements="path"),
            content=dict(type="str"),
            environment=dict(type="dict"),
            stats_socket=dict(type="str"),
            runtime=dict(type="bool", default=True),
            socket_timeout=dict(type="float", default=2.0),
            validate=dict(type="bool", default=True),
            resolve=dict(type="bool", default=True),
            logs=dict(type="bool", default=True),
            log_window=dict(type="int", default=60),
            log_files=dict(type="list", elements="path"),
            mac=dict(type="bool", default=True),
            firewall=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("config", "content")],
        supports_check_mode=True,
    )
    params = dict(module.params)
    if params["socket_timeout"] <= 0 or params["socket_timeout"] > 60:
        module.fail_json(msg="socket_timeout must be more than 0 and at most 60 seconds")
    if not 1 <= params["log_window"] <= 7 * 24 * 60:
        module.fail_json(msg="log_window must be between 1 and 10080 minutes")
    if params["environment"] is not None:
        params["environment"] = dict((str(k), "" if v is None else str(v)) for k, v in params["environment"].items())
    run = _runner(module)
    facts = gather(params, run)  # already strict UTF-8 (utf8_safe)
    # the SELinux/AppArmor and firewall parts carry paths and command output too: each made
    # strict UTF-8 as it is added
    if params["mac"] and params["content"] is None:
        facts["mac"] = utf8_safe(collect_mac(run, _read_text, processes=_haproxy_processes(facts),
                                             ports=_server_ports(facts)))
    if params["firewall"] and params["content"] is None:
        facts["firewall"] = utf8_safe(collect_firewall(run, _read_text))
        facts["unavailable"].extend(facts["firewall"].pop("unavailable", None) or [])
    # the parameters come back as `invocation` (a path option given on the command line may
    # hold bytes that are not UTF-8)
    module.params.update(utf8_safe(dict(module.params)))
    module.exit_json(changed=False, ansible_facts={"lbdoctor_haproxy": facts})


if __name__ == "__main__":
    main()
