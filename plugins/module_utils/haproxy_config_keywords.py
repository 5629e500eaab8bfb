# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keyword tables of the HAProxy configuration language (HAProxy 1.8 to 3.2).

The server keyword list and arities come from `haproxy -dKcfg` of HAProxy 2.6.12 (Debian 12)
plus the keywords later versions added (configuration manual, section 5.2). Section keyword
lists come from the configuration manual (sections 3 and 4.1). They are used to tell a
keyword HAProxy refuses from one it accepts; `haproxy -c` stays the authority when present.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Sections. Only backend and listen hold the servers HAProxy load-balances to; `server` lines
# in peers, ring, etc. are something else (peers, log servers) and are ignored.
PROXY_SECTIONS = frozenset(("defaults", "frontend", "backend", "listen"))
OTHER_SECTIONS = frozenset((
    "global", "resolvers", "peers", "userlist", "mailers", "cache", "program", "http-errors",
    "ring", "log-forward", "fcgi-app", "crt-store", "traces", "acme", "namespace_list",
    "dynamic-update", "cert-store",
))
SECTIONS = PROXY_SECTIONS | OTHER_SECTIONS

# Server / default-server keywords -> number of arguments that follow.
SERVER_KEYWORDS = {
    "addr": 1, "agent-addr": 1, "agent-check": 0, "agent-inter": 1, "agent-port": 1,
    "agent-send": 1, "allow-0rtt": 0, "alpn": 1, "backup": 0, "ca-file": 1, "check": 0,
    "check-alpn": 1, "check-proto": 1, "check-send-proxy": 0, "check-sni": 1, "check-ssl": 0,
    "check-via-socks4": 0, "ciphers": 1, "ciphersuites": 1, "cookie": 1, "crl-file": 1, "crt": 1,
    "disabled": 0, "downinter": 1, "enabled": 0, "error-limit": 1, "fall": 1, "fastinter": 1,
    "force-sslv3": 0, "force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0, "force-tlsv13": 0,
    "id": 1, "init-addr": 1, "inter": 1, "log-proto": 1, "max-reuse": 1, "maxconn": 1,
    "maxqueue": 1, "minconn": 1, "namespace": 1, "no-agent-check": 0, "no-backup": 0,
    "no-check": 0, "no-check-send-proxy": 0, "no-check-ssl": 0, "no-send-proxy": 0,
    "no-send-proxy-v2": 0, "no-send-proxy-v2-ssl": 0, "no-send-proxy-v2-ssl-cn": 0, "no-ssl": 0,
    "no-ssl-reuse": 0, "no-sslv3": 0, "no-tfo": 0, "no-tls-tickets": 0, "no-tlsv10": 0,
    "no-tlsv11": 0, "no-tlsv12": 0, "no-tlsv13": 0, "non-stick": 0, "npn": 1, "observe": 1,
    "on-error": 1, "on-marked-down": 1, "on-marked-up": 1, "pool-low-conn": 1,
    "pool-max-conn": 1, "pool-purge-delay": 1, "port": 1, "proto": 1, "proxy-v2-options": 1,
    "redir": 1, "resolve-net": 1, "resolve-opts": 1, "resolve-prefer": 1, "resolvers": 1,
    "rise": 1, "send-proxy": 0, "send-proxy-v2": 0, "send-proxy-v2-ssl": 0,
    "send-proxy-v2-ssl-cn": 0, "slowstart": 1, "sni": 1, "socks4": 1, "source": -1, "ssl": 0,
    "ssl-max-ver": 1, "ssl-min-ver": 1, "ssl-reuse": 0, "stick": 0, "tcp-ut": 1, "tfo": 0,
    "tls-tickets": 0, "track": 1, "usesrc": 0, "verify": 1, "verifyhost": 1, "weight": 1,
    "ws": 1,
    # added after 2.6
    "curves": 1, "sigalgs": 1, "client-sigalgs": 1, "guid": 1, "hash-key": 1, "init-state": 1,
    "log-bufsize": 1, "renegotiate": 0, "no-renegotiate": 0, "shard": 1, "strict-maxconn": 0,
    "tcp-md5sig": 1, "pool-conn-name": 1, "check-pool-conn-name": 1, "check-reuse-pool": 0,
    "no-check-reuse-pool": 0, "idle-ping": 1, "cc": 1, "ktls": 1, "sni-auto": 0,
    "no-sni-auto": 0, "check-sni-auto": 0, "no-check-sni-auto": 0, "ssl-alpn": 1,
    "no-strict-maxconn": 0, "no-verifyhost": 0, "tls-ticket-keys": 1, "check-alpn-auto": 0,
}
# Keywords that carry a parenthesised id: set-proxy-v2-tlv-fmt(<id>) <fmt>
SERVER_KEYWORD_PREFIXES = (("set-proxy-v2-tlv-fmt(", 1),)

# Global-section keywords (section 3). Families are matched by prefix.
GLOBAL_KEYWORDS = frozenset((
    "51degrees-cache-size", "51degrees-data-file", "51degrees-property-name-list",
    "51degrees-property-separator", "ca-base", "chroot", "close-spread-time", "cluster-secret",
    "cpu-map", "cpu-policy", "cpu-set", "crt-base", "daemon", "debug", "default-path",
    "description", "dns-accept-family", "expose-deprecated-directives",
    "expose-experimental-directives", "external-check", "fd-hard-limit", "force-cfg-parser-pause",
    "gid", "grace", "group", "hard-stop-after", "insecure-fork-wanted", "insecure-setuid-wanted",
    "issuers-chain-path", "key-base", "limited-quic", "localpeer", "log", "log-send-hostname",
    "log-tag", "master-worker", "max-spread-checks", "maxcompcpuusage", "maxcomprate", "maxconn",
    "maxconnrate", "maxpipes", "maxsessrate", "maxsslconn", "maxsslrate", "maxzlibmem",
    "mworker-max-reloads", "nbproc", "nbthread", "no-memory-trimming", "no-quic", "node",
    "noepoll", "noevports", "nogetaddrinfo", "nokqueue", "nopoll", "noreuseport", "nosplice",
    "numa-cpu-mapping", "pidfile", "pp2-never-send-local", "prealloc-fd", "presetenv",
    "quick-exit", "quiet", "resetenv", "server-state-base", "server-state-file", "set-dumpable",
    "set-var", "set-var-fmt", "setcap", "setenv", "shm-stats-file", "shm-stats-file-max-objects",
    "spread-checks", "stats", "strict-limits", "stress-level", "thread-group", "thread-groups",
    "trace", "uid", "ulimit-n", "unix-bind", "unsetenv", "user", "warn-blocked-traffic-after",
    "zero-warning", "busy-polling", "deviceatlas-json-file", "deviceatlas-log-level",
    "deviceatlas-separator", "deviceatlas-properties-cookie", "wurfl-data-file",
    "wurfl-information-list", "wurfl-information-list-separator", "wurfl-patch-file",
    "wurfl-cache-size", "anonkey", "nbthread", "h2-workaround-bogus-websocket-clients",
    "httpclient.retries", "httpclient.timeout.connect", "ocsp-update.mode", "acme.scheduler",
    "dns-accept-family",
))
GLOBAL_KEYWORD_PREFIXES = (
    "tune.", "ssl-", "lua-", "51degrees-", "deviceatlas-", "wurfl-", "httpclient.", "profiling.",
    "ocsp-update.", "harden.", "h1-", "h2-", "numa-", "quic-", "ssl.", "debug.", "acme.",
)

# Proxy-section keywords (section 4.1). `option` names are not checked.
PROXY_KEYWORDS = frozenset((
    "acl", "backlog", "balance", "bind", "bind-process", "capture", "clitcpka-cnt",
    "clitcpka-idle", "clitcpka-intvl", "compression", "cookie", "declare", "default-server",
    "default_backend", "description", "disabled", "dispatch", "dynamic-cookie-key",
    "email-alert", "enabled", "errorfile", "errorfiles", "errorloc", "errorloc302",
    "errorloc303", "error-log-format", "external-check", "filter", "force-persist", "fullconn",
    "guid", "hash-balance-factor", "hash-key", "hash-preserve-affinity", "hash-type",
    "http-after-response", "http-check", "http-error", "http-request", "http-response",
    "http-reuse", "http-send-name-header", "id", "ignore-persist",
    "load-server-state-from-file", "log", "log-format", "log-format-sd", "log-profile",
    "log-steps", "log-tag", "max-keep-alive-queue", "max-session-srv-conns", "maxconn", "mode",
    "monitor", "monitor-net", "monitor-uri", "option", "no", "default", "persist", "quic-initial",
    "rate-limit", "redirect", "retries", "retry-on", "server", "server-state-file-name",
    "server-template", "source", "srvtcpka-cnt", "srvtcpka-idle", "srvtcpka-intvl", "stats",
    "stick", "stick-table", "tcp-check", "tcp-request", "tcp-response", "timeout", "trace",
    "unique-id-format", "unique-id-header", "use_backend", "use-fcgi-app", "use-server",
    "clitimeout", "contimeout", "srvtimeout", "transparent", "redisp", "redispatch",
    "http-send-name-header", "stats-file", "hash-balance-factor",
))
# Removed keywords HAProxy 2.x refuses with a message naming the replacement.
REMOVED_PROXY_KEYWORDS = frozenset((
    "reqadd", "reqallow", "reqdel", "reqdeny", "reqiallow", "reqidel", "reqideny", "reqipass",
    "reqirep", "reqitarpit", "reqpass", "reqrep", "reqtarpit", "rspadd", "rspdel", "rspdeny",
    "rspidel", "rspideny", "rspirep", "rsprep", "block", "reqsetbe", "reqisetbe",
))
