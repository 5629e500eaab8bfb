#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: backend_facts
short_description: Gather what a backend host knows about the ports HAProxy connects to
version_added: "0.1.0"
description:
  - One call per backend host returns the facts needed to explain why HAProxy reports
    C(Connection refused) or C(Layer4 timeout) for a server on it, under
    C(ansible_facts.lbdoctor_backend).
  - Listening TCP sockets (IPv4 and IPv6) from C(/proc/net/tcp) and C(/proc/net/tcp6), each with
    its owning processes, command line, user, systemd unit and container, found in one pass over
    C(/proc/*/fd); C(ss) is used only when C(/proc) cannot be read. Whether an IPv6 wildcard
    listener also accepts IPv4 (C(IPV6_V6ONLY)) comes from a C(NETLINK_SOCK_DIAG) dump, or one
    C(ss -tlneH) call when netlink is not usable.
  - Interface addresses from C(ip -j addr show).
  - For every unit that owns a listener, is named by the user, owned a port when the host was last
    healthy, or is found to serve a requested port, its systemd state in one C(systemctl show --all)
    call (socket units included, inactive ones too), and the last lines of the journal of failed,
    inactive or restarting units and of a unit that should serve a port nobody listens on.
  - Container port mappings from C(docker ps) and C(podman ps) when those binaries exist.
  - The firewall rulesets and the SELinux / AppArmor state, from the collectors the collection
    shares with its other modules.
  - What cannot be read (no root, a tool missing, systemd not running) is listed in
    C(unavailable) with the reason; the rest is still returned. The module fails only on bad
    options.
author: lbdoctor maintainers (@lbdoctor)
options:
  gather_subset:
    description:
      - Which groups of facts to gather, like M(ansible.builtin.setup).
      - C(all) selects every subset; a name prefixed with C(!) excludes it.
      - Subsets are C(listeners), C(addresses), C(units), C(containers), C(firewall)
        (iptables, ip6tables, nftables and ipsets rulesets, see docs/netfilter.md) and C(mac)
        (SELinux and AppArmor state for the listeners of O(ports), see docs/mac.md).
    type: list
    elements: str
    default: [all]
  ports:
    description:
      - The ports HAProxy sends to this host. For each, the module works out which unit should
        serve it (see C(port_owners) in the return values).
    type: list
    elements: int
    default: []
  units:
    description:
      - Unit names the user says serve the ports, without saying which port. A name without a
        type gets C(.service).
      - One is tied to a port in C(port_owners) only with evidence, when it listens on the port
        or its C(ExecStart)/C(Environment) names the port; being the only unit named is no
        evidence. Use O(unit_map) to tie a unit to a port outright.
      - Names are checked against the characters systemd allows; anything else is an error.
    type: list
    elements: str
    default: []
  unit_map:
    description:
      - Port to unit mapping given by the user; it takes precedence over anything discovered.
    type: dict
    default: {}
  journal_lines:
    description:
      - How many journal lines to return for each failed, inactive or restarting unit, and for
        the unit that should serve a requested port nobody listens on. C(0) skips the journal.
    type: int
    default: 10
  state_file:
    description:
      - JSON file with the port to unit mapping recorded when the host was last healthy.
        A missing file is not an error.
    type: path
    default: /var/lib/lbdoctor/last_healthy.json
  record_healthy:
    description:
      - Write the current port to unit mapping of O(ports) (units seen listening now) into
        O(state_file), keeping the entries of other ports and a backup of the previous file. Use it only when the host is known
        to be healthy. Nothing is written in check mode; C(changed) says whether the mapping
        differs from the file.
    type: bool
    default: false
notes:
  - Runs as root to see the owners of every socket; without root, the owners of other users'
    sockets are listed in C(unavailable).
  - Supports check mode; gathering facts changes nothing. See O(record_healthy).
  - Commands run as argv lists with C(LC_ALL=C).
attributes:
  check_mode:
    support: full
    description: Gathers the same facts in check mode; O(record_healthy) writes nothing then.
  diff_mode:
    support: none
    description: No diff is reported.
  facts:
    support: full
    description: Returns C(ansible_facts.lbdoctor_backend).
seealso:
  - name: Data contracts
    description: The shape of C(lbdoctor_backend) (docs/contracts.md in the collection).
    link: https://github.com/lbdoctor/haproxy/blob/main/docs/contracts.md
"""

EXAMPLES = r"""
- name: Gather everything about the ports HAProxy uses on this backend
  lbdoctor.haproxy.backend_facts:
    ports: [8080]

- name: The user knows which unit serves the port
  lbdoctor.haproxy.backend_facts:
    unit_map:
      "8080": app.service
    journal_lines: 20

- name: Only listeners and addresses, no systemd calls
  lbdoctor.haproxy.backend_facts:
    gather_subset: [listeners, addresses]

- name: Everything but containers
  lbdoctor.haproxy.backend_facts:
    gather_subset: ["all", "!containers"]
    units: [app]

- name: Remember the healthy mapping (run after a successful check)
  lbdoctor.haproxy.backend_facts:
    ports: [8080, 8443]
    record_healthy: true
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    lbdoctor_backend:
      description: The backend host's facts; the full shape is in docs/backend_facts.md.
      returned: always
      type: complex
      contains:
        hostname:
          description: Kernel host name.
          type: str
          returned: always
          sample: web1
        gather_subset:
          description: The subsets gathered, in collection order.
          type: list
          elements: str
          returned: always
          sample: [listeners, addresses, units, containers]
        bindv6only:
          description: C(net.ipv6.bindv6only); null when unreadable.
          type: int
          returned: when listeners are gathered
          sample: 0
        listeners:
          description:
            - Listening TCP sockets sorted by (port, family, address).
            - Keys C(family), C(address), C(port), C(inode), C(socket_uid), C(v6only) (IPv6 only;
              null when unknown), C(accepts_ipv4), C(pid) (lowest owner), C(pids), C(process),
              C(cmdline), C(user), C(unit), C(user_unit), C(slice), C(cgroup), C(container)
              (C({runtime, id}) or null), C(socket_unit) (when systemd holds the socket for a
              socket unit) and C(source) (C(proc) or C(ss)).
          type: list
          elements: dict
          returned: when listeners are gathered
          sample:
            - family: ipv4
              address: 0.0.0.0
              port: 8080
              inode: 12034
              socket_uid: 0
              v6only: null
              accepts_ipv4: true
              pid: 321
              pids: [321]
              process: python3
              cmdline: python3 -m http.server 8080
              user: root
              unit: app.service
              user_unit: null
              slice: system.slice
              cgroup: /system.slice/app.service
              container: null
              socket_unit: null
              source: proc
        addresses:
          description: Interface addresses, in C(ip) order, each C(ifname), C(family),
            C(address), C(prefixlen), C(scope), C(operstate), C(flags).
          type: list
          elements: dict
          returned: when addresses are gathered
          sample:
            - {ifname: eth0, family: ipv4, address: 198.18.0.11, prefixlen: 24, scope: global,
               operstate: UP, flags: [BROADCAST, MULTICAST, UP, LOWER_UP]}
        units:
          description:
            - Per unit name, the systemd properties C(Id), C(Names), C(LoadState), C(ActiveState),
              C(SubState), C(Result), C(ExecMainStatus), C(ExecMainCode), C(ExecMainPID),
              C(MainPID), C(NRestarts), C(UnitFileState), C(FragmentPath), C(Triggers),
              C(TriggeredBy), C(ActiveEnterTimestamp), C(InactiveEnterTimestamp),
              C(StateChangeTimestamp), C(User), C(Description) (null when systemd prints the
              property empty), C(ExecStart) (argv strings), C(Listen), C(found) (false when
              systemctl gave no answer for the unit), and C(journal) (last lines, oldest first,
              for failed, inactive or restarting units and for the unit that should serve a
              requested port nobody listens on; null otherwise).
          type: dict
          returned: when units are gathered
          sample:
            app.service:
              LoadState: loaded
              ActiveState: failed
              SubState: failed
              Result: exit-code
              ExecMainStatus: 1
              NRestarts: 0
              UnitFileState: enabled
              journal: ["2024-05-01T10:00:00+0000 web1 app[321]: OSError: [Errno 98] Address already in use"]
        socket_units:
          description: Loaded socket units with TCP C(ListenStream) addresses, by unit name.
          type: list
          elements: dict
          returned: when units are gathered
          sample:
            - {unit: app.socket, listen: ["0.0.0.0:8080"], ActiveState: active, SubState: listening,
               LoadState: loaded, UnitFileState: enabled, service: app.service, triggers: [app.service]}
        port_owners:
          description:
            - Per requested port (string key), the unit that should serve it and why
              (C(source) is C(user), C(socket_unit), C(unit_file) or C(last_healthy), in that
              order of trust), every C(candidates) entry found, and C(listening_units) (units
              listening on the port now).
          type: dict
          returned: when units are gathered
          sample:
            "8080": {unit: app.service, source: user, candidates: [{unit: app.service, source: user}],
                     listening_units: []}
        known_units:
          description: Names of the loaded units C(systemctl show) listed (the units asked about,
            every socket unit, and every service when a port had to be matched to a unit file).
          type: list
          elements: str
          returned: when units are gathered
          sample: [app.service, app.socket, dbus.socket, ssh.service]
        last_healthy:
          description: The port to unit mapping read from O(state_file) (empty when absent).
          type: dict
          returned: when units are gathered
          sample: {"8080": app.service}
        containers:
          description: Running docker and podman containers with their published ports.
          type: list
          elements: dict
          returned: when containers are gathered
          sample:
            - {runtime: docker, id: 4f1c0e..., name: web, image: "nginx:1.25", state: running,
               status: Up 2 hours, ports: [{host_address: 0.0.0.0, host_port: 8080,
               container_port: 80, protocol: tcp}]}
        firewall:
          description: Rulesets the kernel runs (C(iptables), C(ip6tables), C(nftables), C(ipsets),
            C(warnings)); the shape is in docs/netfilter.md.
          type: dict
          returned: when firewall is gathered
          sample: {iptables: {active: nft}, ip6tables: {active: none}, nftables: {}, ipsets: {}, warnings: []}
        mac:
          description: SELinux and AppArmor state for the listeners of the requested ports
            (C(selinux), C(apparmor)); the shape is in docs/mac.md.
          type: dict
          returned: when mac is gathered
          sample: {selinux: {present: false, mode: disabled}, apparmor: {enabled: false}}
        unavailable:
          description: What could not be read, each C(what), C(reason), C(source).
          type: list
          elements: dict
          returned: always
          sample:
            - {what: units, reason: "exit 1: System has not been booted with systemd as init system (PID 1). Can't operate.",
               source: systemctl show ...}
recorded:
  description: The mapping written (or that would be written in check mode) by O(record_healthy).
  returned: when O(record_healthy=true)
  type: dict
  sample: {"8080": {unit: app.service, process: python3, address: 0.0.0.0}}
backup_file:
  description: Backup of the previous state file made by O(record_healthy).
  returned: when a backup was made
  type: str
  sample: /var/lib/lbdoctor/last_healthy.json.1234.2024-05-01@10:00:00~
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_collect import (
    ENV,
    SUBSET_NAMES,
    collect,
    healthy_mapping,
    read_state_file,
    resolve_subsets,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_systemd import (
    UnitNameError,
    validate_unit_name,
)


def _validate(module):
    params = module.params
    try:
        resolve_subsets(params["gather_subset"])
    except ValueError as exc:
        module.fail_json(msg=to_native(exc), choices=["all"] + list(SUBSET_NAMES))
    for port in params["ports"]:
        if not 1 <= port <= 65535:
            module.fail_json(msg="ports: %d is not a TCP port (1-65535)" % port)
    if params["journal_lines"] < 0:
        module.fail_json(msg="journal_lines must be 0 or more")
    units = []
    unit_map = {}
    try:
        for name in params["units"]:
            units.append(validate_unit_name(name))
        for port, name in params["unit_map"].items():
            try:
                number = int(str(port))
            except ValueError:
                module.fail_json(msg="unit_map: key %r is not a port number" % (port,))
            if not 1 <= number <= 65535:
                module.fail_json(msg="unit_map: %d is not a TCP port (1-65535)" % number)
            if not isinstance(name, str):
                module.fail_json(msg="unit_map: the unit for port %d must be a string" % number)
            unit_map[number] = validate_unit_name(name)
    except UnitNameError as exc:
        module.fail_json(msg=to_native(exc))
    return units, unit_map


def _runner(module):
    """run(argv) -> (rc, out, err) with LC_ALL=C; a missing tool is rc 127, never a failure."""

    def run(argv):
        path = module.get_bin_path(argv[0])
        if path is None:
            return 127, "", "%s: command not found" % argv[0]
        try:
            return module.run_command([path] + list(argv[1:]), environ_update=ENV, check_rc=False,
                                      handle_exceptions=False)
        except (IOError, OSError) as exc:
            return 127, "", "%s: %s" % (argv[0], to_native(exc))

    return run


def _read_file(path):
    with open(path) as handle:
        return handle.read()


def _record(module, facts, ports, result):
    path = module.params["state_file"]
    recorded = healthy_mapping(facts.get("listeners") or [], ports)
    result["recorded"] = recorded
    current, error = read_state_file(_read_file, path)
    # Ports that are not healthy now keep their last healthy unit: that memory is the point.
    merged = dict((str(port), {"unit": unit}) for port, unit in (current if error is None else {}).items())
    merged.update(recorded)
    if error is None and current == dict((int(k), v["unit"]) for k, v in merged.items()) \
            and os.path.exists(path):
        return
    result["changed"] = True
    if module.check_mode:
        return
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    if os.path.exists(path):
        result["backup_file"] = module.backup_local(path)
    handle, tmp = tempfile.mkstemp(prefix=".last_healthy.", dir=directory)
    with os.fdopen(handle, "w") as stream:
        json.dump({"version": 1, "ports": merged}, stream, indent=2, sort_keys=True)
        stream.write("\n")
    module.atomic_move(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather_subset=dict(type="list", elements="str", default=["all"]),
            ports=dict(type="list", elements="int", default=[]),
            units=dict(type="list", elements="str", default=[]),
            unit_map=dict(type="dict", default={}),
            journal_lines=dict(type="int", default=10),
            state_file=dict(type="path", default="/var/lib/lbdoctor/last_healthy.json"),
            record_healthy=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    units, unit_map = _validate(module)
    options = dict(module.params)
    options["units"] = units
    options["unit_map"] = unit_map
    facts = collect(_runner(module), options=options)
    result = {"changed": False, "ansible_facts": {"lbdoctor_backend": facts}}
    if module.params["record_healthy"]:
        try:
            _record(module, facts, sorted(set(module.params["ports"]) | set(unit_map)), result)
        except (IOError, OSError) as exc:
            module.fail_json(msg="record_healthy: cannot write %s: %s"
                             % (module.params["state_file"], to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
