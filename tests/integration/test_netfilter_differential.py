"""The netfilter differential test (issues 5 and 13): rulesets loaded into a real lab host, real
SYNs sent to it from the load balancer, and lbdoctor.haproxy.firewall_eval run on the saved text
of each loaded ruleset. The kernel and the evaluator must agree on every packet: what connect()
saw (open / refused / unreachable / timeout) and the errno.

Lab: lab/scenarios/netfilter-diff.yml (prefix lbn, 198.18.4.0/24): lb and web1; web1 listens on
8001 and 8005 (0.0.0.0), 8002 (127.0.0.1), 8003 (`::`, dual-stack), 8004 (`::`, v6only), 22
(sshd, both families), nothing on 8006, 8007, 80, 443, 9001, 9002. The test adds IPv6
(fd00:18:4::2 on lb, fd00:18:4::3 on web1, static neighbour entries so that a drop policy does not
starve neighbour discovery) and sets the ICMP rate limits of web1's namespace to 0 (a burst of
rejected SYNs must each get its ICMP error, as HAProxy's one-per-second checks do).

Cases:
* random rulesets (seeded: LBDOCTOR_NFDIFF_SEED, default 1 so that CI
  is reproducible; set another seed to explore; LBDOCTOR_NFDIFF_CASES,
  default 30), each loaded with iptables-nft, iptables-legacy, nft, or iptables plus a native nft
  table at once; the seed and the ruleset text are in every failure message;
* the real rulesets of ../shared/corpus that load into a kernel (adaptations named in CORPUS).

Per case: one `lab.py exec web1` resets netfilter, loads the ruleset and saves it back
(iptables-nft-save, iptables-legacy-save, ip6tables-*, nft -j list ruleset, nft -a list ruleset);
one `lab.py exec lb` sends every probe at once (non-blocking connect(), PROBE_TIMEOUT). After all
cases one ansible-playbook run reads web1's listeners and addresses with backend_facts and runs
firewall_eval on localhost over every case.
"""

import itertools
import json
import os
import random
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_PY = os.path.join(REPO, "lab", "lab.py")
SCENARIO = os.path.join(REPO, "lab", "scenarios", "netfilter-diff.yml")
STATE = os.path.join(REPO, ".lab-integration-lbn")
CORPUS = os.path.join(os.path.dirname(REPO), "shared", "corpus")

LB4, WEB4 = "198.18.4.2", "198.18.4.3"
LB6, WEB6 = "fd00:18:4::2", "fd00:18:4::3"
PORTS4 = [22, 80, 443, 8001, 8002, 8003, 8004, 8005, 8006, 8007, 9001, 9002]
PORTS6 = [22, 8001, 8003, 8004, 8006, 9001, 9002]
# Every probe has its own source port, below the ephemeral range (HAProxy's checks use that), never
# reused in a lab's life: a SYN whose 4-tuple matches a conntrack entry left by an earlier case (a
# connection whose FIN a later ruleset dropped) is ESTABLISHED to the kernel, not NEW.
SOURCE_PORTS = itertools.count(20000)
PROBE_TIMEOUT = 2.5  # SYN retransmits at 1 s and 3 s: an ICMP error or RST arrives within ms

os.environ.setdefault("ANSIBLE_CONFIG", os.path.join(REPO, "ansible.cfg"))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".build", "collections"))


def lab(*args, **kwargs):
    return subprocess.run([sys.executable, LAB_PY, "--state", STATE] + list(args), check=True,
                          stdout=subprocess.PIPE, universal_newlines=True, **kwargs).stdout


def in_host(host, argv, stdin=None, timeout=60):
    return subprocess.run([sys.executable, LAB_PY, "--state", STATE, "exec", host, "--"] + argv,
                          input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout, check=False)


# ---------------------------------------------------------------------------------------------
# Inside the hosts

LOADER = r"""
import json, subprocess, sys
ENV = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
BUILTIN = {"filter": ["INPUT", "FORWARD", "OUTPUT"], "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
           "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"], "raw": ["PREROUTING", "OUTPUT"],
           "security": ["INPUT", "FORWARD", "OUTPUT"]}
def run(argv, stdin=None):
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr
case = json.load(sys.stdin)
problems = []
rc, out, err = run(["nft", "flush", "ruleset"])
if rc:
    problems.append(["nft flush ruleset", err])
for tool in ("iptables-legacy", "ip6tables-legacy"):
    rc, out, err = run([tool + "-save"])
    tables = [line[1:].strip() for line in out.splitlines() if line.startswith("*")]
    if tables:
        text = "".join("*%s\n%sCOMMIT\n" % (t, "".join(":%s ACCEPT [0:0]\n" % c for c in BUILTIN[t])) for t in tables)
        rc, out, err = run([tool + "-restore"], text)
        if rc:
            problems.append([tool + " reset", err])
loaded = []
for step in case["load"]:
    rc, out, err = run(step["argv"], step.get("stdin"))
    loaded.append({"argv": step["argv"], "rc": rc, "stderr": err})
saved = {}
for key, argv in (("iptables_nft", ["iptables-nft-save"]), ("iptables_legacy", ["iptables-legacy-save"]),
                  ("ip6tables_nft", ["ip6tables-nft-save"]), ("ip6tables_legacy", ["ip6tables-legacy-save"]),
                  ("nft_json", ["nft", "-j", "list", "ruleset"]), ("nft_text", ["nft", "-a", "list", "ruleset"])):
    rc, out, err = run(argv)
    saved[key] = out if rc == 0 else None
    if rc:
        problems.append([" ".join(argv), err])
print(json.dumps({"problems": problems, "loaded": loaded, "saved": saved}))
"""

PROBER = r"""
import errno, json, select, socket, sys, time
targets = json.loads(sys.argv[1])
timeout = float(sys.argv[2])
results = [None] * len(targets)
poller = select.poll()
pending = {}
def name(code):
    return errno.errorcode.get(code, str(code))
for i, (family, dst, port, sport) in enumerate(targets):
    s = socket.socket(socket.AF_INET6 if family == "ipv6" else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if family == "ipv6" else "0.0.0.0", sport))
    s.setblocking(False)
    rc = s.connect_ex((dst, port))
    if rc == 0:
        results[i] = [0, None]
        s.close()
    elif rc != errno.EINPROGRESS:
        results[i] = [rc, name(rc)]
        s.close()
    else:
        pending[s.fileno()] = (i, s)
        poller.register(s.fileno(), select.POLLOUT | select.POLLERR | select.POLLHUP)
deadline = time.monotonic() + timeout
while pending:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    for fd, _ev in poller.poll(left * 1000):
        i, s = pending.pop(fd)
        poller.unregister(fd)
        try:
            s.getpeername()  # the handshake completed: open, whatever came after it
            rc = 0
        except OSError:
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        results[i] = [rc, name(rc) if rc else None]
        s.close()
for i, s in pending.values():
    results[i] = [-1, "timeout"]
    s.close()
print(json.dumps(results))
"""

# A ruleset may accept the SYN and reject what follows (the ACK is ESTABLISHED): the ICMP error for
# the ACK then lands on a connected socket as a soft error, which SO_ERROR returns, or a TCP reset
# aborts it (ECONNRESET; a reset in SYN_SENT is ECONNREFUSED). connect() had succeeded either way:
# the prober asks getpeername() first, and ECONNRESET counts as open (the SYN was accepted).
UNREACHABLE = {"EHOSTUNREACH", "ENETUNREACH", "EACCES", "ENOPROTOOPT"}


def classify(code, name):
    """What the kernel told connect(): (observed_as, errno) in firewall_eval's vocabulary."""
    if code == 0 or name == "ECONNRESET":
        return "open", None
    if name == "timeout":
        return "timeout", None
    if name == "ECONNREFUSED":
        return "refused", name
    if name in UNREACHABLE:
        return "unreachable", name
    return "error", name


def packets():
    out = [{"family": "ipv4", "src": LB4, "dst": WEB4, "dport": p, "iif": "eth0"} for p in PORTS4]
    out += [{"family": "ipv6", "src": LB6, "dst": WEB6, "dport": p, "iif": "eth0"} for p in PORTS6]
    return out


# ---------------------------------------------------------------------------------------------
# Random rulesets within the supported subset

REJECT4 = ["icmp-port-unreachable", "icmp-host-prohibited", "icmp-admin-prohibited", "icmp-net-unreachable",
           "icmp-host-unreachable", "icmp-net-prohibited", "icmp-proto-unreachable", "tcp-reset"]
REJECT6 = ["icmp6-port-unreachable", "icmp6-adm-prohibited", "icmp6-no-route", "icmp6-addr-unreachable",
           "tcp-reset", "adm-prohibited", "no-route"]
SRC4 = ["198.18.4.2/32", "198.18.4.0/24", "198.18.4.0/30", "198.18.4.128/25", "10.0.0.0/8", "198.18.4.2/31",
        "198.18.0.0/16", "0.0.0.0/0"]
DST4 = ["198.18.4.3/32", "198.18.4.0/24", "10.1.2.3/32", "127.0.0.1/32", "198.18.4.0/30"]
SRC6 = ["fd00:18:4::2/128", "fd00:18:4::/64", "fd00:18:4::/126", "fd00:99::/32", "fe80::/10", "::/0"]
DST6 = ["fd00:18:4::3/128", "fd00:18:4::/64", "fd00:99::1/128", "::1/128"]
RANGE4 = ["198.18.4.1-198.18.4.5", "198.18.4.3-198.18.4.9", "10.0.0.1-10.0.0.9", "198.18.4.2-198.18.4.2"]
RANGE6 = ["fd00:18:4::1-fd00:18:4::5", "fd00:18:4::3-fd00:18:4::9", "fd00:99::1-fd00:99::9"]
IFACES = ["eth0", "eth+", "et+", "lo", "eth1", "wlan+"]
PORTS_ANY = PORTS4 + [8000, 8008]
NAT_TARGETS = [8001, 8002, 8003, 8004, 8005, 8006, 22]


def negated(rng, value, chance):
    """`! ` or nothing (iptables refuses to negate a /0)."""
    return "! " if rng.random() < chance and not value.endswith("/0") else ""


def port_spec(rng, sep=":"):
    low = rng.choice(PORTS_ANY)
    if rng.random() < 0.3 and low != 8004:
        return "%d%s%d" % (min(low, 8004), sep, max(low, 8004))
    return str(low)


class IptGen(object):
    """An iptables-restore text for one family: filter (policy, INPUT, user chains jumping only
    forward, so no loops), sometimes nat PREROUTING (REDIRECT/DNAT) and raw PREROUTING."""

    def __init__(self, rng, family):
        self.rng = rng
        self.family = family
        self.v6 = family == "ipv6"

    def match(self, need_tcp):
        rng = self.rng
        parts = []
        tcp = need_tcp or rng.random() < 0.75
        if tcp:
            parts.append("-p tcp")
        elif rng.random() < 0.15:
            parts.append("-p udp")
        if rng.random() < 0.35:
            cidr = rng.choice(SRC6 if self.v6 else SRC4)
            parts.append("%s-s %s" % (negated(rng, cidr, 0.3), cidr))
        if rng.random() < 0.15:
            cidr = rng.choice(DST6 if self.v6 else DST4)
            parts.append("%s-d %s" % (negated(rng, cidr, 0.3), cidr))
        if rng.random() < 0.2:
            parts.append("%s-i %s" % ("! " if rng.random() < 0.3 else "", rng.choice(IFACES)))
        if tcp:
            roll = rng.random()
            if roll < 0.45:
                parts.append("%s--dport %s" % ("! " if rng.random() < 0.1 else "", port_spec(rng)))
            elif roll < 0.65:
                ports = sorted(set(port_spec(rng) for _i in range(rng.randint(2, 4))))
                parts.append("-m multiport --dports %s" % ",".join(ports))
        if rng.random() < 0.12:
            ranges = RANGE6 if self.v6 else RANGE4
            negate = "! " if rng.random() < 0.2 else ""
            parts.append("-m iprange %s--%s-range %s" % (negate, rng.choice(["src", "dst"]), rng.choice(ranges)))
        if rng.random() < 0.2:
            state = rng.choice(["NEW", "ESTABLISHED,RELATED", "INVALID", "NEW,ESTABLISHED", "RELATED"])
            parts.append(rng.choice(["-m conntrack --ctstate %s", "-m state --state %s"]) % state)
        return parts

    def target(self, chain_index, nchains):
        rng = self.rng
        roll = rng.random()
        later = list(range(chain_index + 1, nchains))
        if later and roll < 0.25:
            return "%s C%d" % (rng.choice(["-j", "-j", "-g"]), rng.choice(later)), False
        if chain_index >= 0 and roll < 0.35:
            return "-j RETURN", False
        if roll < 0.6:
            return "-j ACCEPT", False
        if roll < 0.78:
            return "-j DROP", False
        reject = rng.choice(REJECT6 if self.v6 else REJECT4)
        if rng.random() < 0.15:
            return "-j REJECT", False
        return "-j REJECT --reject-with %s" % reject, reject == "tcp-reset"

    def rule(self, chain, chain_index, nchains):
        target, need_tcp = self.target(chain_index, nchains)
        if self.rng.random() < 0.05:
            return "-A %s -m comment --comment \"lbn %s\" -j LOG --log-prefix \"lbn \"" % (chain, chain)
        return " ".join(["-A", chain] + self.match(need_tcp) + [target])

    def nat(self):
        rng = self.rng
        lines = []
        for _i in range(rng.randint(1, 3)):
            sport = rng.choice([9001, 9002, 9001, 8006, 8007, 80])
            pre = ["-A PREROUTING -p tcp -m tcp --dport %d" % sport]
            if rng.random() < 0.25:
                cidr = rng.choice(SRC6 if self.v6 else SRC4)
                pre.append("%s-s %s" % (negated(rng, cidr, 0.5), cidr))
            to = rng.choice(NAT_TARGETS)
            if rng.random() < 0.1:
                pre.append("-j RETURN")
            elif rng.random() < 0.5:
                pre.append("-j REDIRECT --to-ports %d" % to)
            else:
                pre.append("-j DNAT --to-destination %s" % ("[%s]:%d" % (WEB6, to) if self.v6 else "%s:%d" % (WEB4, to)))
            lines.append(" ".join(pre))
        return lines

    def text(self):
        rng = self.rng
        out = []
        if rng.random() < 0.12:
            out += ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                    "-A PREROUTING -p tcp -m tcp --dport %d -j %s" % (rng.choice(PORTS_ANY), rng.choice(["DROP", "ACCEPT"])),
                    "COMMIT"]
        if rng.random() < 0.4:
            out += ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                    ":POSTROUTING ACCEPT [0:0]"] + self.nat() + ["COMMIT"]
        nchains = rng.randint(0, 3)
        policy = "DROP" if rng.random() < 0.35 else "ACCEPT"
        out += ["*filter", ":INPUT %s [0:0]" % policy, ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        out += [":C%d - [0:0]" % i for i in range(nchains)]
        out += [self.rule("INPUT", -1, nchains) for _i in range(rng.randint(1, 7))]
        for i in range(nchains):
            out += [self.rule("C%d" % i, i, nchains) for _j in range(rng.randint(1, 4))]
        out.append("COMMIT")
        return "\n".join(out) + "\n"


NFT_REJECTS = {
    "any": ["reject", "reject with tcp reset"],
    "inet": ["reject with icmpx type admin-prohibited", "reject with icmpx type port-unreachable",
             "reject with icmpx type host-unreachable", "reject with icmpx type no-route"],
    "ip": ["reject with icmp type host-prohibited", "reject with icmp type net-unreachable",
           "reject with icmp type admin-prohibited", "reject with icmp type port-unreachable",
           "reject with icmp type prot-unreachable", "reject with icmp type net-prohibited"],
    "ip6": ["reject with icmpv6 type admin-prohibited", "reject with icmpv6 type no-route",
            "reject with icmpv6 type addr-unreachable", "reject with icmpv6 type port-unreachable"],
}


class NftGen(object):
    """One nft table (ip, ip6 or inet): a filter base chain at a random priority (-300 sees ct
    state invalid), named sets and a verdict map, regular chains jumping forward, sometimes a nat
    prerouting chain with redirect/dnat."""

    def __init__(self, rng, family, name, taken):
        self.taken = taken
        self.rng = rng
        self.family = family
        self.name = name
        self.fams = {"ip": ["ip"], "ip6": ["ip6"], "inet": ["ip", "ip6"]}[family]
        self.rule_fam = None

    def addr(self, fam):
        rng = self.rng
        key = rng.choice(["saddr", "saddr", "daddr"])
        if fam == "ip":
            pool = SRC4 if key == "saddr" else DST4
            choices = [rng.choice(pool), "@s4" if key == "saddr" else rng.choice(pool),
                       "{ %s, %s }" % (rng.choice(pool), rng.choice(pool)), rng.choice(RANGE4)]
        else:
            pool = SRC6 if key == "saddr" else DST6
            choices = [rng.choice(pool), "@s6" if key == "saddr" else rng.choice(pool),
                       "{ %s, %s }" % (rng.choice(pool), rng.choice(pool)), rng.choice(RANGE6)]
        value = rng.choice(choices)
        neg = "!= " if rng.random() < 0.25 and not value.startswith("{") and not value.startswith("@") else ""
        if value.endswith("/0"):
            value = "0.0.0.0/0" if fam == "ip" else "::/0"
        return "%s %s %s%s" % (fam, key, neg, value)

    def match(self):
        rng = self.rng
        parts = []
        self.rule_fam = None
        if rng.random() < 0.35:
            self.rule_fam = rng.choice(self.fams)
            parts.append(self.addr(self.rule_fam))
        if rng.random() < 0.15:
            parts.append(rng.choice(['iifname "eth0"', 'iifname "eth*"', 'iifname != "lo"', 'iifname "lo"',
                                     'iifname "wlan*"']))
        roll = rng.random()
        if roll < 0.35:
            parts.append("tcp dport %s%s" % ("!= " if rng.random() < 0.1 else "", port_spec(rng, "-")))
        elif roll < 0.5:
            ports = sorted(set(port_spec(rng, "-") for _i in range(rng.randint(2, 4))))
            parts.append("tcp dport { %s }" % ", ".join(ports))
        elif roll < 0.58:
            parts.append("tcp dport @ports")
        elif roll < 0.63:
            parts.append("meta l4proto udp")
        elif roll < 0.7:
            parts.append("meta l4proto tcp")
        if rng.random() < 0.2:
            parts.append("ct state %s" % rng.choice(["new", "established,related", "invalid", "new,established",
                                                     "{ established, related }"]))
        if self.family == "inet" and rng.random() < 0.1:
            nfproto = rng.choice(["ipv4", "ipv6"]) if self.rule_fam is None else {"ip": "ipv4", "ip6": "ipv6"}[self.rule_fam]
            self.rule_fam = {"ipv4": "ip", "ipv6": "ip6"}[nfproto]
            parts.append("meta nfproto %s" % nfproto)
        return parts

    def verdict(self, chain_index, nchains, base):
        rng = self.rng
        roll = rng.random()
        later = ["c%d" % i for i in range(chain_index + 1, nchains)]
        if later and roll < 0.22:
            return "%s %s" % (rng.choice(["jump", "jump", "goto"]), rng.choice(later))
        if not base and roll < 0.32:
            return "return"
        if roll < 0.55:
            return rng.choice(["accept", "counter accept"])
        if roll < 0.72:
            return "drop"
        pool = list(NFT_REJECTS["any"])
        if self.family == "inet":
            pool += NFT_REJECTS["inet"]
        for fam in self.fams:
            if self.rule_fam in (None, fam):  # `ip saddr ... reject with icmpv6` is refused
                pool += NFT_REJECTS[fam]
        return rng.choice(pool)

    def vmap(self, chain_index, nchains):
        rng = self.rng
        later = ["c%d" % i for i in range(chain_index + 1, nchains)]
        verdicts = ["accept", "drop"] + ["jump %s" % c for c in later]
        keys = rng.sample([22, 80, 8001, 8002, 8003, 8004, 8005, 8006, 9001], 3)
        return "tcp dport vmap { %s }" % ", ".join("%d : %s" % (k, rng.choice(verdicts)) for k in sorted(keys))

    def rule(self, chain_index, nchains, base):
        rng = self.rng
        if rng.random() < 0.08:
            return "tcp dport vmap @vm" if chain_index < 0 else self.vmap(chain_index, nchains)
        if rng.random() < 0.06:
            return self.vmap(chain_index, nchains)
        match = self.match()
        verdict = self.verdict(chain_index, nchains, base)
        if "meta l4proto udp" in match and verdict.startswith("reject"):
            verdict = "drop"  # nft refuses some reject types after a udp match; the rule never matches a SYN anyway
        return " ".join(match + [verdict])

    def text(self):
        rng = self.rng
        nchains = rng.randint(0, 3)
        lines = ["table %s %s {" % (self.family, self.name)]
        if "ip" in self.fams:
            lines.append("\tset s4 { type ipv4_addr; flags interval; auto-merge; elements = { %s } }"
                         % ", ".join(sorted(set(rng.sample(["198.18.4.0/28", "10.0.0.0/8", "198.18.4.2", "198.18.4.64/26"], 2)))))
        if "ip6" in self.fams:
            lines.append("\tset s6 { type ipv6_addr; flags interval; auto-merge; elements = { %s } }"
                         % ", ".join(sorted(set(rng.sample(["fd00:18:4::/124", "fd00:99::/32", "fd00:18:4::2"], 2)))))
        lines.append("\tset ports { type inet_service; flags interval; auto-merge; elements = { %s } }"
                     % ", ".join(sorted(set(rng.sample(["22", "8001-8003", "8005", "9001", "443", "8006-8007"], 3)))))
        vm = ["%d : %s" % (p, rng.choice(["accept", "drop"] + (["jump c0"] if nchains else [])))
              for p in sorted(rng.sample([22, 8001, 8003, 8004, 8005, 9001, 9002], 3))]
        lines.append("\tmap vm { type inet_service : verdict; elements = { %s } }" % ", ".join(vm))
        prio = rng.choice([p for p in (0, 0, -10, 10, -300, -150, 5) if p not in self.taken["filter"]])
        self.taken["filter"].add(prio)
        policy = "drop" if rng.random() < 0.3 else "accept"
        lines.append("\tchain input {")
        lines.append("\t\ttype filter hook input priority %d; policy %s;" % (prio, policy))
        lines += ["\t\t%s" % self.rule(-1, nchains, True) for _i in range(rng.randint(1, 6))]
        lines.append("\t}")
        if rng.random() < 0.4:
            lines.append("\tchain pre {")
            nat_prio = rng.choice([p for p in (-100, -50, -110) if p not in self.taken["nat"]])
            self.taken["nat"].add(nat_prio)
            lines.append("\t\ttype nat hook prerouting priority %s; policy accept;"
                         % ("dstnat" if nat_prio == -100 else nat_prio))
            for _i in range(rng.randint(1, 2)):
                sport = rng.choice([9001, 9002, 8006, 80])
                to = rng.choice(NAT_TARGETS)
                fam = rng.choice(self.fams)
                if rng.random() < 0.5:
                    lines.append("\t\ttcp dport %d redirect to :%d" % (sport, to))
                elif fam == "ip":
                    lines.append("\t\ttcp dport %d dnat %sto %s:%d" % (sport, "ip " if self.family == "inet" else "", WEB4, to))
                else:
                    lines.append("\t\ttcp dport %d dnat %sto [%s]:%d" % (sport, "ip6 " if self.family == "inet" else "", WEB6, to))
            lines.append("\t}")
        for i in range(nchains):
            lines.append("\tchain c%d {" % i)
            lines += ["\t\t%s" % self.rule(i, nchains, False) for _j in range(rng.randint(1, 4))]
            lines.append("\t}")
        lines.append("}")
        return "\n".join(lines) + "\n"


def random_case(rng, index):
    mode = rng.choice(["nft", "nft", "iptables-nft", "iptables-legacy", "iptables-nft+nft", "iptables-legacy+nft",
                       "nft-two-tables"])
    load = []
    texts = []
    variant = None
    # Base chains of one hook never share a priority: for equal priorities the kernel runs the chain
    # registered last first (nf_hook_entries_grow() inserts a new hook before its equals), an
    # order the saved rulesets do not show (see docs/netfilter.md).
    taken = {"filter": set(), "nat": set()}
    if mode.startswith("iptables"):
        taken = {"filter": {0}, "nat": {-100}}
        variant = "legacy" if "legacy" in mode else "nft"
        for family, tool in (("ipv4", "iptables"), ("ipv6", "ip6tables")):
            if family == "ipv6" and rng.random() < 0.4:
                continue
            text = IptGen(rng, family).text()
            load.append({"argv": ["%s-%s-restore" % (tool, variant)], "stdin": text})
            texts.append("# %s-%s-restore\n%s" % (tool, variant, text))
    if mode.startswith("nft") or mode.endswith("+nft"):
        for j in range(2 if mode == "nft-two-tables" else 1):
            text = NftGen(rng, rng.choice(["inet", "inet", "ip", "ip6"]), "t%d" % j, taken).text()
            load.append({"argv": ["nft", "-f", "-"], "stdin": text})
            texts.append("# nft -f -\n%s" % text)
    return {"name": "random-%02d-%s" % (index, mode), "variant": variant, "load": load, "text": "".join(texts)}


# ---------------------------------------------------------------------------------------------
# Real rulesets (../shared/corpus/SOURCES.md names their origin)

def _corpus(path):
    """A ruleset from the shared corpus, or from our own fixtures (`fixtures:` prefix: the rulesets
    written after a real layout that the corpus lacks, kube-proxy and istio-init; see their README)."""
    if path.startswith("fixtures:"):
        path = os.path.join(REPO, "tests", "unit", "fixtures", path[len("fixtures:"):])
    with open(os.path.join(CORPUS, path)) as handle:
        return handle.read()


def _replace(text, old, new):
    assert old in text, "corpus adaptation no longer applies: %r" % old
    return text.replace(old, new)


# (name, tool, variant, corpus file, adaptation, what was adapted and why)
CORPUS_CASES = [
    ("docker-bridge", "iptables", "nft", "iptables_save/diekmann-docker-bridge-iptables-save.txt", None, None),
    ("docker-bridge-legacy", "iptables", "legacy", "iptables_save/diekmann-docker-bridge-iptables-save.txt", None, None),
    ("medium-company", "iptables", "nft", "iptables_save/diekmann-medium-company-iptables-save.txt", None, None),
    ("ufw-server", "iptables", "nft", "iptables_save/diekmann-ufw-server-iptables-save.txt", None, None),
    ("ufw-server-legacy", "iptables", "legacy", "iptables_save/diekmann-ufw-server-iptables-save.txt", None, None),
    ("tum-large", "iptables", "nft", "iptables_save/diekmann-tum-large-iptables-save.txt",
     lambda t: _replace(t, "XX:XX:XX:XX:XX:XX", "02:00:00:00:00:01"),
     "MAC addresses are redacted as XX:XX:XX:XX:XX:XX in the corpus: replaced by 02:00:00:00:00:01"),
    ("ip6tables-nat", "ip6tables", "nft", "iptables_save/insights-ip6tables-save-nat.txt", None, None),
    ("kube-proxy", "iptables", "nft", "fixtures:netfilter/iptables/kube-proxy.rules", None, None),
    ("istio-init", "iptables", "nft", "fixtures:netfilter/iptables/istio-init-nat.rules", None, None),
    ("nft-sample", "nft", None, "nft/nftables-sample-ruleset.nft", None, None),
    ("nft-merge-reject", "nft", None, "nft/nftables-merge-reject.nft", None, None),
    ("nft-nat-addr-port", "nft", None, "nft/nftables-nat-addr-port.nft", None, None),
    ("moby-docker-nft", "nft", None, "nft/moby-docker-bridges-nat.nft",
     lambda t: _replace(t, "type nat hook output priority dstnat;", "type nat hook output priority -100;"),
     "nft 1.0.6 refuses the name `dstnat` on the output hook (newer nft accepts it): written as -100"),
    ("nft-merge-nat", "nft", None, "nft/nftables-merge-nat.nft",
     lambda t: _replace(t, "redirect to :tcp dport map", "meta l4proto tcp redirect to :tcp dport map"),
     "nft 1.0.6 wants a transport protocol match before `redirect to :tcp dport map`: `meta l4proto tcp` added"),
]


def corpus_case(name, tool, variant, path, adapt, _why):
    text = _corpus(path)
    if adapt:
        text = adapt(text)
    if tool == "nft":
        load = [{"argv": ["nft", "-f", "-"], "stdin": text}]
    else:
        load = [{"argv": ["%s-%s-restore" % (tool, variant)], "stdin": text}]
    return {"name": "corpus-" + name, "variant": variant, "load": load, "text": "# %s (%s)\n%s" % (path, tool, text)}


# ---------------------------------------------------------------------------------------------
# Running cases

def load_and_probe(case):
    proc = in_host("web1", ["python3", "-c", LOADER], stdin=json.dumps(case), timeout=60)
    assert proc.returncode == 0, "loader failed for %s: %s\n%s" % (case["name"], proc.stderr, case["text"])
    loaded = json.loads(proc.stdout)
    failed = [step for step in loaded["loaded"] if step["rc"] != 0]
    assert not failed and not loaded["problems"], "%s did not load: %s %s\n%s" % (
        case["name"], failed, loaded["problems"], case["text"])
    sports = [next(SOURCE_PORTS) for _p in packets()]
    targets = [[p["family"], p["dst"], p["dport"], sport] for p, sport in zip(packets(), sports)]
    probe = in_host("lb", ["python3", "-c", PROBER, json.dumps(targets), str(PROBE_TIMEOUT)], timeout=30)
    assert probe.returncode == 0, probe.stderr
    case["kernel"] = [classify(code, name) for code, name in json.loads(probe.stdout)]
    saved = loaded["saved"]
    variant = case["variant"] or "nft"
    case["eval_input"] = {
        "name": case["name"],
        "iptables_save": saved["iptables_%s" % variant] or "",
        "ip6tables_save": saved["ip6tables_%s" % variant] or "",
        "nft_json": saved["nft_json"] or "",
        "nft_text": saved["nft_text"] or "",
        "packets": [dict(p, sport=sport) for p, sport in zip(packets(), sports)],
    }


PLAYBOOK = """\
- name: Read web1's listeners and addresses as the diagnosis does
  hosts: web1
  gather_facts: false
  tasks:
    - name: Gather the listeners and addresses subsets
      lbdoctor.haproxy.backend_facts:
        gather_subset: [listeners, addresses]

- name: Evaluate every saved ruleset with firewall_eval on the controller
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    backend: "{{ hostvars['web1'].ansible_facts.lbdoctor_backend }}"
  tasks:
    - name: Evaluate the packets of each case
      lbdoctor.haproxy.firewall_eval:
        iptables_save: "{{ item.iptables_save or omit }}"
        ip6tables_save: "{{ item.ip6tables_save or omit }}"
        nft_json: "{{ item.nft_json or omit }}"
        nft_text: "{{ item.nft_text or omit }}"
        packets: "{{ item.packets }}"
        listeners: "{{ backend.listeners }}"
        addresses: "{{ backend.addresses }}"
      loop: "{{ nfdiff_cases }}"
      loop_control:
        label: "{{ item.name }}"
      register: nfdiff_eval
      ignore_errors: true

    - name: Save the results
      ansible.builtin.copy:
        content: "{{ {'listeners': backend.listeners, 'addresses': backend.addresses,
                      'results': nfdiff_eval.results} | to_json }}"
        dest: "{{ nfdiff_out }}"
        mode: "0600"
"""


def _unsafe_yaml(value):
    """JSON is YAML; every string is tagged !unsafe so that no ruleset text is templated."""
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (json.dumps(k), _unsafe_yaml(v)) for k, v in value.items())
    if isinstance(value, list):
        return "[%s]" % ", ".join(_unsafe_yaml(v) for v in value)
    if isinstance(value, str):
        return "!unsafe " + json.dumps(value)
    return json.dumps(value)


def evaluate_all(cases, workdir):
    playbook = os.path.join(str(workdir), "nfdiff.yml")
    varsfile = os.path.join(str(workdir), "nfdiff-vars.yml")
    out = os.path.join(str(workdir), "nfdiff-results.json")
    with open(playbook, "w") as handle:
        handle.write(PLAYBOOK)
    with open(varsfile, "w") as handle:
        handle.write("nfdiff_out: %s\nnfdiff_cases: %s\n" % (json.dumps(out), _unsafe_yaml([c["eval_input"] for c in cases])))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", os.path.join(STATE, "inventory.ini"),
            playbook, "-e", "@" + varsfile]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, cwd=REPO,
                          check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    with open(out) as handle:
        data = json.load(handle)
    for case, item in zip(cases, data["results"]):
        assert not item.get("failed"), "firewall_eval failed on %s: %s\n%s" % (case["name"], item.get("msg"), case["text"])
        case["eval"] = item["results"]
    return data


def compare(cases, header, allow_indeterminate=False, undecided=None):
    """Assert that the kernel and firewall_eval agree on every packet; return the count. With
    allow_indeterminate, an `indeterminate` result whose `possible` outcomes include the kernel's
    is collected into `undecided` instead (a match whose outcome depends on state the ruleset text
    does not show, such as `-m recent` lists)."""
    if undecided is None:
        undecided = []
    problems = []
    agreed = 0
    for case in cases:
        wrong = []
        for packet, kernel, result in zip(packets(), case["kernel"], case["eval"]):
            mine = (result.get("observed_as"), result.get("errno"))
            if tuple(kernel) == mine:
                agreed += 1
                continue
            possible = [(p.get("observed_as"), p.get("errno")) for p in result.get("possible") or []]
            if allow_indeterminate and mine[0] == "indeterminate" and tuple(kernel) in possible:
                undecided.append("%s %s [%s]:%d (%s)" % (case["name"], packet["family"], packet["dst"], packet["dport"],
                                                         (result.get("unsupported") or {}).get("match")))
                continue
            wrong.append("  %s [%s]:%d kernel %s/%s, firewall_eval %s/%s (verdict %s, rule %r, path %s%s)" % (
                packet["family"], packet["dst"], packet["dport"], kernel[0], kernel[1], mine[0], mine[1],
                result.get("verdict"), (result.get("rule") or {}).get("text"), result.get("path"),
                ", unsupported %s" % result["unsupported"] if result.get("unsupported") else ""))
        if wrong:
            text = case["text"] if len(case["text"]) < 4000 else case["text"][:300] + "\n[... %d characters]" % len(case["text"])
            problems.append("%s:\n%s\n%s" % (case["name"], "\n".join(wrong), text))
    assert not problems, "%s\n%d packets agree; %d cases disagree:\n\n%s" % (
        header, agreed, len(problems), "\n\n".join(problems[:8]))
    return agreed


def tally(cases):
    seen = {}
    for case in cases:
        for kernel in case["kernel"]:
            key = "%s/%s" % kernel if kernel[1] else kernel[0]
            seen[key] = seen.get(key, 0) + 1
    return seen


# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nfdiff_lab():
    if os.geteuid() != 0:
        pytest.fail("the integration tests need root: they build a lab of network namespaces and containers")
    try:
        lab("up", SCENARIO)
        scenario = json.loads(lab("scenario-json"))
        macs = {}
        for host, mine in (("lb", LB6), ("web1", WEB6)):
            assert in_host(host, ["ip", "-6", "addr", "add", mine + "/64", "dev", "eth0", "nodad"]).returncode == 0
            link = json.loads(in_host(host, ["ip", "-j", "link", "show", "eth0"]).stdout)
            macs[host] = link[0]["address"]
        for host, peer, peer6 in (("lb", "web1", WEB6), ("web1", "lb", LB6)):
            proc = in_host(host, ["ip", "-6", "neigh", "replace", peer6, "lladdr", macs[peer], "dev", "eth0",
                                  "nud", "permanent"])
            assert proc.returncode == 0, proc.stderr
        netns = [h["netns"] for h in scenario["hosts"] if h["name"] == "web1"][0]
        # sysctls are read-only inside the containers; web1's own namespace is set from outside.
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0",
                        "net.ipv6.icmp.ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000",
                        "net.ipv4.icmp_msgs_burst=100000"], check=True)
        yield scenario
    finally:
        lab("down")


def run_cases(cases, tmp_path, header, allow_indeterminate=False):
    started = time.monotonic()
    try:
        for case in cases:
            load_and_probe(case)
    finally:
        # Back to no rules: the playbook reaches web1 over ssh, which a loaded ruleset may block.
        in_host("web1", ["python3", "-c", LOADER], stdin=json.dumps({"load": []}), timeout=60)
    probed = time.monotonic()
    evaluate_all(cases, tmp_path)
    undecided = []
    agreed = compare(cases, header, allow_indeterminate, undecided)
    print("%s: %d cases, %d packets agree (%s); %d indeterminate with the kernel's outcome among the possible "
          "ones; load+probe %.1fs, firewall_eval %.1fs"
          % (header, len(cases), agreed, ", ".join("%s %d" % kv for kv in sorted(tally(cases).items())),
             len(undecided), probed - started, time.monotonic() - probed))
    for line in undecided:
        print("  indeterminate: " + line)
    return agreed, undecided


def test_random_rulesets_agree_with_the_kernel(nfdiff_lab, tmp_path):
    seed = int(os.environ.get("LBDOCTOR_NFDIFF_SEED") or 1)
    count = int(os.environ.get("LBDOCTOR_NFDIFF_CASES") or 30)
    rng = random.Random(seed)
    cases = [random_case(rng, i) for i in range(count)]
    header = "random rulesets, LBDOCTOR_NFDIFF_SEED=%d LBDOCTOR_NFDIFF_CASES=%d" % (seed, count)
    agreed, _undecided = run_cases(cases, tmp_path, header)
    assert agreed == count * len(packets())


def test_corpus_rulesets_agree_with_the_kernel(nfdiff_lab, tmp_path):
    cases = [corpus_case(*spec) for spec in CORPUS_CASES]
    agreed, undecided = run_cases(cases, tmp_path, "corpus rulesets", allow_indeterminate=True)
    assert agreed + len(undecided) == len(cases) * len(packets())
    # Only the TUM ruleset's `-m recent --update` (state of a recent list) may stay undecided.
    assert all(line.startswith("corpus-tum-large ") for line in undecided), undecided


def test_the_probe_tells_every_outcome_apart(nfdiff_lab, tmp_path):
    """The differential test is only as good as its probe: a fixed ruleset must give open, refused
    by RST, refused by ICMP, each unreachable errno and a timeout."""
    text = "\n".join([
        "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -p tcp -m tcp --dport 8005 -j REJECT --reject-with tcp-reset",
        "-A INPUT -p tcp -m tcp --dport 8007 -j REJECT --reject-with icmp-host-prohibited",
        "-A INPUT -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-net-unreachable",
        "-A INPUT -p tcp -m tcp --dport 443 -j REJECT --reject-with icmp-proto-unreachable",
        "-A INPUT -p tcp -m tcp --dport 9001 -j DROP",
        "COMMIT", ""])
    text6 = "\n".join([
        "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -p tcp -m tcp --dport 8006 -j REJECT --reject-with icmp6-adm-prohibited",
        "COMMIT", ""])
    case = {"name": "probe-check", "variant": "nft", "text": text + text6,
            "load": [{"argv": ["iptables-nft-restore"], "stdin": text}, {"argv": ["ip6tables-nft-restore"], "stdin": text6}]}
    load_and_probe(case)
    kernel = dict(("%s %d" % (p["family"], p["dport"]), k) for p, k in zip(packets(), case["kernel"]))
    assert kernel["ipv4 8001"] == ("open", None)
    assert kernel["ipv4 8002"] == ("refused", "ECONNREFUSED")  # 127.0.0.1 only
    assert kernel["ipv4 8003"] == ("open", None)  # dual-stack ::
    assert kernel["ipv4 8004"] == ("refused", "ECONNREFUSED")  # v6only ::
    assert kernel["ipv4 8005"] == ("refused", "ECONNREFUSED")
    assert kernel["ipv4 8007"] == ("unreachable", "EHOSTUNREACH")
    assert kernel["ipv4 80"] == ("unreachable", "ENETUNREACH")
    assert kernel["ipv4 443"] == ("unreachable", "ENOPROTOOPT")
    assert kernel["ipv4 9001"] == ("timeout", None)
    assert kernel["ipv6 8004"] == ("open", None)
    assert kernel["ipv6 8001"] == ("refused", "ECONNREFUSED")
    assert kernel["ipv6 8006"] == ("unreachable", "EACCES")
    evaluate_all([case], tmp_path)
    compare([case], "probe check")


def test_equal_priority_base_chains_run_the_newest_first(nfdiff_lab, tmp_path):
    """Two base chains of one hook with the same priority: the kernel runs the chain registered
    last first (nf_hook_entries_grow() inserts a new hook before the ones of equal priority). The
    saved iptables-save text is the same in both orders; the table handles in `nft -j list
    ruleset` say which table came last, and the evaluator orders ties by them (newest first)."""
    ipt = "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                     "-A INPUT -p tcp -m tcp --dport 8005 -j DROP", "COMMIT", ""])
    nft = "table ip t0 {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n" \
          "\t\ttcp dport 8005 reject with tcp reset\n\t}\n}\n"
    steps = {"ipt": {"argv": ["iptables-nft-restore"], "stdin": ipt}, "nft": {"argv": ["nft", "-f", "-"], "stdin": nft}}
    cases = []
    for order in (("ipt", "nft"), ("nft", "ipt")):
        case = {"name": "tie-%s-last" % order[1], "variant": "nft", "text": ipt + nft, "load": [steps[o] for o in order]}
        load_and_probe(case)
        cases.append(case)
    index = [i for i, p in enumerate(packets()) if p["family"] == "ipv4" and p["dport"] == 8005][0]
    assert cases[0]["kernel"][index] == ("refused", "ECONNREFUSED")  # nft's chain came last: it ran first
    assert cases[1]["kernel"][index] == ("timeout", None)  # iptables-nft's chain came last: it ran first
    evaluate_all(cases, tmp_path)
    for case in cases:
        assert (case["eval"][index]["observed_as"], case["eval"][index]["errno"]) == case["kernel"][index], case["name"]
