# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe many TCP targets at once from this host, the way an HAProxy health check connects.

Non-blocking connect() on up to ``concurrency`` sockets watched by one selector (no thread per
target), each bounded by ``timeout``; the answer of the kernel decides the result:

- ``open``: the handshake completed;
- ``refused``: ECONNREFUSED (an RST, or an ICMP port-unreachable);
- ``timeout``: nothing within the timeout (or the kernel's own ETIMEDOUT);
- ``unreachable``: EHOSTUNREACH / ENETUNREACH (ICMP host/net unreachable or prohibited, no route);
- ``error``: anything else (EPERM from a local OUTPUT rule, EADDRNOTAVAIL for a bad source...).

With ``http_check`` an HTTP request like HAProxy's ``option httpchk`` is sent on open sockets
and the status line is read, so a Layer-7 failure (L7STS, L7TOUT) is told apart from a
Layer-4 one. Results come back in the order of the targets. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import os
import re
import selectors
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
MAX_HTTP_BYTES = 16384
HTTP_DEFAULTS = {"method": "OPTIONS", "uri": "/", "version": "HTTP/1.0", "host": None, "expect_status": None}


class ProbeInputError(ValueError):
    """A target that cannot be probed as given (bad address, port, source)."""


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
    """Validate targets; returns a list of dicts {address, port, source, http_check}."""
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
            http_check_options(target.get("http_check"))
        except ProbeInputError as exc:
            raise ProbeInputError("targets[%d]: %s" % (index, exc))
        out.append({"address": address, "port": port, "source": source, "http_check": target.get("http_check")})
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


def _http_request(check):
    lines = ["%s %s %s" % (check["method"], check["uri"], check["version"])]
    if check.get("host"):
        lines.append("Host: %s" % check["host"])
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_check_options(check):
    """Fill HAProxy's `option httpchk` defaults into an http_check dict (None stays None)."""
    if not check:
        return None
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
    return merged


def _status_ok(status, expect):
    if expect:
        return status in expect
    return 200 <= status < 400  # HAProxy's httpchk: 2xx and 3xx pass


class _Probe(object):
    __slots__ = ("index", "target", "sock", "phase", "start", "deadline", "request", "sent", "buffer", "result",
                 "check", "family", "resolved", "local")

    def __init__(self, index, target):
        self.index = index
        self.target = target
        self.sock = None
        self.phase = "connect"
        self.start = None
        self.deadline = None
        self.request = b""
        self.sent = 0
        self.buffer = b""
        self.result = None
        self.check = None
        self.family = None
        self.resolved = None
        self.local = None


def probe(targets, timeout=2.0, concurrency=64, http_check=None, resolve_fn=None, clock=None):
    """Probe every target; returns one result dict per target, in the same order.

    Each result: address, port, source, result, errno, elapsed_ms, error, family,
    resolved_address, source_address (the local address the kernel chose); with an HTTP check
    also http_status, http_ok, http_error.
    """
    targets = normalize_targets(targets)
    resolve_fn = resolve_fn or socket.getaddrinfo
    clock = clock or time.monotonic
    concurrency = max(1, min(int(concurrency), _fd_budget()))
    default_check = http_check_options(http_check)
    results = [None] * len(targets)
    pending = deque(enumerate(targets))
    active = {}
    selector = selectors.DefaultSelector()

    def finish(p, result, err_name=None, error=None, **extra):
        now = clock()
        entry = {
            "address": p.target["address"], "port": p.target["port"], "source": p.target["source"],
            "result": result, "errno": err_name,
            "elapsed_ms": round((now - p.start) * 1000.0, 1) if p.start is not None else 0.0,
            "error": error, "family": p.family, "resolved_address": p.resolved,
            "source_address": p.local,
        }
        if p.check is not None:
            entry.update({"http_status": None, "http_ok": None, "http_error": None})
            entry.update(extra)
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
        p.check = http_check_options(target.get("http_check")) or default_check
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
            return
        connected(p, err)

    def connected(p, err):
        result, name = classify(err)
        if result != "open":
            finish(p, result, name, _strerror(err) if result == "error" else None)
            return
        if p.check is None:
            finish(p, "open")
            return
        p.phase = "send"
        p.request = _http_request(p.check)
        if p.sock.fileno() not in active:
            active[p.sock.fileno()] = p
            selector.register(p.sock, selectors.EVENT_WRITE, p)

    def on_event(p, mask):
        if p.phase == "connect":
            err = p.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            connected(p, err)
            return
        if p.phase == "send":
            try:
                p.sent += p.sock.send(p.request[p.sent:])
            except OSError as exc:
                finish(p, "open", None, None, http_error="send failed: %s" % (exc.strerror or exc))
                return
            if p.sent >= len(p.request):
                p.phase = "recv"
                selector.modify(p.sock, selectors.EVENT_READ, p)
            return
        try:
            data = p.sock.recv(4096)
        except OSError as exc:
            finish(p, "open", None, None, http_error="receive failed: %s" % (exc.strerror or exc))
            return
        p.buffer += data
        if b"\n" in p.buffer or not data or len(p.buffer) > MAX_HTTP_BYTES:
            http_done(p, eof=not data)

    def http_done(p, eof):
        line = p.buffer.split(b"\n", 1)[0].decode("latin-1").strip()
        m = _STATUS_LINE.match(line)
        if not m:
            reason = "connection closed without a response" if eof and not p.buffer else \
                "not an HTTP status line: %r" % line[:80]
            finish(p, "open", None, None, http_error=reason)
            return
        status = int(m.group(2))
        ok = _status_ok(status, p.check.get("expect_status"))
        finish(p, "open", None, None, http_status=status, http_ok=ok,
               http_error=None if ok else "HTTP status %d (%s)" % (status, (m.group(3) or "").strip()))

    try:
        while pending or active:
            while pending and len(active) < concurrency:
                index, target = pending.popleft()
                begin(index, target)
            if not active:
                continue
            now = clock()
            wait = max(0.0, min(p.deadline for p in active.values()) - now)
            for key, mask in selector.select(wait):
                p = key.data
                if results[p.index] is None:
                    on_event(p, mask)
            now = clock()
            for p in [p for p in active.values() if p.deadline <= now]:
                if p.phase == "connect":
                    finish(p, "timeout", None, "no answer within %.1f s" % timeout)
                else:
                    finish(p, "open", None, None,
                           http_error="no HTTP response within %.1f s (HAProxy: L7TOUT)" % timeout)
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


def _fd_budget():
    """How many sockets we may open at once: leave room below RLIMIT_NOFILE."""
    if resource is None:
        return 256
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ValueError, OSError):
        return 256
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(1, soft - 64)


def summarize(results):
    """Counts per result, in RESULTS order."""
    counts = dict((name, 0) for name in RESULTS)
    for entry in results:
        counts[entry["result"]] = counts.get(entry["result"], 0) + 1
    return counts
