# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe many TCP targets at once from this host, the way an HAProxy health check connects.

Non-blocking connect() on many sockets watched by one selector (no thread per target), each
bounded by ``timeout``; by default every target at once, as far as the open-file limit allows
(``concurrency`` caps it), so silent targets cost one timeout in total, not one each. The answer
of the kernel decides the result:

- ``open``: the handshake completed;
- ``refused``: ECONNREFUSED (an RST, or an ICMP port-unreachable);
- ``timeout``: nothing within the timeout (or the kernel's own ETIMEDOUT);
- ``unreachable``: EHOSTUNREACH / ENETUNREACH (ICMP host/net unreachable or prohibited, no route);
- ``error``: anything else (EPERM from a local OUTPUT rule, EADDRNOTAVAIL for a bad source...).

With ``http_check`` an HTTP request like HAProxy's ``option httpchk`` / ``http-check send`` is
sent on open sockets and the answer judged by the ``http-check expect`` rules HAProxy would
apply (``status`` codes and ranges, ``rstatus``, ``string``, ``rstring``, ``!``, the
``ok-status``/``error-status``/``tout-status`` options; without rules 2xx and 3xx pass), giving
HAProxy's own check codes (L7OK, L7OKC, L7STS, L7RSP, L7TOUT, SOCKERR), so a Layer-7 failure is
told apart from a Layer-4 one. What is not emulated (TLS checks, PROXY protocol, header rules,
multi-step sequences) is reported as ``not_emulated``, never guessed. Results come back in the
order of the targets. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import heapq
import ipaddress
import os
import re
import selectors
import shlex
import socket
import time
from collections import deque

try:
    import resource
except ImportError:  # pragma: no cover - not on Linux
    resource = None

RESULTS = ("open", "refused", "timeout", "unreachable", "error")
_IN_PROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY)
_UNREACHABLE = (errno.EHOSTUNREACH, errno.ENETUNREACH)
_STATUS_LINE = re.compile(r"^HTTP/(\d(?:\.\d)?)\s+(\d{3})(?:\s+(.*))?$")
MAX_HTTP_BYTES = 16384  # HAProxy's default tune.bufsize: a check never reads more
FD_MARGIN = 64  # descriptors left free below RLIMIT_NOFILE (the selector, the module's own files)
HTTP_DEFAULTS = {"method": "OPTIONS", "uri": "/", "version": "HTTP/1.0", "host": None, "headers": None, "body": None,
                 "expect": None, "expect_status": None, "disable_on_404": False, "ssl": False, "not_emulated": None}
# HAProxy's http-check expect: what this probe evaluates, what it knows but does not emulate.
EMULATED_MATCHES = ("status", "rstatus", "string", "rstring")
NOT_EMULATED_MATCHES = ("hdr", "fhdr", "string-lf", "binary", "rbinary", "binary-lf")
_EXPECT_OPTIONS = ("min-recv", "comment", "ok-status", "error-status", "tout-status", "on-success", "on-error",
                   "status-code")
_STATUS_OPTIONS = {
    "ok_status": ("L7OK", "L7OKC", "L6OK", "L4OK"),
    "error_status": ("L7RSP", "L7STS", "L6RSP", "L4CON"),
    "tout_status": ("L7TOUT", "L6TOUT", "L4TOUT"),
}
HTTP_PASSED = _STATUS_OPTIONS["ok_status"]  # the codes of a passed HTTP check (an ok-status may pick any)


class ProbeInputError(ValueError):
    """A target that cannot be probed as given (bad address, port, source, HTTP check)."""


def classify(err):
    """Map an errno (0 for success) to (result, errno name)."""
    if err == 0:
        return "open", None
    name = errno.errorcode.get(err, str(err))
    if err == errno.ECONNREFUSED:
        return "refused", name
    if err == errno.ETIMEDOUT:
        return "timeout", name
    if err in _UNREACHABLE:
        return "unreachable", name
    return "error", name


def _ip_literal(text):
    host = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    base = host.split("%", 1)[0]
    try:
        ipaddress.ip_address(base)
    except ValueError:
        return None
    return host


def normalize_targets(targets):
    """Validate targets; returns a list of dicts {address, port, source, http_check, id, plan},
    ``plan`` being the target's own http_check compiled (compile_http_check()), or None."""
    out = []
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            raise ProbeInputError("targets[%d]: expected a dict with address and port" % index)
        address = target.get("address")
        port = target.get("port")
        if not address or not isinstance(address, str):
            raise ProbeInputError("targets[%d]: address is required" % index)
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ProbeInputError("targets[%d]: port %r is not a number" % (index, port))
        if not 1 <= port <= 65535:
            raise ProbeInputError("targets[%d]: port %d is not a TCP port (1-65535)" % (index, port))
        source = target.get("source") or None
        if source is not None and _ip_literal(source) is None:
            raise ProbeInputError("targets[%d]: source %r is not an IP address" % (index, source))
        try:
            plan = compile_http_check(http_check_options(target.get("http_check")))
        except ProbeInputError as exc:
            raise ProbeInputError("targets[%d]: %s" % (index, exc))
        out.append({"address": address, "port": port, "source": source, "http_check": target.get("http_check"),
                    "id": target.get("id"), "plan": plan})
    return out


def _sockaddr(address, port, resolve_fn):
    """(family, sockaddr, canonical address) for an IP literal or a host name (first answer)."""
    literal = _ip_literal(address)
    flags = socket.AI_NUMERICHOST if literal is not None else 0
    infos = resolve_fn(literal if literal is not None else address, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                       socket.IPPROTO_TCP, flags)
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    family, _type, _proto, _canon, sockaddr = infos[0]
    return family, sockaddr, sockaddr[0]


def _headers(value):
    """[[name, value], ...] from a list of pairs or of {name, value} dicts (None: none)."""
    out = []
    for item in value or []:
        if isinstance(item, dict) and set(item) <= set(("name", "value")) and item.get("name"):
            out.append([str(item["name"]), "" if item.get("value") is None else str(item["value"])])
        elif isinstance(item, (list, tuple)) and len(item) == 2 and item[0]:
            out.append([str(item[0]), str(item[1])])
        else:
            raise ProbeInputError("http_check: headers must be [name, value] pairs or {name, value} dicts, got %r"
                                  % (item,))
    return out


def _expect_words(rule):
    if isinstance(rule, str):
        try:
            return shlex.split(rule)
        except ValueError as exc:
            raise ProbeInputError("http_check: expect %r: %s" % (rule, exc))
    if isinstance(rule, (list, tuple)) and all(isinstance(w, (str, int)) for w in rule):
        return [str(w) for w in rule]
    raise ProbeInputError("http_check: expect rules are strings or lists of words, got %r" % (rule,))


def http_check_options(check):
    """Fill HAProxy's `option httpchk` defaults into an http_check dict (None stays None)."""
    if not check:
        return None
    if not isinstance(check, dict):
        raise ProbeInputError("http_check: expected a dict, got %r" % (check,))
    unknown = sorted(set(check) - set(HTTP_DEFAULTS))
    if unknown:
        raise ProbeInputError("http_check: unknown key(s) %s (known: %s)"
                              % (", ".join(unknown), ", ".join(sorted(HTTP_DEFAULTS))))
    merged = dict(HTTP_DEFAULTS)
    merged.update(dict((k, v) for k, v in check.items() if v is not None))
    expect = merged.get("expect_status")
    if expect is not None and not isinstance(expect, (list, tuple)):
        expect = [expect]
    try:
        merged["expect_status"] = [int(x) for x in expect] if expect is not None else None
    except (TypeError, ValueError):
        raise ProbeInputError("http_check: expect_status must be status codes, got %r" % (expect,))
    merged["headers"] = _headers(merged["headers"]) or None
    rules = merged.get("expect")
    if rules is not None and (isinstance(rules, str) or not isinstance(rules, (list, tuple))):
        rules = [rules]
    merged["expect"] = [_expect_words(rule) for rule in rules] if rules else None
    merged["disable_on_404"] = bool(merged["disable_on_404"])
    merged["ssl"] = bool(merged["ssl"])
    return merged


def _status_codes(text, shown):
    """HAProxy's `expect status 200,300-399` list -> [(low, high), ...]."""
    codes = []
    for part in text.split(","):
        low, _sep, high = part.partition("-")
        try:
            low, high = int(low), int(high or low)
        except ValueError:
            raise ProbeInputError("http_check: expect %r: %r is not a status code or range" % (shown, part))
        if low > high:
            raise ProbeInputError("http_check: expect %r: range %r is reversed" % (shown, part))
        codes.append((low, high))
    return codes


def parse_expect(words):
    """One `http-check expect` rule (its words after `expect`) -> rule dict.

    Raises ProbeInputError for what HAProxy itself refuses; what HAProxy accepts but this probe
    does not evaluate (header rules, log-format strings, a regex Python's re does not read) gets
    ``not_emulated`` with the reason."""
    shown = " ".join(words)
    rule = {"text": shown, "negate": False, "match": None, "pattern": None, "codes": None, "regex": None,
            "ok_status": None, "error_status": None, "tout_status": None, "not_emulated": None}
    i = 0
    while i < len(words) and (words[i] == "!" or words[i] in _EXPECT_OPTIONS):
        if words[i] == "!":
            rule["negate"] = True
            i += 1
            continue
        if i + 1 >= len(words):
            raise ProbeInputError("http_check: expect %r: %s needs a value" % (shown, words[i]))
        key = words[i].replace("-", "_")
        if key in _STATUS_OPTIONS:
            if words[i + 1] not in _STATUS_OPTIONS[key]:
                raise ProbeInputError("http_check: expect %r: %s must be one of %s" % (
                    shown, words[i], ", ".join(_STATUS_OPTIONS[key])))
            rule[key] = words[i + 1]
        i += 2
    if i >= len(words):
        raise ProbeInputError("http_check: expect %r: no match (status, rstatus, string, rstring...)" % shown)
    match, rest = words[i], words[i + 1:]
    rule["match"] = match
    if match in NOT_EMULATED_MATCHES:
        rule["pattern"] = " ".join(rest)
        rule["not_emulated"] = "'http-check expect %s' is not emulated" % shown
        return rule
    if match not in EMULATED_MATCHES:
        raise ProbeInputError("http_check: expect %r: unknown match %r (HAProxy knows %s)" % (
            shown, match, ", ".join(EMULATED_MATCHES + NOT_EMULATED_MATCHES[:2])))
    if len(rest) != 1:
        raise ProbeInputError("http_check: expect %r: %s takes exactly one pattern" % (shown, match))
    rule["pattern"] = rest[0]
    if match == "status":
        rule["codes"] = _status_codes(rest[0], shown)
    elif match in ("rstatus", "rstring"):
        try:
            rule["regex"] = re.compile(rest[0].encode("latin-1", "replace") if match == "rstring" else rest[0])
        except re.error as exc:
            rule["not_emulated"] = ("the regex of 'http-check expect %s' is not one Python's re reads (%s); "
                                    "HAProxy uses PCRE" % (shown, exc))
    return rule


def _http_request(check):
    lines = ["%s %s %s" % (check["method"], check["uri"], check["version"])]
    if check.get("host"):
        lines.append("Host: %s" % check["host"])
    for name, value in check.get("headers") or []:
        if name.lower() not in ("host", "connection", "content-length"):
            lines.append("%s: %s" % (name, value))
    lines.append("Connection: close")
    body = (check.get("body") or "").encode("latin-1", "replace")
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


def compile_http_check(check):
    """What to send and how to judge the answer, from http_check_options() output (None: None)."""
    if check is None:
        return None
    plan = {"request": None, "request_line": "%s %s %s" % (check["method"], check["uri"], check["version"]),
            "rules": [], "not_emulated": None, "needs_body": False, "disable_on_404": check["disable_on_404"],
            "method": str(check["method"]).upper()}
    if check["expect_status"]:
        plan["rules"].append(parse_expect(["status", ",".join(str(c) for c in check["expect_status"])]))
    for words in check["expect"] or []:
        plan["rules"].append(parse_expect(words))
    plan["needs_body"] = any(rule["match"] in ("string", "rstring") for rule in plan["rules"])
    if check["ssl"]:
        plan["not_emulated"] = "the check runs over TLS (ssl / check-ssl): not emulated"
    elif check["not_emulated"]:
        plan["not_emulated"] = str(check["not_emulated"])
    else:
        plan["request"] = _http_request(check)
    return plan


def _head_end(data):
    """(end of the header block, length of its blank line) or None while incomplete."""
    found = [(data.find(sep), len(sep)) for sep in (b"\r\n\r\n", b"\n\n")]
    found = [pair for pair in found if pair[0] >= 0]
    return min(found) if found else None


def _dechunk(data):
    """(decoded body, complete) of a chunked body."""
    out, pos = b"", 0
    while True:
        eol = data.find(b"\n", pos)
        if eol < 0:
            return out, False
        try:
            size = int(data[pos:eol].split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            return out, True  # malformed: judge what came
        if size == 0:
            return out, True
        start = eol + 1
        if len(data) < start + size:
            return out + data[start:], False
        out += data[start:start + size]
        pos = start + size
        if data[pos:pos + 2] == b"\r\n":
            pos += 2
        elif data[pos:pos + 1] == b"\n":
            pos += 1


def parse_response(data, eof, method="GET", needs_body=False):
    """Read an HTTP response buffer as far as a check needs it.

    Returns None while more data is needed, else a dict: status, phrase, body (bytes, decoded
    from chunked), error (why it is not an HTTP response, else None)."""
    full = eof or len(data) >= MAX_HTTP_BYTES
    if b"\n" not in data and not full:
        return None
    line = data.split(b"\n", 1)[0].decode("latin-1").strip()
    m = _STATUS_LINE.match(line)
    if not m:
        if not data:
            return {"status": None, "phrase": None, "body": b"", "error": "connection closed without a response"}
        return {"status": None, "phrase": None, "body": b"", "error": "not an HTTP status line: %r" % line[:80]}
    status, phrase = int(m.group(2)), (m.group(3) or "").strip()
    if not needs_body:
        return {"status": status, "phrase": phrase, "body": b"", "error": None}
    head = _head_end(data)
    if head is None:
        return {"status": status, "phrase": phrase, "body": b"", "error": None} if full else None
    headers = {}
    for raw in data[:head[0]].split(b"\n")[1:]:
        name, sep, value = raw.decode("latin-1").partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    rest = data[head[0] + head[1]:]
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body, complete = b"", True
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body, complete = _dechunk(rest)
    elif headers.get("content-length", "").isdigit():
        length = int(headers["content-length"])
        body, complete = rest[:length], len(rest) >= length
    else:
        body, complete = rest, False  # until the server closes
    if not complete and not full:
        return None
    return {"status": status, "phrase": phrase, "body": body, "error": None}


def _rule_matches(rule, response):
    if rule["match"] == "status":
        return any(low <= response["status"] <= high for low, high in rule["codes"])
    if rule["match"] == "rstatus":
        return rule["regex"].search("%03d" % response["status"]) is not None
    if rule["match"] == "string":
        return rule["pattern"].encode("latin-1", "replace") in response["body"]
    return rule["regex"].search(response["body"]) is not None


def evaluate_http(plan, response):
    """HAProxy's verdict on one response: {status, result, ok, reason}, result being the check
    code HAProxy would report (L7OK, L7OKC, L7STS, L7RSP, or an ok-/error-status), or
    ``not_emulated`` when a rule this probe cannot evaluate decides."""
    out = {"status": response.get("status"), "result": None, "ok": None, "reason": None}
    if response.get("error"):
        out.update(result="L7RSP", ok=False, reason=response["error"])
        return out
    status = response["status"]
    shown = "HTTP status %d (%s)" % (status, response.get("phrase") or "")
    if plan["disable_on_404"] and status == 404:
        out.update(result="L7OKC", ok=True, reason="%s with http-check disable-on-404: HAProxy passes it (NOLB) "
                                                   "while the server is up, fails it while it is down" % shown)
        return out
    if not plan["rules"]:
        ok = 200 <= status < 400  # HAProxy's httpchk without expect rules: 2xx and 3xx pass
        out.update(result="L7OK" if ok else "L7STS", ok=ok, reason=None if ok else shown)
        return out
    for rule in plan["rules"]:
        if rule["not_emulated"]:
            out.update(result="not_emulated", reason="%s; then %s" % (shown, rule["not_emulated"]))
            return out
        on_body = rule["match"] in ("string", "rstring")
        if on_body and not response["body"]:
            out.update(result=rule["error_status"] or "L7RSP", ok=False,
                       reason="%s; HTTP content check could not find a response body (expect %s)" % (shown, rule["text"]))
            return out
        if _rule_matches(rule, response) == rule["negate"]:
            if on_body:
                what = "matched unwanted content" if rule["negate"] else "did not match"
                reason = "%s; HTTP content check %s (expect %s)" % (shown, what, rule["text"])
            else:
                reason = "%s fails 'expect %s'" % (shown, rule["text"])
            out.update(result=rule["error_status"] or ("L7RSP" if on_body else "L7STS"), ok=False, reason=reason)
            return out
    result = plan["rules"][-1]["ok_status"] or "L7OK"
    out.update(result=result, ok=result in HTTP_PASSED, reason=None)
    return out


class _Probe(object):
    __slots__ = ("index", "target", "sock", "phase", "start", "deadline", "sent", "buffer", "plan", "family",
                 "resolved", "local")

    def __init__(self, index, target):
        self.index = index
        self.target = target
        self.sock = None
        self.phase = "connect"
        self.start = None
        self.deadline = None
        self.sent = 0
        self.buffer = b""
        self.plan = None
        self.family = None
        self.resolved = None
        self.local = None


def effective_concurrency(count, concurrency=None):
    """How many connections may be in progress at once for ``count`` targets: all of them, or
    ``concurrency`` when given, never more than the open-file limit allows (the soft limit is
    raised towards the hard one when more descriptors are needed)."""
    wanted = max(1, count if concurrency is None else min(int(concurrency), count))
    return min(wanted, _fd_budget(wanted))


def probe(targets, timeout=2.0, concurrency=None, http_check=None, resolve_fn=None, clock=None):
    """Probe every target; returns one result dict per target, in the same order.

    concurrency: None (the default) starts every target at once, bounded by the open-file
    limit; a number caps how many are in progress. Each result: address, port, source, result,
    errno, elapsed_ms, error, family, resolved_address, source_address (the local address the
    kernel chose), id (when the target has one); with an HTTP check also http (request, status,
    result, ok, reason) and the flat http_status, http_ok, http_error.
    """
    targets = normalize_targets(targets)
    resolve_fn = resolve_fn or socket.getaddrinfo
    clock = clock or time.monotonic
    concurrency = effective_concurrency(len(targets), concurrency)
    default_plan = compile_http_check(http_check_options(http_check))
    results = [None] * len(targets)
    pending = deque(enumerate(targets))
    active = {}
    deadlines = []  # heap of (deadline, index, probe) of active probes; finished ones skipped
    selector = selectors.DefaultSelector()

    def finish(p, result, err_name=None, error=None, http=None):
        now = clock()
        entry = {
            "address": p.target["address"], "port": p.target["port"], "source": p.target["source"],
            "result": result, "errno": err_name,
            "elapsed_ms": round((now - p.start) * 1000.0, 1) if p.start is not None else 0.0,
            "error": error, "family": p.family, "resolved_address": p.resolved,
            "source_address": p.local,
        }
        if p.target.get("id") is not None:
            entry["id"] = p.target["id"]
        if p.plan is not None:
            if http is None:
                http = {"status": None, "result": None, "ok": None,
                        "reason": p.plan["not_emulated"] or "not sent: the TCP connect ended %s" % result}
                if p.plan["not_emulated"]:
                    http["result"] = "not_emulated"
            sent = p.plan["request"] is not None and p.phase != "connect"
            http["request"] = p.plan["request_line"] if sent else None
            entry["http"] = http
            entry.update({"http_status": http["status"], "http_ok": http["ok"],
                          "http_error": http["reason"] if http["ok"] is False else None})
        results[p.index] = entry
        if p.sock is not None:
            if p.sock.fileno() in active:
                try:
                    selector.unregister(p.sock)
                except (KeyError, ValueError):
                    pass
                del active[p.sock.fileno()]
            p.sock.close()

    def begin(index, target):
        p = _Probe(index, target)
        p.plan = target["plan"] or default_plan
        p.start = clock()
        p.deadline = p.start + timeout
        try:
            family, sockaddr, canon = _sockaddr(target["address"], target["port"], resolve_fn)
        except (socket.gaierror, UnicodeError) as exc:
            finish(p, "error", None, "cannot resolve %s: %s" % (target["address"], exc))
            return
        p.family = "ipv6" if family == socket.AF_INET6 else "ipv4"
        p.resolved = canon
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            finish(p, "error", errno.errorcode.get(exc.errno), "socket(): %s" % exc.strerror)
            return
        p.sock = sock
        sock.setblocking(False)
        if target["source"]:
            try:
                src_family, src_addr, _canon = _sockaddr(target["source"], 0, resolve_fn)
                if src_family != family:
                    raise OSError(errno.EAFNOSUPPORT, "source and target address families differ")
                sock.bind(src_addr)
            except (OSError, socket.gaierror) as exc:
                finish(p, "error", errno.errorcode.get(exc.errno) if exc.errno else None,
                       "cannot bind source %s: %s" % (target["source"], exc.strerror or exc))
                return
        err = sock.connect_ex(sockaddr)
        try:
            # connect() picked the source address from the routing table before the SYN left:
            # the address the backend's firewall sees, for the netfilter evaluation.
            p.local = sock.getsockname()[0]
        except OSError:
            p.local = None
        if err in _IN_PROGRESS:
            active[sock.fileno()] = p
            selector.register(sock, selectors.EVENT_WRITE, p)
            heapq.heappush(deadlines, (p.deadline, p.index, p))
            return
        connected(p, err)

    def connected(p, err):
        result, name = classify(err)
        if result != "open":
            finish(p, result, name, _strerror(err) if result == "error" else None)
            return
        if p.plan is None or p.plan["request"] is None:
            finish(p, "open")
            return
        p.phase = "send"
        if p.sock.fileno() not in active:
            active[p.sock.fileno()] = p
            selector.register(p.sock, selectors.EVENT_WRITE, p)
            heapq.heappush(deadlines, (p.deadline, p.index, p))

    def http_failed(p, code, reason):
        finish(p, "open", http={"status": None, "result": code, "ok": False, "reason": reason})

    def on_event(p):
        if p.phase == "connect":
            connected(p, p.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
            return
        if p.phase == "send":
            request = p.plan["request"]
            try:
                p.sent += p.sock.send(request[p.sent:])
            except OSError as exc:
                # an I/O error once connected is HAProxy's SOCKERR
                http_failed(p, "SOCKERR", "send failed: %s" % (exc.strerror or exc))
                return
            if p.sent >= len(request):
                p.phase = "recv"
                selector.modify(p.sock, selectors.EVENT_READ, p)
            return
        try:
            data = p.sock.recv(4096)
        except OSError as exc:
            if p.buffer:
                http_done(p, eof=True)
            else:
                http_failed(p, "SOCKERR", "receive failed: %s" % (exc.strerror or exc))
            return
        p.buffer += data
        http_done(p, eof=not data)

    def http_done(p, eof):
        response = parse_response(p.buffer, eof, p.plan["method"], p.plan["needs_body"])
        if response is not None:
            finish(p, "open", http=evaluate_http(p.plan, response))

    def expire(p):
        if p.phase == "connect":
            finish(p, "timeout", None, "no answer within %.1f s" % timeout)
            return
        response = parse_response(p.buffer, True, p.plan["method"], p.plan["needs_body"]) if p.buffer else None
        if response is not None and response["error"] is None and p.plan["needs_body"]:
            finish(p, "open", http=evaluate_http(p.plan, response))  # judged on what came, as at a full buffer
            return
        tout = next((rule["tout_status"] for rule in p.plan["rules"] if rule["tout_status"]), None)
        http_failed(p, tout or "L7TOUT", "no complete HTTP response within %.1f s (HAProxy: %s)" % (
            timeout, tout or "L7TOUT"))

    try:
        while pending or active:
            while pending and len(active) < concurrency:
                index, target = pending.popleft()
                begin(index, target)
            if not active:
                continue
            while deadlines and results[deadlines[0][1]] is not None:
                heapq.heappop(deadlines)
            wait = max(0.0, deadlines[0][0] - clock()) if deadlines else 0.0
            for key, _mask in selector.select(wait):
                p = key.data
                if results[p.index] is None:
                    on_event(p)
            now = clock()
            while deadlines and deadlines[0][0] <= now:
                p = heapq.heappop(deadlines)[2]
                if results[p.index] is None:
                    expire(p)
    finally:
        for p in list(active.values()):
            p.sock.close()
        selector.close()
    return results


def _strerror(err):
    try:
        return os.strerror(err)
    except (ValueError, OverflowError):
        return str(err)


def _fd_budget(wanted=0):
    """How many sockets we may open at once: RLIMIT_NOFILE's soft limit minus FD_MARGIN. When
    ``wanted`` needs more, the soft limit of this process is raised towards the hard one first
    (an unprivileged process may do that; the probe's process ends with the module)."""
    if resource is None:
        return 256
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ValueError, OSError):
        return 256
    if soft == resource.RLIM_INFINITY:
        return max(wanted, 1)
    if wanted + FD_MARGIN > soft and (hard == resource.RLIM_INFINITY or hard > soft):
        raised = wanted + FD_MARGIN if hard == resource.RLIM_INFINITY else min(hard, wanted + FD_MARGIN)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    return max(1, soft - FD_MARGIN)


def summarize(results):
    """Counts per result, in RESULTS order."""
    counts = dict((name, 0) for name in RESULTS)
    for entry in results:
        counts[entry["result"]] = counts.get(entry["result"], 0) + 1
    return counts
