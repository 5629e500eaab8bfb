"""up / down / status / exec: the orchestration of the other modules."""

import concurrent.futures
import csv
import io
import os
import shlex
import shutil
import time

from . import cgroups, container, hostfiles, inventory, network, rootfs, scenario as scenariolib, state
from .errors import LabError
from .util import log, require_root, require_tools, run, write_file

UP_TOOLS = ["ip", "nsenter", "mount", "umount", "systemd-nspawn", "mmdebstrap", "ssh", "ssh-keygen"]
DOWN_TOOLS = ["ip", "umount"]


def _parallel(func, items):
    """Run func(item) for every item in threads; raise the first error after all finished."""
    if not items:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
        futures = [pool.submit(func, item) for item in items]
        results, errors = [], []
        for future in futures:
            try:
                results.append(future.result())
            except Exception as exc:  # noqa: BLE001 - collected and re-raised below
                errors.append(exc)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise LabError("; ".join(str(e) for e in errors))
    return results


def _fail_point(name):
    """Test hook: LBDOCTOR_LAB_FAIL_AT=<name> makes `up` fail there, to prove a failed up cleans up."""
    if os.environ.get("LBDOCTOR_LAB_FAIL_AT") == name:
        raise LabError("failing on purpose at %s (LBDOCTOR_LAB_FAIL_AT)" % name)


def paths(state_dir):
    return {
        "key": os.path.join(state_dir, "id_ed25519"),
        "inventory": os.path.join(state_dir, "inventory.ini"),
        "ssh_config": os.path.join(state_dir, "ssh_config"),
        "scenario": os.path.join(state_dir, "scenario.json"),
    }


# ---------------------------------------------------------------------------------------------- up

def up(scenario_path, state_dir, prefix=None, subnet=None, settle=True, settle_timeout=30.0):
    require_root()
    require_tools(UP_TOOLS)
    state_dir = os.path.abspath(state_dir)
    if any(c in state_dir for c in ",:\\ \n"):
        raise LabError("--state %r: overlayfs options cannot carry ',', ':', '\\' or spaces in paths" % state_dir, 2)
    sc = scenariolib.resolve(scenariolib.load(scenario_path), prefix, subnet, source=os.path.abspath(scenario_path))
    timings = {}
    started = time.monotonic()
    existing = state.load(state_dir) if state.is_state_dir(state_dir) else None
    if existing:
        log("a lab is already up in %s (prefix %s): tearing it down first" % (state_dir, existing.get("prefix")))
        down(state_dir, existing.get("prefix"))
    with state.Lock(sc["prefix"]):
        other = state.registered_state(sc["prefix"])
        if other and other != os.path.realpath(state_dir) and network.leftovers(sc["prefix"]):
            raise LabError("prefix %s is used by the lab in %s; run `lab.py --state %s down` or choose another --prefix"
                           % (sc["prefix"], other, other))
        network.check_free(sc)
        t0 = time.monotonic()
        base = rootfs.ensure_rootfs()
        timings["rootfs"] = round(time.monotonic() - t0, 2)
        state.prepare_dir(state_dir)
        files = paths(state_dir)
        st = {
            "status": "starting", "prefix": sc["prefix"], "state_dir": state_dir, "scenario": sc["source"],
            "rootfs": base, "controller_ifname": sc["controller"]["ifname"], "bridge_netns": sc["bridge"]["netns"],
            "hosts": {}, "warnings": [],
        }
        state.save(state_dir, st)
        state.register(sc["prefix"], state_dir)
        try:
            _up(sc, st, state_dir, base, files, timings, settle, settle_timeout)
        except BaseException as exc:
            log("up failed (%s); cleaning up" % (exc if str(exc) else type(exc).__name__))
            try:
                _teardown(state_dir, st, sc["prefix"])
            except LabError as cleanup_error:
                log("cleanup after the failed up left something: %s" % cleanup_error)
            raise
    timings["total"] = round(time.monotonic() - started, 2)
    st["timings"] = timings
    state.save(state_dir, st)
    _print_summary(sc, st, files)
    return st


def _up(sc, st, state_dir, base, files, timings, settle, settle_timeout):
    if os.path.exists(files["key"]):
        os.unlink(files["key"])
        os.unlink(files["key"] + ".pub")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lbdoctor-lab-%s" % sc["prefix"], "-f", files["key"]],
        what="ssh-keygen")
    with open(files["key"] + ".pub") as handle:
        pubkey = handle.read()
    write_file(files["ssh_config"], inventory.ssh_config(sc, files["key"]))

    t0 = time.monotonic()
    network.create(sc)
    timings["network"] = round(time.monotonic() - t0, 2)
    _fail_point("network")

    t0 = time.monotonic()
    for host in sc["hosts"]:
        dirs = container.host_dirs(state_dir, host)
        cg = cgroups.container_paths(sc["prefix"], host["name"])
        entry = {"machine": host["machine"], "netns": host["netns"], "root": dirs["root"], "log": dirs["log"],
                 "cgroups": cg, "nspawn_pid": None, "leader_pid": None, "address": host["address"]}
        st["hosts"][host["name"]] = entry
        state.save(state_dir, st)
        container.mount_overlay(base, dirs, host["machine"])
        container.apply_files(dirs["root"], hostfiles.render(sc, host, pubkey))
        entry["nspawn_pid"] = container.spawn(host, dirs["root"], dirs["log"], cg)
        state.save(state_dir, st)
    for host in sc["hosts"]:
        entry = st["hosts"][host["name"]]
        entry["leader_pid"] = container.find_leader(entry["nspawn_pid"])
        if not entry["leader_pid"]:
            raise LabError("host %s: systemd-nspawn did not start the container; see %s:\n%s"
                           % (host["name"], entry["log"], container.tail(entry["log"])))
    state.save(state_dir, st)

    def boot(host):
        entry = st["hosts"][host["name"]]
        entry["system_state"] = container.wait_running(entry["leader_pid"], host["name"], entry["nspawn_pid"], entry["log"])
        container.wait_port(host["address"], 22)

    _parallel(boot, sc["hosts"])
    timings["boot"] = round(time.monotonic() - t0, 2)
    state.save(state_dir, st)
    for name in sc["haproxy"]["hosts"]:
        leader = st["hosts"][name]["leader_pid"]
        word = container.exec_in(leader, ["systemctl", "is-active", "haproxy.service"])[1].strip()
        if word != "active":
            journal = container.exec_in(leader, ["journalctl", "-u", "haproxy.service", "-n", "15", "--no-pager"])[1]
            raise LabError("host %s: haproxy.service is %s, not active:\n%s" % (name, word or "?", journal.strip()))
    _fail_point("boot")

    t0 = time.monotonic()
    _parallel(lambda host: _after_boot(sc, st, host, files), [h for h in sc["hosts"] if h["services"] or h["containers"]])
    st["warnings"] += _check_services(sc, st)
    for host in sc["hosts"]:
        if host["sshd"] == "stopped":
            # Last, once every step that needs ssh is done: Ansible will find the host unreachable.
            container.exec_in(st["hosts"][host["name"]]["leader_pid"], ["systemctl", "stop", "ssh.socket", "ssh.service"],
                              check=True, what="host %s: stop sshd" % host["name"])
    timings["faults"] = round(time.monotonic() - t0, 2)

    write_file(files["inventory"], inventory.inventory_ini(sc, files["key"]))
    write_file(files["scenario"], inventory.scenario_json(sc, state_dir, files["key"], files["inventory"], files["ssh_config"]))

    if settle:
        t0 = time.monotonic()
        ok, table = settle_haproxy(sc, st, settle_timeout)
        st["haproxy_settled"] = ok
        if not ok:
            st["warnings"].append("haproxy did not reach the expected UP/DOWN picture within %ds: %s"
                                  % (settle_timeout, "; ".join("%s/%s is %s" % (r[0], r[1], r[2]) for r in table if not r[4])))
        timings["settle"] = round(time.monotonic() - t0, 2)
    st["status"] = "up"
    state.save(state_dir, st)


def _after_boot(sc, st, host, files):
    leader = st["hosts"][host["name"]]["leader_pid"]
    for service in host["services"]:
        for argv in service["after_boot"]:
            container.exec_in(leader, argv, check=True, what="host %s: %s" % (host["name"], " ".join(argv)))
        holder = service["conflict_with"]
        if holder and holder["kind"] == "process":
            # A stray process started by hand from a shell, then the unit restarted into "Address already in use".
            container.exec_in(leader, ["systemctl", "stop", service["unit"]], check=True)
            remote = shlex.join(["setsid", "-f"] + hostfiles.holder_argv(holder)) + " </dev/null >/dev/null 2>&1"
            run(["ssh", "-F", files["ssh_config"], host["name"], remote], what="host %s: start the stray process" % host["name"])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                out = container.exec_in(leader, ["ss", "-Hltn", "sport = :%d" % holder["listen_port"]])[1]
                if out.strip():
                    break
                time.sleep(0.1)
            container.exec_in(leader, ["systemctl", "start", service["unit"]], check=False)
    for ctr in host["containers"]:
        # The container fault: a local image built inside the host, then `podman run` typed by an
        # admin over ssh (podman and its conmon start from a login session inside the host's own
        # cgroups, never from the controller's, as they would through nsenter).
        for argv in ctr["after_boot"]:
            run(["ssh", "-F", files["ssh_config"], host["name"], shlex.join(argv)], timeout=180,
                what="host %s: %s" % (host["name"], " ".join(argv)))


EXPECTED_ACTIVE = {"running": "active", "stopped": "inactive", "failed": "failed", "socket_stopped": "inactive"}


def _check_services(sc, st):
    warnings = []
    for host in sc["hosts"]:
        leader = st["hosts"][host["name"]]["leader_pid"]
        for service in host["services"]:
            units = [service["unit"]] + ([service["socket_unit"]] if service["socket_unit"] else [])
            out = container.exec_in(leader, ["systemctl", "show", "-p", "ActiveState", "--value"] + units)[1]
            states = out.split()
            want = EXPECTED_ACTIVE[service["state"]]
            if not states or states[0] != want:
                warnings.append("host %s: %s is %s, expected %s" % (host["name"], service["unit"], states[:1], want))
            if service["socket_unit"] and states[1:2] != ["inactive"]:
                warnings.append("host %s: %s is %s, expected inactive" % (host["name"], service["socket_unit"], states[1:2]))
        for ctr in host["containers"]:
            out = container.exec_in(leader, [ctr["runtime"], "inspect", "--format", "{{.State.Status}}", ctr["name"]])[1]
            if out.strip() != "running":
                warnings.append("host %s: container %s is %s, expected running" % (host["name"], ctr["name"], out.strip() or "?"))
    for warning in warnings:
        log("warning: " + warning)
    return warnings


def show_stat(leader):
    """`show stat` through the admin socket inside an lb host: list of dicts keyed by header name."""
    rc, out, err = container.exec_in(leader, ["socat", "-t", "2", "stdio", "unix-connect:/run/haproxy/admin.sock"],
                                     input_text="show stat\n", timeout=10)
    if rc != 0 or not out.startswith("# "):
        raise LabError("show stat failed (rc=%d): %s" % (rc, (err or out).strip()[:200]))
    return list(csv.DictReader(io.StringIO(out[2:])))


SETTLE_STABLE_S = 2.5  # inter 1s + timeout check 2s: every server has been checked again since the faults


def settle_haproxy(sc, st, timeout):
    """Wait until every server HAProxy checks is UP when its expectation is healthy and DOWN otherwise."""
    deadline = time.monotonic() + timeout
    lb = sc["haproxy"]["hosts"][0]
    leader = st["hosts"][lb]["leader_pid"]
    table = []
    first_ok = None
    while True:
        try:
            rows = {(r["pxname"], r["svname"]): r for r in show_stat(leader)}
        except LabError:
            rows = {}
        table = []
        for server in sc["servers"]:
            row = rows.get((server["backend"], server["name"]), {})
            status = row.get("status", "?")
            want = "UP" if server["expect"] == "healthy" else "DOWN"
            ok = server["expect"] == "unknown" or status == want
            table.append((server["backend"], server["name"], status, row.get("check_status", ""), ok, server["expect"]))
        now = time.monotonic()
        if all(r[4] for r in table):
            # Hold the picture for a few check intervals: a server may still be DOWN from boot order
            # (its backend booted after HAProxy's first check) although its fault does not work.
            first_ok = first_ok or now
            if now - first_ok >= SETTLE_STABLE_S:
                return True, table
        else:
            first_ok = None
        if now > deadline:
            return False, table
        time.sleep(0.5)


def _print_summary(sc, st, files):
    print("lab %s is up (scenario %s, prefix %s, subnet %s)" % (st["state_dir"], sc["name"], sc["prefix"], sc["subnet"]))
    for host in sc["hosts"]:
        print("  %-10s %-15s %-8s %s" % (host["name"], host["address"], host["role"], st["hosts"][host["name"]].get("system_state", "")))
    print("  servers:")
    for server in sc["servers"]:
        print("    %-8s %-14s %-15s :%-5d expect %s"
              % (server["backend"], server["name"], server["address"], server["port"], server["expect"]))
    print("  inventory: %s" % files["inventory"])
    print("  timings: %s" % ", ".join("%s %.2fs" % kv for kv in st.get("timings", {}).items()))
    for warning in st.get("warnings", []):
        print("  WARNING: %s" % warning)


# -------------------------------------------------------------------------------------------- down

def down(state_dir, prefix=None):
    """Tear the lab down; idempotent. Uses the state file when there is one, names derived from the prefix otherwise."""
    require_root()
    require_tools(DOWN_TOOLS)
    state_dir = os.path.abspath(state_dir)
    st = None
    if state.is_state_dir(state_dir):
        try:
            st = state.load(state_dir)
        except LabError as exc:
            log("warning: %s" % exc)
    if st and st.get("prefix"):
        prefix = st["prefix"]
    elif prefix:
        # No state here: clean up by name, but never a lab that another state directory owns.
        owner = state.registered_state(prefix)
        if owner and owner != os.path.realpath(state_dir) and state.is_state_dir(owner):
            raise LabError("prefix %s belongs to the lab in %s; run `lab.py --state %s down`" % (prefix, owner, owner))
    else:
        prefixes = state.prefixes_of(state_dir)
        if not prefixes:
            log("down: no lab in %s, nothing to do" % state_dir)
            return 0.0
        prefix = prefixes[0]
    with state.Lock(prefix):
        t0 = time.monotonic()
        _teardown(state_dir, st, prefix)
    return time.monotonic() - t0


def _teardown(state_dir, st, prefix):
    """Remove everything of the lab; every step runs even when an earlier one failed."""
    hosts = dict((st or {}).get("hosts") or {})
    errors = []
    lab_cgroups = set()

    def step(what, func):
        try:
            errors.extend(func() or [])
        except Exception as exc:  # noqa: BLE001 - reported below, the next steps still run
            errors.append("%s: %s" % (what, exc))

    def stop_all():
        # ask every container to power off (nspawn turns SIGTERM into a clean halt), in parallel
        def stop(item):
            name, entry = item
            if entry.get("nspawn_pid") and not container.stop(entry["nspawn_pid"], entry["machine"]):
                log("host %s did not power off within 10s; killing it" % name)
        _parallel(stop, list(hosts.items()))

    def kill_rest():
        # whatever is left in the lab's cgroups, in every hierarchy
        lab_cgroups.update(cgroups.related_dirs(prefix))
        for entry in hosts.values():
            lab_cgroups.update(os.path.dirname(p) for p in entry.get("cgroups", []))
        left = cgroups.kill_all(sorted(lab_cgroups))
        pids = [e["nspawn_pid"] for e in hosts.values() if e.get("nspawn_pid")]
        for pid in pids:
            container.reap(pid)
        # After `up` exited, the nspawn processes belong to PID 1, which reaps them when it gets to it; wait
        # a little so that `ps` right after down shows no <defunct> systemd-nspawn (not an error if it does).
        container.wait_gone(pids, timeout=5.0)
        return ["processes survived SIGKILL: %s" % left] if left else []

    def unmount():
        points = set(e["root"] for e in hosts.values() if e.get("root"))
        points.update(container.mounts_under(os.path.join(state_dir, "hosts")))
        points.update(_overlays_named(prefix))
        return [err for err in (container.umount(p) for p in sorted(points, reverse=True)) if err]

    def remove_cgroups():
        found = []
        for path in sorted(lab_cgroups | set(cgroups.related_dirs(prefix)), reverse=True):
            found += cgroups.remove_tree(path)
        return found

    def remove_network():
        names = [e.get("netns") for e in hosts.values() if e.get("netns")]
        if st and st.get("bridge_netns"):
            names.append(st["bridge_netns"])
        return network.destroy(prefix, names, (st or {}).get("controller_ifname"))

    def remove_runtime_dirs():
        machines = set(e["machine"] for e in hosts.values() if e.get("machine"))
        for base in container.PROPAGATE_DIRS:
            if os.path.isdir(base):
                machines.update(n for n in os.listdir(base) if n.startswith(prefix + "-"))
        for machine in machines:
            container.remove_runtime_dirs(machine)

    def remove_state_dir():
        # never while something is still mounted below it
        if not state.is_state_dir(state_dir):
            return []
        still = container.mounts_under(state_dir)
        if still:
            return ["not removing %s: still mounted below it: %s" % (state_dir, ", ".join(still))]
        shutil.rmtree(state_dir, ignore_errors=True)
        return ["could not remove %s" % state_dir] if os.path.exists(state_dir) else []

    step("stopping the hosts", stop_all)
    step("killing what is left", kill_rest)
    step("unmounting the overlays", unmount)
    step("removing the cgroups", remove_cgroups)
    step("removing the network", remove_network)
    step("removing nspawn's runtime directories", remove_runtime_dirs)
    step("removing the state directory", remove_state_dir)
    if state.registered_state(prefix) in (None, os.path.realpath(state_dir)) or not network.leftovers(prefix):
        state.unregister(prefix)
    errors += ["left behind: %s" % x for x in leftovers(prefix)]
    if errors:
        raise LabError("down: incomplete teardown:\n  " + "\n  ".join(errors))


def _overlays_named(prefix):
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            left, dummy, right = line.partition(" - ")
            rfields = right.split()
            if len(rfields) >= 2 and rfields[0] == "overlay" and rfields[1].startswith(prefix + "-"):
                found.append(left.split()[4])
    return found


def leftovers(prefix):
    """Everything of this prefix still on the machine (for down's final check and the tests)."""
    found = network.leftovers(prefix)
    found += ["mount %s" % m for m in _overlays_named(prefix)]
    found += ["cgroup %s" % p for p in cgroups.related_dirs(prefix)]
    for base in container.PROPAGATE_DIRS:
        if os.path.isdir(base):
            found += ["%s/%s" % (base, n) for n in os.listdir(base) if n.startswith(prefix + "-")]
    for pid in os.listdir("/proc"):
        if pid.isdigit() and container.is_nspawn_of_prefix(int(pid), prefix):
            found.append("process %s (systemd-nspawn)" % pid)
    return found


# ------------------------------------------------------------------------------------- status, exec

def require_up(state_dir):
    state_dir = os.path.abspath(state_dir)
    st = state.load(state_dir) if state.is_state_dir(state_dir) else None
    if not st:
        raise LabError("no lab in %s (run `lab.py --state %s up SCENARIO`)" % (state_dir, state_dir), 3)
    return st


def leader_of(st, host):
    entry = st["hosts"].get(host)
    if entry is None:
        raise LabError("no host %r in this lab (hosts: %s)" % (host, ", ".join(sorted(st["hosts"]))), 2)
    leader = entry.get("leader_pid")
    if not container.pid_alive(leader) or not container.pid_alive(entry.get("nspawn_pid")):
        raise LabError("host %s is not running (its container is gone); run down and up again" % host, 3)
    return leader


def status(state_dir):
    require_root()
    st = require_up(state_dir)
    rc = 0 if st.get("status") == "up" else 1
    print("lab %s: %s (prefix %s, scenario %s)" % (st["state_dir"], st.get("status"), st["prefix"], st.get("scenario")))
    lb_leader = None
    for name, entry in sorted(st["hosts"].items()):
        alive = container.pid_alive(entry.get("leader_pid")) and container.pid_alive(entry.get("nspawn_pid"))
        word = "gone"
        if alive:
            out = container.exec_in(entry["leader_pid"], ["systemctl", "is-system-running"], timeout=10)[1]
            word = out.strip() or "?"
        if word not in ("running", "degraded"):
            rc = 1
        print("  %-10s %-15s %s" % (name, entry.get("address", ""), word))
    try:
        with open(paths(st["state_dir"])["scenario"]) as handle:
            import json
            sc = json.load(handle)
        lb_leader = leader_of(st, sc["haproxy"]["hosts"][0])
        rows = {(r["pxname"], r["svname"]): r for r in show_stat(lb_leader)}
        print("  haproxy (show stat):")
        for server in sc["servers"]:
            row = rows.get((server["backend"], server["name"]), {})
            print("    %-8s %-14s %-6s %-8s %-22s expect %s"
                  % (server["backend"], server["name"], row.get("status", "?"), row.get("check_status", ""),
                     row.get("last_chk", ""), server["expect"]))
    except (OSError, LabError, KeyError, IndexError) as exc:
        print("  haproxy: unavailable (%s)" % exc)
        rc = 1
    return rc


def exec_cmd(state_dir, host, argv):
    require_root()
    st = require_up(state_dir)
    leader = leader_of(st, host)
    import subprocess

    from .util import base_env
    extra = {"TERM": os.environ["TERM"]} if os.environ.get("TERM") else None
    return subprocess.call(container.nsenter_argv(leader, argv), env=base_env(extra))
