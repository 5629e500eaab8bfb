# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collect the host's netfilter rulesets: the `firewall` subset of backend_facts.

collect_firewall(run, read=None) -> {
    "iptables":  {"active": "nft"|"legacy"|"both"|"none"|None,
                  "nft": DUMP|None, "legacy": DUMP|None, "default": DUMP|None},
    "ip6tables": {...same...},
    "nftables":  {"source", "json": <decoded nft -j output>, "text": <nft -a list ruleset>,
                  "tables": [summary], "managed": ["ip filter", ...]} | None,
    "ipsets":    {"source", "text", "sets": {name: {type, family, entries}}} | None,
    "warnings":  [...],
    "unavailable": [{"what", "reason", "source"}],
}
DUMP = {"source": "iptables-nft-save", "text": <verbatim output>, "header": "...", "rules": 12,
        "tables": {"filter": {"INPUT": {"policy": "DROP", "rules": 3}, ...}}, "warnings": [...]}

run(argv) -> (rc, stdout, stderr); commands run with LC_ALL=C by the caller's runner (the module
passes environ_update). A missing tool may show as rc 127 or as an OSError from run.
Standard library only (runs on managed hosts, Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import netfilter_iptables as ipt
from ansible_collections.lbdoctor.haproxy.plugins.module_utils import netfilter_ipset as ipsetmod
from ansible_collections.lbdoctor.haproxy.plugins.module_utils import netfilter_nft as nftmod

IPTABLES_COMMANDS = {
    "iptables": (("nft", ["iptables-nft-save"]), ("legacy", ["iptables-legacy-save"])),
    "ip6tables": (("nft", ["ip6tables-nft-save"]), ("legacy", ["ip6tables-legacy-save"])),
}
FALLBACK = {"iptables": ["iptables-save"], "ip6tables": ["ip6tables-save"]}
VERSION = {"iptables": ["iptables", "--version"], "ip6tables": ["ip6tables", "--version"]}
NFT_JSON = ["nft", "-j", "list", "ruleset"]
NFT_TEXT = ["nft", "-a", "list", "ruleset"]


def _run(run, argv):
    """(rc, out, err, missing)"""
    try:
        rc, out, err = run(argv)
    except OSError as exc:
        return None, "", str(exc), True
    out = out or ""
    err = err or ""
    missing = rc == 127 or ("No such file" in err and not out) or ("not found" in err and not out)
    return rc, out, err, missing


def _reason(rc, err, missing):
    if missing:
        return "command not found"
    text = (err or "").strip().splitlines()
    msg = text[-1] if text else "exit status %s" % rc
    if "Permission denied" in msg or "Operation not permitted" in msg:
        return "permission denied (needs root / CAP_NET_ADMIN): %s" % msg
    return msg


def _dump(source, out, err, family, variant, unavailable, what):
    try:
        parsed = ipt.parse_iptables_save(out, source=source, family=family, detail=False)
    except ipt.IptablesParseError as exc:
        unavailable.append({"what": what, "reason": "unreadable output: %s" % exc, "source": source})
        return {"source": source, "text": out, "header": None, "rules": None, "tables": None,
                "warnings": [], "variant": variant, "error": str(exc)}
    warnings = list(parsed["warnings"])
    for line in (err or "").splitlines():
        line = line.strip().lstrip("# ").strip()
        if line.lower().startswith("warning"):
            warnings.append(line)
    return {"source": source, "text": out, "header": parsed["header"], "rules": parsed["rule_count"],
            "tables": ipt.summarize(parsed), "warnings": warnings, "variant": variant or parsed.get("variant")}


def _holds_rules(dump):
    """A dump 'holds rules' when it has a rule or a non-ACCEPT policy."""
    if not dump or not dump.get("tables"):
        return False
    if dump.get("rules"):
        return True
    for chains in dump["tables"].values():
        for chain in chains.values():
            if chain.get("policy") not in (None, "ACCEPT"):
                return True
    return False


def collect_iptables(run, key, unavailable, warnings):
    family = "ipv4" if key == "iptables" else "ipv6"
    section = {"active": None, "nft": None, "legacy": None, "default": None}
    missing_all = True
    for variant, argv in IPTABLES_COMMANDS[key]:
        rc, out, err, missing = _run(run, argv)
        if missing:
            continue
        missing_all = False
        if rc != 0:
            unavailable.append({"what": "%s (%s)" % (key, variant), "reason": _reason(rc, err, missing),
                                "source": " ".join(argv)})
            continue
        section[variant] = _dump(" ".join(argv), out, err, family, variant, unavailable, "%s (%s)" % (key, variant))
    if missing_all:
        argv = FALLBACK[key]
        rc, out, err, missing = _run(run, argv)
        if missing or rc != 0:
            unavailable.append({"what": key, "reason": _reason(rc, err, missing), "source": " ".join(argv)})
            return section
        variant = None
        vrc, vout, _verr, vmissing = _run(run, VERSION[key])
        if not vmissing and vrc == 0:
            if "(nf_tables)" in vout:
                variant = "nft"
            elif "(legacy)" in vout:
                variant = "legacy"
        dump = _dump(" ".join(argv), out, err, family, variant, unavailable, key)
        if variant is None:
            variant = dump.get("variant")
        if variant in ("nft", "legacy"):
            section[variant] = dump
        else:
            section["default"] = dump
    holders = [v for v in ("nft", "legacy") if _holds_rules(section[v])]
    if section["default"] is not None:
        section["active"] = "default" if _holds_rules(section["default"]) else "none"
    elif len(holders) == 2:
        section["active"] = "both"
        warnings.append("both iptables-nft and iptables-legacy hold %s rules: the kernel runs both "
                        "(%s-nft-save and %s-legacy-save show each half)" % (family, key, key))
    elif holders:
        section["active"] = holders[0]
    elif section["nft"] is not None or section["legacy"] is not None:
        section["active"] = "none"
    for variant in ("nft", "legacy"):
        dump = section[variant]
        if dump and any("legacy tables present" in w for w in dump.get("warnings", [])) and section["active"] != "both":
            warnings.append("%s-nft-save reports iptables-legacy tables present" % key)
    return section


def collect_nft(run, unavailable, warnings):
    rc, out, err, missing = _run(run, NFT_JSON)
    if missing or rc != 0:
        unavailable.append({"what": "nftables", "reason": _reason(rc, err, missing), "source": " ".join(NFT_JSON)})
        return None
    try:
        decoded = json.loads(out)
        parsed = nftmod.parse_nft_json(decoded, source=" ".join(NFT_JSON))
    except ValueError as exc:
        unavailable.append({"what": "nftables", "reason": "unreadable output: %s" % exc, "source": " ".join(NFT_JSON)})
        return None
    for line in (err or "").splitlines():
        if "no json callback" in line and line not in warnings:
            warnings.append("nft -j: %s (anonymous chains are not in the JSON; rules using them are "
                            "reported as unsupported)" % line.strip())
    section = {"source": " ".join(NFT_JSON), "json": decoded, "text": None, "tables": None, "managed": []}
    trc, tout, terr, tmissing = _run(run, NFT_TEXT)
    if tmissing or trc != 0:
        unavailable.append({"what": "nftables rule texts", "reason": _reason(trc, terr, tmissing),
                            "source": " ".join(NFT_TEXT)})
    else:
        section["text"] = tout
        try:
            info = nftmod.parse_nft_text(tout + "\n" + (terr or ""), source=" ".join(NFT_TEXT))
            nftmod.merge_text(parsed, info)
            section["managed"] = info["managed"]
        except ValueError as exc:
            unavailable.append({"what": "nftables rule texts", "reason": "unreadable output: %s" % exc,
                                "source": " ".join(NFT_TEXT)})
    section["tables"] = nftmod.summarize(parsed)
    return section


def referenced_ipsets(texts):
    names = []
    for text in texts:
        if not text or "--match-set" not in text:
            continue
        for line in text.splitlines():
            if "--match-set" not in line:
                continue
            try:
                tokens, _q = ipt.tokenize(line)
            except ValueError:
                continue
            for i, tok in enumerate(tokens[:-1]):
                if tok == "--match-set" and tokens[i + 1] not in names:
                    names.append(tokens[i + 1])
    return names


def collect_ipsets(run, names, unavailable):
    if not names:
        return None
    texts = []
    for name in names:
        argv = ["ipset", "save", name]
        rc, out, err, missing = _run(run, argv)
        if missing:
            unavailable.append({"what": "ipsets", "reason": "command not found", "source": "ipset"})
            return None
        if rc != 0:
            argv = ["ipset", "list", "-o", "save", name]
            rc, out, err, missing = _run(run, argv)
        if rc != 0:
            unavailable.append({"what": "ipset %s" % name, "reason": _reason(rc, err, missing),
                                "source": " ".join(argv)})
            continue
        texts.append(out)
    text = "".join(t if t.endswith("\n") else t + "\n" for t in texts)
    try:
        parsed = ipsetmod.parse_ipset_save(text, source="ipset save")
    except ValueError as exc:
        unavailable.append({"what": "ipsets", "reason": "unreadable output: %s" % exc, "source": "ipset save"})
        return None
    return {"source": "ipset save", "text": text, "sets": ipsetmod.summarize(parsed)}


def collect_firewall(run, read=None):
    """The `firewall` subset: every ruleset this host's kernel runs, with what could not be read."""
    unavailable = []
    warnings = []
    facts = {"iptables": None, "ip6tables": None, "nftables": None, "ipsets": None,
             "warnings": warnings, "unavailable": unavailable}
    for key in ("iptables", "ip6tables"):
        facts[key] = collect_iptables(run, key, unavailable, warnings)
    facts["nftables"] = collect_nft(run, unavailable, warnings)
    texts = []
    for key in ("iptables", "ip6tables"):
        for variant in ("nft", "legacy", "default"):
            dump = facts[key].get(variant)
            if dump:
                texts.append(dump.get("text"))
    facts["ipsets"] = collect_ipsets(run, referenced_ipsets(texts), unavailable)
    return facts
