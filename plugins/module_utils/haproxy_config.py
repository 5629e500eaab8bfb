# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse the HAProxy configuration grammar that decides where servers are and how they are checked.

A pure function over text: ``parse_config([(path, text), ...], env=...)`` returns plain data
(the ``config`` part of ``ansible_facts.lbdoctor_haproxy``, see docs/contracts.md). It follows
HAProxy's own line parser (src/tools.c parse_line): words split on unquoted blanks, ``#``
comments, backslash escapes, single quotes (literal) and double quotes (``${VAR}``,
``${VAR-default}`` and ``${VAR[*]}`` expanded). Addresses then get HAProxy's second expansion
(env_expand: ``$VAR`` and ``${VAR}`` anywhere in an address, no default). Observed on HAProxy
2.6.12: ``server s1 ${A}:80`` expands, ``.notice ${A}`` does not.

Nothing here raises on bad input: what HAProxy would refuse goes to ``errors``, what it
accepts but is suspicious to ``warnings``, each with file and line. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config_keywords import (
    GLOBAL_KEYWORDS, GLOBAL_KEYWORD_PREFIXES, PROXY_KEYWORDS, PROXY_SECTIONS,
    REMOVED_PROXY_KEYWORDS, SECTIONS, SERVER_KEYWORD_PREFIXES, SERVER_KEYWORDS,
)

MAX_LINE_ARGS = 64
DEFAULT_INTER_MS = 2000
DEFAULT_FALL = 3
DEFAULT_RISE = 2
DEFAULT_STATS_LEVEL = "operator"  # HAProxy 2.x default for `stats socket` without `level`

_SPECIAL_CHARS = re.compile(r"[\"'\\$#]")
# Bytes that are not UTF-8 arrive as lone surrogates (surrogateescape, U+DC80-U+DCFF); any lone
# surrogate would make the module's JSON result invalid UTF-8 (ansible-core 2.19 refuses it).
_SURROGATES = re.compile("[\ud800-\udfff]")
# Control characters a text configuration never holds (tab, LF, VT, FF and CR are blanks/ends).
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
BINARY_CONTROL_SHARE = 0.01  # more control characters than this share of a file: not text
MAX_ENCODING_WARNINGS = 20  # per file; the rest are counted in one more warning
_VARNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_IN_ADDRESS = re.compile(r"\$(\{)?([A-Za-z0-9_]*)(\})?")
_TIME_RE = re.compile(r"^(\d+)(us|ms|s|m|h|d)?$")
_PORT_RE = re.compile(r"^([+-]?)(\d+)$")
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$")
_ADDR_PREFIXES = {
    "ipv4": "ipv4", "ipv6": "ipv6", "unix": "unix", "abns": "abns", "abnsz": "abns",
    "tcp": None, "tcp4": "ipv4", "tcp6": "ipv6", "udp": None, "udp4": "ipv4", "udp6": "ipv6",
    "quic4": "ipv4", "quic6": "ipv6", "fd": "fd", "sockpair": "sockpair", "rhttp": "rhttp",
    "mptcp": None, "mptcp4": "ipv4", "mptcp6": "ipv6", "uxst": "unix", "uxdg": "unix",
}
_TIME_UNITS = {None: 1.0, "us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0,
               "d": 86400000.0}


class ConfigParseError(ValueError):
    """One problem in a configuration file; names the source and line."""

    def __init__(self, source, lineno, message, code="parse-error"):
        self.source = source
        self.lineno = lineno
        self.code = code
        self.message = message
        if lineno is None:
            text = "%s: %s" % (source, message)
        else:
            text = "%s:%d: %s" % (source, lineno, message)
        super(ConfigParseError, self).__init__(text)


# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------

def replace_surrogates(text):
    """``text`` with every lone surrogate (a byte that was not UTF-8) replaced by U+FFFD."""
    return text if text.isascii() else _SURROGATES.sub("\ufffd", text)


def _server_keyword_nargs(kw):
    """How many arguments the server keyword ``kw`` takes (-1: `source` and its options), None
    when HAProxy does not know it."""
    nargs = SERVER_KEYWORDS.get(kw)
    if nargs is None:
        nargs = next((count for prefix, count in SERVER_KEYWORD_PREFIXES if kw.startswith(prefix)), None)
    return nargs


def tokenize(line, env=None, problems=None):
    """Split one configuration line into words the way HAProxy's parse_line() does.

    ``env`` maps variable names to values (None: expand nothing, keep ``${VAR}`` as written).
    ``problems`` (a list) receives ``(severity, code, message)`` tuples. Raises ConfigParseError
    (source "-", line None) for an unmatched quote or brace; the caller adds file and line.
    """
    if line.isascii() and not _SPECIAL_CHARS.search(line):
        # str.split() would also split on non-ASCII blanks (U+00A0...), which HAProxy keeps in words
        return line.split()
    words = []
    cur = []
    in_word = False
    squote = dquote = False
    quote_pos = None
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\n" or c == "\r" or c == "\0":
            break
        if c == "#" and not squote and not dquote:
            break
        if c == '"' and not squote:
            dquote = not dquote
            quote_pos = i if dquote else None
            in_word = True
            i += 1
            continue
        if c == "'" and not dquote:
            squote = not squote
            quote_pos = i if squote else None
            in_word = True
            i += 1
            continue
        if c == "\\" and not squote:
            nxt = line[i + 1] if i + 1 < n else ""
            if nxt in (" ", "\\", "#", "'", '"'):
                cur.append(nxt)
                i += 2
            elif nxt == "t":
                cur.append("\t")
                i += 2
            elif nxt == "n":
                cur.append("\n")
                i += 2
            elif nxt == "r":
                cur.append("\r")
                i += 2
            elif nxt == "$" and dquote:
                cur.append("$")
                i += 2
            elif nxt == "x":
                hexa = line[i + 2:i + 4]
                if len(hexa) != 2 or any(h not in "0123456789abcdefABCDEF" for h in hexa):
                    raise ConfigParseError("-", None, "invalid or incomplete hex sequence at position %d" % (i + 1),
                                           code="syntax")
                cur.append(chr(int(hexa, 16)))
                i += 4
            else:
                cur.append("\\")
                i += 1
            in_word = True
            continue
        if (c == " " or c == "\t" or c == "\v" or c == "\f") and not squote and not dquote:
            if in_word:
                words.append("".join(cur))
                cur = []
                in_word = False
            i += 1
            continue
        if c == "$" and dquote:
            i = _expand_var(line, i, env, cur, words, problems)
            in_word = True
            continue
        cur.append(c)
        in_word = True
        i += 1
    if squote or dquote:
        raise ConfigParseError("-", None, "unmatched quote at position %d" % (quote_pos + 1), code="unmatched-quote")
    if in_word:
        words.append("".join(cur))
    return words


def _expand_var(line, i, env, cur, words, problems):
    """Expand $NAME / ${NAME} / ${NAME-default} / ${NAME[*]} at line[i] (a '$' in double quotes)."""
    start = i
    i += 1
    brace = False
    if i < len(line) and line[i] == "{":
        brace = True
        i += 1
    if i < len(line) and line[i] == ".":
        m = re.match(r"\.[A-Za-z0-9_]*", line[i:])
    else:
        m = _VARNAME.match(line, i)
        m = m if m else None
    if not m:
        raise ConfigParseError("-", None, "invalid character in variable name at position %d" % (i + 1),
                               code="syntax")
    name = m.group(0)
    i = m.end() if not name.startswith(".") else i + len(name)
    word_expand = False
    default = None
    if brace:
        if line.startswith("[*]", i):
            word_expand = True
            i += 3
        if i < len(line) and line[i] == "-":
            close = line.find("}", i)
            if close < 0:
                raise ConfigParseError("-", None, "unmatched brace at position %d" % (start + 2), code="syntax")
            default = line[i + 1:close]
            i = close
        if i >= len(line) or line[i] != "}":
            raise ConfigParseError("-", None, "unmatched brace at position %d" % (start + 2), code="syntax")
        i += 1
    if env is None:
        cur.append(line[start:i])
        return i
    value = env.get(name)
    if value is None:
        value = default
        if value is None and problems is not None:
            problems.append(("warning", "env-unset",
                             "environment variable '%s' is not set: it expands to an empty string" % name))
    if value:
        if word_expand:
            parts = value.split()
            if parts:
                cur.append(parts[0])
                for part in parts[1:]:
                    words.append("".join(cur))
                    del cur[:]
                    cur.append(part)
        else:
            cur.append(value)
    return i


def env_expand(text, env):
    """HAProxy's env_expand() on addresses: $NAME and ${NAME} anywhere, no default value."""
    if env is None or "$" not in text:
        return text

    def repl(m):
        if m.group(1) and not m.group(3):
            # "${NAME" without its brace: HAProxy substitutes the name and keeps the rest
            return env.get(m.group(2), "")
        return env.get(m.group(2), "")

    return _ENV_IN_ADDRESS.sub(repl, text)


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

def parse_time_ms(text):
    """HAProxy time value (default unit ms; us, ms, s, m, h, d) in milliseconds, or None."""
    m = _TIME_RE.match(text or "")
    if not m:
        return None
    value = int(m.group(1)) * _TIME_UNITS[m.group(2)]
    return int(value) if value == int(value) else value


def canonical_ip(text):
    """Return (family, compressed form) of an IP literal, or (None, None)."""
    scope = ""
    if "%" in text:
        text, scope = text.split("%", 1)
        scope = "%" + scope
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None, None
    if ip.version == 4:
        return "ipv4", ip.compressed
    return "ipv6", ip.compressed + scope


def parse_address(raw, env=None, allow_offset=True, default_port=None, allow_range=False):
    """Parse a server/socket address the way HAProxy's str2sa_range() reads it.

    Returns a dict: address, family, port, port_offset, error (None when valid). The address
    is canonical for IP literals, as written for hostnames, the path for unix sockets.
    """
    out = {"address": None, "family": None, "port": default_port, "port_offset": None, "error": None}
    if env is None and "$" in raw:
        out.update(address=raw, family="env", port=None, env_dependent=True)
        return out
    text = env_expand(raw, env)
    forced = None
    m = re.match(r"^([a-z0-9]+)@", text)
    if m:
        prefix = m.group(1)
        if prefix not in _ADDR_PREFIXES:
            out["error"] = "unknown address family '%s@' in '%s'" % (prefix, raw)
            return out
        forced = _ADDR_PREFIXES[prefix] or "inet"
        text = text[m.end():]
        if forced in ("unix", "abns", "fd", "sockpair", "rhttp"):
            out["address"] = text
            out["family"] = forced
            out["port"] = None
            if not text:
                out["error"] = "missing address after '%s@'" % prefix
            return out
    elif text.startswith("/"):
        out["address"] = text
        out["family"] = "unix"
        out["port"] = None
        return out
    host = text
    port_str = None
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            out["error"] = "missing ']' in '%s'" % raw
            return out
        host = text[1:close]
        rest = text[close + 1:]
        if rest.startswith(":"):
            port_str = rest[1:]
        elif rest:
            out["error"] = "invalid address '%s'" % raw
            return out
    elif ":" in text:
        host, port_str = text.rsplit(":", 1)
    if port_str is not None and port_str != "":
        pm = _PORT_RE.match(port_str)
        rm = re.match(r"^(\d+)-(\d+)$", port_str) if allow_range else None
        if rm:
            out["port"] = int(rm.group(1))
            out["port_range"] = [int(rm.group(1)), int(rm.group(2))]
            pm = None
        elif not pm:
            if "-" in port_str.lstrip("+-"):
                out["error"] = "port range not permitted here in '%s'" % raw
            else:
                out["error"] = "invalid port '%s' in '%s'" % (port_str, raw)
            return out
        value = int(pm.group(2)) if pm else None
        if pm is None:
            pass
        elif pm.group(1):
            if not allow_offset:
                out["error"] = "port offset not permitted here in '%s'" % raw
                return out
            out["port"] = None
            out["port_offset"] = value if pm.group(1) == "+" else -value
        elif value > 65535:
            out["error"] = "invalid port '%s' in '%s'" % (port_str, raw)
            return out
        else:
            out["port"] = value if value else None
    else:
        out["port"] = default_port
    if host in ("", "*"):
        if forced == "ipv6":
            out["address"], out["family"] = "::", "ipv6"
        else:
            out["address"], out["family"] = "0.0.0.0", "ipv4"
        return out
    family, canon = canonical_ip(host)
    if family:
        if forced in ("ipv4", "ipv6") and forced != family:
            out["error"] = "address '%s' is not %s" % (host, forced)
            return out
        out["address"], out["family"] = canon, family
        return out
    if _HOSTNAME_RE.match(host):
        out["address"], out["family"] = host, "hostname"
        if forced in ("ipv4", "ipv6"):
            out["resolve_family"] = forced
        return out
    out["address"], out["family"] = host, "hostname"
    out["error"] = "could not resolve address '%s'" % host
    return out


# --------------------------------------------------------------------------------------------
# Conditions (.if / .elif)
# --------------------------------------------------------------------------------------------

class _Unknown(Exception):
    """A condition term that cannot be decided here (offline, unknown feature list...)."""


def _version_tuple(text):
    nums = re.findall(r"\d+", text or "")
    return tuple(int(x) for x in nums[:4]) if nums else None


def evaluate_condition(words, env, features, version):
    """Evaluate the words of an `.if` line. Returns True/False or raises _Unknown(reason)."""
    text = " ".join(words)
    tokens = re.findall(r"\|\||&&|!|\(|\)|[A-Za-z_]+\([^()]*\)|[^\s()!&|]+", text)
    pos = [0]

    def peek():
        return tokens[pos[0]] if pos[0] < len(tokens) else None

    def take():
        tok = peek()
        pos[0] += 1
        return tok

    def term():
        tok = take()
        if tok is None:
            raise ValueError("missing condition")
        if tok == "!":
            return not term()
        if tok == "(":
            value = expr()
            if take() != ")":
                raise ValueError("missing ')'")
            return value
        return _term_value(tok, env, features, version)

    def conj():
        value = term()
        while peek() == "&&":
            take()
            right = term()
            value = value and right
        return value

    def expr():
        value = conj()
        while peek() == "||":
            take()
            right = conj()
            value = value or right
        return value

    result = expr()
    if peek() is not None:
        raise ValueError("unexpected '%s' in condition" % peek())
    return result


def _term_value(tok, env, features, version):
    m = re.match(r"^([A-Za-z_]+)\((.*)\)$", tok)
    if not m:
        if re.match(r"^-?\d+$", tok):
            return int(tok) != 0
        return bool(tok)
    func, arg = m.group(1), m.group(2)
    args = [a.strip() for a in arg.split(",")] if arg else []
    if func == "defined":
        if env is None:
            raise _Unknown("the environment of the HAProxy process is not known")
        return bool(args) and args[0] in env
    if func == "feature":
        if features is None:
            raise _Unknown("the feature list of the HAProxy binary is not known")
        return bool(args) and args[0] in features
    if func in ("streq", "strneq", "strstr"):
        if len(args) != 2:
            raise ValueError("%s() takes two arguments" % func)
        if func == "streq":
            return args[0] == args[1]
        if func == "strneq":
            return args[0] != args[1]
        return args[1] in args[0]
    if func in ("version_atleast", "version_before"):
        have = _version_tuple(version)
        want = _version_tuple(args[0] if args else "")
        if have is None:
            raise _Unknown("the HAProxy version is not known")
        if want is None:
            raise ValueError("%s() needs a version" % func)
        length = max(len(have), len(want))
        have = have + (0,) * (length - len(have))
        want = want + (0,) * (length - len(want))
        return have >= want if func == "version_atleast" else have < want
    if func == "enabled":
        raise _Unknown("enabled() depends on runtime options")
    raise _Unknown("%s() is not evaluated by lbdoctor" % func)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------

def _new_defsrv():
    return {
        "check": False, "check_port": None, "check_addr": None, "source": None, "source_raw": None,
        "inter_ms": DEFAULT_INTER_MS, "fastinter_ms": None, "downinter_ms": None,
        "fall": DEFAULT_FALL, "rise": DEFAULT_RISE, "disabled": False, "backup": False,
        "weight": None, "maxconn": None, "ssl": False, "check_ssl": False, "send_proxy": False,
        "agent_check": False, "agent_port": None, "init_addr": None, "resolvers": None,
        "resolve_prefer": None, "track": None, "check_proto": None, "on_marked_down": None,
        "observe": None, "slowstart_ms": None,
    }


def _new_proxy_settings():
    return {
        "mode": "tcp", "defsrv": _new_defsrv(), "httpchk": None, "http_check": [], "check_type": None,
        "timeout_connect_ms": None, "timeout_check_ms": None, "timeout_server_ms": None,
        "source": None, "source_raw": None, "log_health_checks": False, "balance": None,
        "logs": [],
    }


def _copy_settings(settings):
    new = dict(settings)
    new["defsrv"] = dict(settings["defsrv"])
    new["http_check"] = list(settings["http_check"])
    new["httpchk"] = dict(settings["httpchk"]) if settings["httpchk"] else None
    new["logs"] = list(settings["logs"])
    return new


class _Parser(object):
    def __init__(self, env, features, version):
        self.env = env
        self.features = features
        self.version = version
        self.errors = []
        self.warnings = []
        self.stats_sockets = []
        self.backends = []
        self.frontends = []
        self.resolvers = []
        self.global_logs = []
        self.global_log_tag = None
        self.conditionals = []
        self.anon_defaults = _new_proxy_settings()
        self.named_defaults = {}
        self.section = None
        self.proxy = None
        self.settings = None
        self.raw_line = ""
        self.peers_defsrv = set()  # check/agent-check/init-addr/resolvers of a peers default-server

    # -- reporting ---------------------------------------------------------------------------
    def error(self, source, line, message, code="parse-error"):
        self.errors.append({"file": source, "line": line, "message": message, "code": code})

    def warning(self, source, line, message, code="warning"):
        self.warnings.append({"file": source, "line": line, "message": message, "code": code})

    def _report(self, source, lineno, problems):
        for severity, code, message in problems:
            if severity == "error":
                self.error(source, lineno, message, code)
            else:
                self.warning(source, lineno, message, code)

    # -- files -------------------------------------------------------------------------------
    def feed(self, source, text):
        if "\0" in text:
            lineno = text.count("\n", 0, text.index("\0")) + 1
            self.error(source, lineno, "binary content (NUL byte): not a configuration file", "binary")
            return
        controls = _CONTROL_CHARS.search(text)
        if controls:
            count = len(_CONTROL_CHARS.findall(text))
            if count > BINARY_CONTROL_SHARE * len(text):
                lineno = text.count("\n", 0, controls.start()) + 1
                self.error(source, lineno, "binary content (control character 0x%02X on this line; %d of %d "
                           "characters are control characters): not a configuration file"
                           % (ord(controls.group(0)), count, len(text)), "binary")
                return
        undecodable = _SURROGATES.search(text) is not None
        encoding_warnings = [0]
        self.section = None
        self.proxy = None
        cond_stack = []  # entries: [active_now, any_taken, parent_active, line]
        # HAProxy reads lines up to LF only (str.splitlines() would also split on VT, FF, U+2028...)
        crlf = "\r" in text
        for lineno, line in enumerate(text.split("\n"), 1):
            if crlf and line.endswith("\r"):
                line = line[:-1]
            stripped = line.lstrip(" \t")
            if not stripped or stripped[0] == "#":
                continue
            if controls and _CONTROL_CHARS.search(line):
                char = _CONTROL_CHARS.search(line).group(0)
                self.warning(source, lineno, "control character 0x%02X in this line (HAProxy keeps it as part of a "
                             "word); was the file edited with a binary tool?" % ord(char), "control-character")
            if undecodable and _SURROGATES.search(line):
                line = self._undecodable(source, lineno, line, encoding_warnings)
                stripped = line.lstrip(" \t")
            active = all(entry[0] for entry in cond_stack)
            if stripped[0] == ".":
                self._directive(source, lineno, stripped, cond_stack, active)
                continue
            if not active:
                continue
            problems = []
            try:
                words = tokenize(line, self.env, problems)
            except ConfigParseError as exc:
                self.error(source, lineno, exc.message, exc.code)
                continue
            self._report(source, lineno, problems)
            if not words:
                continue
            if len(words) > MAX_LINE_ARGS:
                self.error(source, lineno, "too many words, truncating after word %d" % MAX_LINE_ARGS,
                           "too-many-words")
                words = words[:MAX_LINE_ARGS]
            self.raw_line = line
            self._line(source, lineno, words, line)
        for entry in cond_stack:
            self.error(source, entry[3], "missing '.endif' for this '.if' at end of file", "conditional")
        if encoding_warnings[0] > MAX_ENCODING_WARNINGS:
            self.warning(source, None, "%d more lines with bytes that are not UTF-8 (not listed one by one)"
                         % (encoding_warnings[0] - MAX_ENCODING_WARNINGS), "encoding")
        self._end_section()

    def _undecodable(self, source, lineno, line, counter):
        """A line with bytes that are not UTF-8 (lone surrogates): the line with U+FFFD in their place.

        Warns (file and line) when such a byte is in what HAProxy reads, not in a trailing comment.
        """
        try:
            words = tokenize(line, None)
            in_words = any(_SURROGATES.search(word) for word in words)
        except ConfigParseError:
            in_words = True
        if in_words:
            counter[0] += 1
            if counter[0] <= MAX_ENCODING_WARNINGS:
                found = _SURROGATES.search(line)
                values = []
                for char in _SURROGATES.findall(line):
                    code = ord(char)
                    label = "0x%02X" % (code - 0xDC00) if 0xDC80 <= code <= 0xDCFF else "U+%04X" % code
                    if label not in values:
                        values.append(label)
                self.warning(source, lineno, "bytes that are not UTF-8 (%s, first at column %d): HAProxy uses them "
                             "as they are, lbdoctor shows them as U+FFFD" % (", ".join(values[:8]), found.start() + 1),
                             "encoding")
        return replace_surrogates(line)

    def _directive(self, source, lineno, stripped, cond_stack, active):
        try:
            words = tokenize(stripped, self.env if active else None, [])
        except ConfigParseError as exc:
            if active:
                self.error(source, lineno, exc.message, exc.code)
            return
        kw = words[0] if words else stripped.split()[0]
        if kw == ".if":
            if not active:
                cond_stack.append([False, True, False, lineno])
                return
            value = self._condition(source, lineno, words)
            cond_stack.append([value, value, True, lineno])
        elif kw == ".elif":
            if not cond_stack:
                self.error(source, lineno, "'.elif' without matching '.if'", "conditional")
                return
            entry = cond_stack[-1]
            if not entry[2] or entry[1]:
                entry[0] = False
                return
            value = self._condition(source, lineno, words)
            entry[0] = value
            entry[1] = value
        elif kw == ".else":
            if not cond_stack:
                self.error(source, lineno, "'.else' without matching '.if'", "conditional")
                return
            entry = cond_stack[-1]
            entry[0] = entry[2] and not entry[1]
            entry[1] = True
        elif kw == ".endif":
            if not cond_stack:
                self.error(source, lineno, "'.endif' without matching '.if'", "conditional")
                return
            cond_stack.pop()
        elif not active:
            return
        elif kw in (".diag", ".notice"):
            return
        elif kw == ".warning":
            self.warning(source, lineno, " ".join(words[1:]), "directive")
        elif kw == ".alert":
            self.error(source, lineno, " ".join(words[1:]), "directive")
        else:
            self.error(source, lineno, "unknown directive '%s'" % kw, "unknown-keyword")

    def _condition(self, source, lineno, words):
        text = " ".join(words[1:])
        record = {"file": source, "line": lineno, "condition": text, "value": None}
        self.conditionals.append(record)
        try:
            value = evaluate_condition(words[1:], self.env, self.features, self.version)
        except _Unknown as exc:
            self.warning(source, lineno, "cannot evaluate '%s' (%s): its block is kept as if true" % (text, exc),
                         "conditional-unknown")
            return True
        except ValueError as exc:
            self.error(source, lineno, "invalid condition '%s': %s" % (text, exc), "conditional")
            return False
        record["value"] = value
        return value

    # -- lines -------------------------------------------------------------------------------
    def _line(self, source, lineno, words, raw):
        kw = words[0]
        if kw in SECTIONS:
            self._start_section(source, lineno, words)
            return
        if self.section is None:
            self.error(source, lineno, "unknown keyword '%s' out of section" % kw, "unknown-keyword")
            return
        if self.section == "global":
            self._global_line(source, lineno, words)
        elif self.section in PROXY_SECTIONS:
            self._proxy_line(source, lineno, words)
        elif self.section == "resolvers":
            if kw == "nameserver" and len(words) >= 3 and self.resolvers:
                addr = parse_address(words[2], self.env)
                self.resolvers[-1]["nameservers"].append({
                    "name": words[1], "address": addr["address"], "family": addr["family"],
                    "port": addr["port"], "file": source, "line": lineno})
            elif kw == "parse-resolv-conf" and self.resolvers:
                self.resolvers[-1]["parse_resolv_conf"] = True
        elif self.section == "peers" and kw in ("server", "default-server"):
            self._peers_server(source, lineno, words)
        # other sections (ring, userlist, cache...) hold nothing about backend servers

    def _peers_server(self, source, lineno, words):
        """A `server` of a peers section is a peer, not a backend server: HAProxy 2.6 warns when
        it has check, agent-check, init-addr or resolvers (they are ignored), so do we."""
        is_server = words[0] == "server"
        args = words[3:] if is_server else words[1:]
        flags = set(self.peers_defsrv)
        i = 0
        while i < len(args):
            kw = args[i]
            nargs = _server_keyword_nargs(kw)
            if nargs is None:
                break  # HAProxy refuses the line; nothing more to say about it here
            if kw in ("check", "agent-check", "init-addr", "resolvers"):
                flags.add(kw)
            elif kw in ("no-check", "no-agent-check"):
                flags.discard(kw[3:])
            if nargs == -1:  # source <addr> [usesrc <x>] [interface <name>]
                i += 2
                while i + 1 < len(args) and args[i] in ("usesrc", "interface"):
                    i += 2
                continue
            i += 1 + nargs
        if not is_server:
            self.peers_defsrv = flags
        elif flags and len(words) > 1:
            self.warning(source, lineno, "'server %s' : init_addr, resolvers, check and agent are ignored for peers "
                         "(%s)." % (words[1], ", ".join(sorted(flags))), "ignored-for-peers")

    def _start_section(self, source, lineno, words):
        self._end_section()
        kind = words[0]
        self.section = kind
        self.proxy = None
        self.peers_defsrv = set()
        if kind == "global":
            if len(words) > 1:
                self.error(source, lineno, "'global' cannot handle unexpected argument '%s'." % words[1],
                           "unexpected-argument")
            return
        if kind == "resolvers":
            self.resolvers.append({"name": words[1] if len(words) > 1 else None, "nameservers": [],
                                   "parse_resolv_conf": False, "file": source, "line": lineno})
            return
        if kind not in PROXY_SECTIONS:
            return
        name = None
        from_name = None
        rest = words[1:]
        if rest and rest[0] != "from":
            name = rest.pop(0)
        if rest and rest[0] == "from":
            if len(rest) < 2:
                self.error(source, lineno, "'from' expects a defaults section name", "syntax")
            else:
                from_name = rest[1]
            rest = rest[2:]
        if rest:
            self.error(source, lineno, "'%s' cannot handle unexpected argument '%s'." % (kind, rest[0]),
                       "unexpected-argument")
        bad = _invalid_name_char(name or "")
        if bad:
            self.error(source, lineno, "character '%s' is not permitted in '%s' name '%s'." % (bad, kind, name),
                       "invalid-name")
        if kind != "defaults" and not name:
            self.error(source, lineno, "'%s' expects <name> as an argument." % kind, "syntax")
            name = ""
        if from_name is not None:
            base = self.named_defaults.get(from_name)
            if base is None:
                self.error(source, lineno, "defaults section '%s' not found for '%s %s'" % (from_name, kind, name or ""),
                           "unknown-defaults")
                base = self.anon_defaults
        elif kind == "defaults":
            base = _new_proxy_settings()  # a new defaults section starts from HAProxy's built-in values
        else:
            base = self.anon_defaults
        settings = _copy_settings(base)
        self.settings = settings
        self.proxy = {"kind": kind, "name": name, "file": source, "line": lineno, "from": from_name,
                      "servers": [], "binds": [], "default_backend": None, "use_backends": [],
                      "disabled": False}
        if kind == "defaults":
            if name:
                self.named_defaults[name] = settings
            # Every defaults section (named or not) becomes the default of what follows.
            self.anon_defaults = settings

    def _end_section(self):
        proxy = self.proxy
        if proxy is None or proxy["kind"] == "defaults":
            self.proxy = None
            return
        settings = self.settings
        if proxy["kind"] in ("backend", "listen"):
            entry = {
                "name": proxy["name"], "kind": proxy["kind"], "file": proxy["file"], "line": proxy["line"],
                "mode": settings["mode"], "defaults": proxy["from"], "disabled": proxy["disabled"],
                "balance": settings["balance"], "check_type": _check_type(settings),
                "httpchk": settings["httpchk"], "http_check": settings["http_check"],
                "timeout_connect_ms": settings["timeout_connect_ms"],
                "timeout_check_ms": settings["timeout_check_ms"],
                "timeout_server_ms": settings["timeout_server_ms"],
                "log_health_checks": settings["log_health_checks"],
                "source": settings["source"],
                "servers": proxy["servers"],
            }
            if proxy["kind"] == "listen":
                entry["binds"] = proxy["binds"]
            self.backends.append(entry)
        if proxy["kind"] in ("frontend", "listen"):
            self.frontends.append({
                "name": proxy["name"], "kind": proxy["kind"], "file": proxy["file"], "line": proxy["line"],
                "mode": settings["mode"], "binds": proxy["binds"], "default_backend": proxy["default_backend"],
                "use_backends": proxy["use_backends"],
            })
        self.proxy = None

    def _global_line(self, source, lineno, words):
        kw = words[0]
        if kw == "stats" and len(words) >= 2 and words[1] == "socket":
            self._stats_socket(source, lineno, words)
            return
        if kw == "log":
            self.global_logs.append({"target": words[1] if len(words) > 1 else None, "args": words[2:],
                                     "file": source, "line": lineno})
            return
        if kw == "log-tag" and len(words) > 1:
            # the syslog tag (rsyslog's programname) HAProxy sends instead of its process name
            self.global_log_tag = {"tag": words[1], "file": source, "line": lineno}
            return
        if kw in ("setenv", "presetenv") and len(words) >= 3 and self.env is not None:
            if kw == "setenv" or words[1] not in self.env:
                self.env = dict(self.env)
                self.env[words[1]] = words[2]
            return
        if kw == "unsetenv" and self.env is not None:
            self.env = dict((k, v) for k, v in self.env.items() if k not in words[1:])
            return
        if kw in GLOBAL_KEYWORDS or kw.startswith(GLOBAL_KEYWORD_PREFIXES):
            if kw == "nbproc":
                self.error(source, lineno, "'nbproc' is not supported any more since HAProxy 2.5", "removed-keyword")
            return
        self.error(source, lineno, "unknown keyword '%s' in 'global' section" % kw, "unknown-keyword")

    def _stats_socket(self, source, lineno, words):
        if len(words) < 3:
            self.error(source, lineno, "'stats socket' requires a path or an address", "syntax")
            return
        addr = parse_address(words[2], self.env, allow_offset=False)
        params = words[3:]
        level = DEFAULT_STATS_LEVEL
        level_set = False
        mode = None
        i = 0
        while i < len(params):
            if params[i] == "level" and i + 1 < len(params):
                level = params[i + 1]
                level_set = True
                i += 2
                continue
            if params[i] == "mode" and i + 1 < len(params):
                mode = params[i + 1]
                i += 2
                continue
            i += 1
        if addr["error"]:
            self.error(source, lineno, "stats socket: %s" % addr["error"], "address")
        if addr["family"] in ("ipv4", "ipv6", "hostname") and addr["port"] is None and not addr["error"]:
            self.error(source, lineno, "stats socket: missing port specification in '%s'" % words[2], "address")
        self.stats_sockets.append({
            "address": addr["address"], "family": addr["family"], "port": addr["port"], "level": level,
            "level_set": level_set, "mode": mode, "address_raw": words[2], "file": source, "line": lineno})

    def _proxy_line(self, source, lineno, words):
        kw = words[0]
        proxy = self.proxy
        settings = self.settings
        kind = proxy["kind"]
        if kw in ("server", "server-template"):
            if kind in ("frontend", "defaults"):
                self.error(source, lineno, "'%s' not allowed in '%s' section" % (kw, kind), "not-allowed")
                return
            if kw == "server":
                self._server(source, lineno, words)
            else:
                self._server_template(source, lineno, words)
            return
        if kw == "default-server":
            if kind == "frontend":
                self.error(source, lineno, "'default-server' not allowed in 'frontend' section", "not-allowed")
                return
            self._apply_server_keywords(source, lineno, settings["defsrv"], words[1:], "default-server")
            return
        if kw == "mode" and len(words) > 1:
            if words[1] not in ("tcp", "http", "health", "log", "spop"):
                self.error(source, lineno, "unknown proxy mode '%s'" % words[1], "syntax")
            settings["mode"] = words[1]
            return
        if kw == "bind":
            if kind in ("backend", "defaults"):
                self.error(source, lineno, "'bind' not allowed in '%s' section" % kind, "not-allowed")
                return
            for part in (words[1] if len(words) > 1 else "").split(","):
                addr = parse_address(part, self.env, allow_offset=False, allow_range=True)
                if addr["error"]:
                    self.error(source, lineno, "'bind' : %s" % addr["error"], "address")
                elif addr["family"] in ("ipv4", "ipv6", "hostname") and addr["port"] is None:
                    self.error(source, lineno, "'bind' : missing port specification in '%s'" % part, "address")
                proxy["binds"].append({"address_raw": part, "address": addr["address"], "family": addr["family"],
                                       "port": addr["port"], "file": source, "line": lineno})
            return
        if kw == "option" or (kw in ("no", "default") and len(words) > 2 and words[1] == "option"):
            negate = kw == "no"
            opt = words[1:] if kw == "option" else words[2:]
            self._option(settings, opt, negate)
            return
        if kw == "http-check" and len(words) > 1:
            settings["http_check"].append({"args": words[1:], "file": source, "line": lineno})
            if words[1] == "send" and settings["httpchk"] is not None:
                _apply_http_check_send(settings["httpchk"], words[2:])
            elif words[1] == "expect" and settings["httpchk"] is not None:
                settings["httpchk"]["expect"] = " ".join(words[2:])
            return
        if kw == "timeout" and len(words) >= 3:
            value = parse_time_ms(words[2])
            if value is None and "$" not in words[2]:
                self.error(source, lineno, "invalid time value '%s' for 'timeout %s'" % (words[2], words[1]), "syntax")
            key = {"connect": "timeout_connect_ms", "check": "timeout_check_ms",
                   "server": "timeout_server_ms"}.get(words[1])
            if key:
                settings[key] = value
            return
        if kw in ("contimeout", "srvtimeout", "clitimeout"):
            self.error(source, lineno, "the '%s' keyword was removed in HAProxy 2.1, use 'timeout %s' instead"
                       % (kw, {"contimeout": "connect", "srvtimeout": "server", "clitimeout": "client"}[kw]),
                       "removed-keyword")
            return
        if kw == "source" and len(words) > 1:
            if kind == "frontend":
                self.error(source, lineno, "'source' not allowed in 'frontend' section", "not-allowed")
                return
            addr = parse_address(words[1], self.env, allow_offset=False)
            settings["source"] = addr["address"]
            settings["source_raw"] = " ".join(words[1:])
            return
        if kw == "balance" and len(words) > 1:
            settings["balance"] = " ".join(words[1:])
            return
        if kw == "log":
            settings["logs"].append({"target": words[1] if len(words) > 1 else None, "args": words[2:],
                                     "file": source, "line": lineno})
            return
        if kw == "default_backend" and len(words) > 1:
            proxy["default_backend"] = words[1]
            return
        if kw == "use_backend" and len(words) > 1:
            proxy["use_backends"].append(words[1])
            return
        if kw == "disabled":
            proxy["disabled"] = True
            return
        if kw in REMOVED_PROXY_KEYWORDS:
            self.error(source, lineno, "the '%s' keyword is not supported any more since HAProxy 2.1; "
                       "use 'http-request'/'http-response' rules instead" % kw, "removed-keyword")
            return
        if kw not in PROXY_KEYWORDS:
            self.error(source, lineno, "unknown keyword '%s' in '%s' section" % (kw, kind), "unknown-keyword")

    def _option(self, settings, opt, negate):
        if not opt:
            return
        name = opt[0]
        if name == "httpchk":
            if negate:
                settings["httpchk"] = None
                if settings["check_type"] == "http":
                    settings["check_type"] = None
                return
            chk = {"method": "OPTIONS", "uri": "/", "version": "HTTP/1.0", "host": None, "expect": None}
            args = opt[1:]
            if len(args) == 1:
                chk["uri"] = args[0]
            elif len(args) >= 2:
                chk["method"], chk["uri"] = args[0], args[1]
                if len(args) >= 3:
                    version = args[2]
                    # historical trick: "HTTP/1.1\r\nHost:\ example.com"
                    if "\r\n" in version:
                        version, extra = version.split("\r\n", 1)
                        hm = re.match(r"(?i)host:\s*(\S+)", extra)
                        if hm:
                            chk["host"] = hm.group(1)
                    chk["version"] = version
            settings["httpchk"] = chk
            settings["check_type"] = "http"
        elif name in ("tcp-check", "ssl-hello-chk", "mysql-check", "pgsql-check", "redis-check",
                      "ldap-check", "smtpchk", "spop-check", "external-check"):
            settings["check_type"] = None if negate else name
            if not negate:
                settings["httpchk"] = None
        elif name == "log-health-checks":
            settings["log_health_checks"] = not negate

    # -- servers -----------------------------------------------------------------------------
    def _server(self, source, lineno, words):
        if len(words) < 3:
            self.error(source, lineno, "'server' expects <name> and <addr>[:<port>] as arguments.", "syntax")
            return
        name, addr_word = words[1], words[2]
        raw_addr = self._raw_word(2, addr_word)
        bad = _invalid_name_char(name)
        if bad:
            self.error(source, lineno, "character '%s' is not permitted in server name '%s'." % (bad, name),
                       "invalid-name")
        entry = self._make_server(source, lineno, name, addr_word, raw_addr, words[3:], "server")
        if entry is not None:
            self.proxy["servers"].append(entry)

    def _raw_word(self, index, fallback):
        """The word as written (before double-quote ${VAR} expansion); address_raw keeps it."""
        if "$" not in self.raw_line:
            return fallback
        try:
            raw_words = tokenize(self.raw_line, None)
        except ConfigParseError:
            return fallback
        return raw_words[index] if len(raw_words) > index else fallback

    def _server_template(self, source, lineno, words):
        if len(words) < 4:
            self.error(source, lineno, "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments.",
                       "syntax")
            return
        prefix, count, addr_word = words[1], words[2], words[3]
        raw_addr = self._raw_word(3, addr_word)
        m = re.match(r"^(\d+)(?:-(\d+))?$", count)
        if not m:
            self.error(source, lineno, "invalid range '%s' for 'server-template'" % count, "syntax")
            return
        first, last = (1, int(m.group(1))) if m.group(2) is None else (int(m.group(1)), int(m.group(2)))
        if last < first:
            self.error(source, lineno, "invalid range '%s' for 'server-template'" % count, "syntax")
            return
        base = self._make_server(source, lineno, prefix + str(first), addr_word, raw_addr, words[4:],
                                 "server-template")
        if base is None:
            return
        for index in range(first, last + 1):
            entry = dict(base)
            entry["name"] = prefix + str(index)
            entry["template"] = prefix
            self.proxy["servers"].append(entry)

    def _make_server(self, source, lineno, name, addr_word, raw_addr, args, kw):
        settings = dict(self.settings["defsrv"])
        self._apply_server_keywords(source, lineno, settings, args, "%s %s/%s" % (kw, self.proxy["name"], name))
        addr = parse_address(addr_word, self.env)
        if addr["error"]:
            self.error(source, lineno, "'server %s/%s' : %s" % (self.proxy["name"], name, addr["error"]), "address")
        if addr.get("env_dependent"):
            self.warning(source, lineno, "the address of server '%s/%s' depends on environment variables ('%s'), "
                         "which are not known here" % (self.proxy["name"], name, raw_addr), "env-unknown")
        source_addr = settings["source"]
        source_raw = settings["source_raw"]
        if source_addr is None and self.settings["source"] is not None:
            source_addr = self.settings["source"]
            source_raw = self.settings["source_raw"]
        check_port = settings["check_port"]
        check_addr = settings["check_addr"]
        entry = {
            "name": name,
            "address": addr["address"],
            "address_raw": raw_addr,
            "family": addr["family"],
            "port": addr["port"],
            "port_offset": addr["port_offset"],
            "check": settings["check"],
            "check_port": check_port,
            "check_addr": check_addr,
            "source": source_addr,
            "source_raw": source_raw,
            "inter_ms": settings["inter_ms"],
            "fastinter_ms": settings["fastinter_ms"],
            "downinter_ms": settings["downinter_ms"],
            "fall": settings["fall"],
            "rise": settings["rise"],
            "disabled": settings["disabled"],
            "backup": settings["backup"],
            "weight": settings["weight"],
            "maxconn": settings["maxconn"],
            "ssl": settings["ssl"],
            "check_ssl": settings["check_ssl"],
            "send_proxy": settings["send_proxy"],
            "agent_check": settings["agent_check"],
            "agent_port": settings["agent_port"],
            "init_addr": settings["init_addr"],
            "resolvers": settings["resolvers"],
            "resolve_prefer": settings["resolve_prefer"],
            "track": settings["track"],
            "observe": settings["observe"],
            "on_marked_down": settings["on_marked_down"],
            "check_address_effective": check_addr if check_addr is not None else addr["address"],
            "check_port_effective": check_port if check_port is not None else addr["port"],
            "template": None,
            "address_error": addr["error"],
            "file": source,
            "line": lineno,
        }
        if addr.get("resolve_family"):
            entry["resolve_family"] = addr["resolve_family"]
        return entry

    def _apply_server_keywords(self, source, lineno, settings, args, what):
        """Apply server keywords in order onto ``settings``. Returns False after an error."""
        i = 0
        n = len(args)
        while i < n:
            kw = args[i]
            nargs = _server_keyword_nargs(kw)
            if nargs is None:
                self.error(source, lineno, "'%s' unknown keyword '%s'." % (what, kw), "unknown-keyword")
                return False
            if nargs == -1:  # source <addr> [usesrc <x>] [interface <name>]
                if i + 1 >= n:
                    self.error(source, lineno, "'%s' : '%s' expects <addr>[:<port>] as argument." % (what, kw),
                               "missing-argument")
                    return False
                j = i + 2
                while j + 1 < n and args[j] in ("usesrc", "interface"):
                    j += 2
                addr = parse_address(args[i + 1], self.env, allow_offset=False, allow_range=True)
                if addr["error"]:
                    self.error(source, lineno, "'%s' : source: %s" % (what, addr["error"]), "address")
                for k in range(i + 2, j, 2):
                    if args[k] == "usesrc" and args[k + 1] not in ("client", "clientip") \
                            and not args[k + 1].startswith("hdr_ip("):
                        usesrc = parse_address(args[k + 1], self.env, allow_offset=False)
                        if usesrc["error"]:
                            self.error(source, lineno, "'%s' : usesrc: %s" % (what, usesrc["error"]), "address")
                settings["source"] = addr["address"]
                settings["source_raw"] = " ".join(args[i + 1:j])
                i = j
                continue
            if nargs and i + nargs >= n:
                self.error(source, lineno, "'%s' : '%s' expects an argument." % (what, kw), "missing-argument")
                return False
            value = args[i + 1] if nargs else None
            if not self._server_keyword(source, lineno, settings, kw, value, what):
                return False
            i += 1 + nargs
        return True

    def _server_keyword(self, source, lineno, settings, kw, value, what):
        if kw == "check":
            settings["check"] = True
        elif kw == "no-check":
            settings["check"] = False
        elif kw == "backup":
            settings["backup"] = True
        elif kw == "no-backup":
            settings["backup"] = False
        elif kw == "disabled":
            settings["disabled"] = True
        elif kw == "enabled":
            settings["disabled"] = False
        elif kw in ("inter", "fastinter", "downinter", "slowstart"):
            ms = parse_time_ms(value)
            if ms is None or (kw != "slowstart" and ms == 0):
                self.error(source, lineno, "'%s' : invalid time value '%s' for '%s'." % (what, value, kw), "syntax")
                return False
            settings[kw + "_ms"] = ms
        elif kw in ("fall", "rise", "weight", "maxconn", "agent-port"):
            if not value.isdigit() or (kw in ("fall", "rise") and int(value) == 0):
                self.error(source, lineno, "'%s' : '%s' expects a positive integer, got '%s'." % (what, kw, value),
                           "syntax")
                return False
            settings[kw.replace("-", "_")] = int(value)
        elif kw == "port":
            if not value.isdigit() or not 0 < int(value) < 65536:
                self.error(source, lineno, "'%s' : invalid health check port '%s'." % (what, value), "syntax")
                return False
            settings["check_port"] = int(value)
        elif kw == "addr":
            addr = parse_address(value, self.env, allow_offset=False)
            if addr["error"]:
                self.error(source, lineno, "'%s' : addr: %s" % (what, addr["error"]), "address")
                return False
            settings["check_addr"] = addr["address"]
        elif kw in ("ssl", "check-ssl"):
            settings[kw.replace("-", "_")] = True
        elif kw in ("no-ssl", "no-check-ssl"):
            settings[kw[3:].replace("-", "_")] = False
        elif kw in ("send-proxy", "send-proxy-v2", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn"):
            settings["send_proxy"] = kw
        elif kw.startswith("no-send-proxy"):
            settings["send_proxy"] = False
        elif kw == "agent-check":
            settings["agent_check"] = True
        elif kw == "no-agent-check":
            settings["agent_check"] = False
        elif kw in ("init-addr", "resolvers", "resolve-prefer", "track", "observe", "on-marked-down",
                    "check-proto"):
            settings[kw.replace("-", "_")] = value
        elif kw == "socks4":
            addr = parse_address(value, self.env, allow_offset=False)
            if addr["error"] or (addr["port"] is None and not addr.get("env_dependent")):
                self.error(source, lineno, "'%s' : socks4: %s" % (
                    what, addr["error"] or "missing port specification in '%s'" % value), "address")
                return False
        elif kw == "usesrc":
            self.error(source, lineno, "'%s' : 'usesrc' only allowed after a 'source' address." % what, "syntax")
            return False
        return True


def _invalid_name_char(name):
    """HAProxy names allow letters, digits, '-', '_', '.' and ':' (invalid_char())."""
    for c in name:
        if not (c.isalnum() or c in "-_.:"):
            return c
    return None


def _apply_http_check_send(chk, args):
    i = 0
    while i + 1 < len(args):
        key, value = args[i], args[i + 1]
        if key == "meth":
            chk["method"] = value
        elif key == "uri":
            chk["uri"] = value
        elif key == "ver":
            chk["version"] = value
        elif key == "hdr" and i + 2 < len(args):
            if value.lower() == "host":
                chk["host"] = args[i + 2]
            i += 1
        i += 2


def _check_type(settings):
    if settings["check_type"]:
        return settings["check_type"]
    return "tcp"


def parse_config(sources, env=None, features=None, version=None):
    """Parse configuration files given in load order.

    ``sources``: list of ``(path, text)``; ``text`` is str or bytes (UTF-8; bytes that are not
    UTF-8, and lone surrogates of a str decoded with ``surrogateescape``, become U+FFFD with an
    ``encoding`` warning naming file and line); None means unreadable (then give
    ``(path, None, reason)``). ``env``: the HAProxy process environment (None: unknown, ``${VAR}``
    kept as written). ``features``: set of feature names from ``haproxy -vv`` (None: unknown).
    ``version``: HAProxy version string for version_atleast()/version_before().
    Returns the ``config`` dict of the facts (without ``source``).
    """
    parser = _Parser(dict(env) if env is not None else None, set(features) if features is not None else None,
                     version)
    files = []
    for item in sources:
        path, text = item[0], item[1]
        path = replace_surrogates(path)  # a file name that is not UTF-8
        files.append(path)
        if text is None:
            reason = item[2] if len(item) > 2 else "unreadable"
            parser.error(path, None, "cannot read configuration file: %s" % reason, "unreadable")
            continue
        if isinstance(text, bytes):
            # undecodable bytes become lone surrogates here; feed() reports and replaces them
            text = text.decode("utf-8", "surrogateescape")
        if text.startswith("\ufeff"):
            text = text[1:]
        parser.feed(path, text)
    return {
        "files": files,
        "errors": parser.errors,
        "warnings": parser.warnings,
        "stats_sockets": parser.stats_sockets,
        "backends": parser.backends,
        "frontends": parser.frontends,
        "resolvers": parser.resolvers,
        "logs": parser.global_logs,
        "log_tag": parser.global_log_tag,
        "conditionals": parser.conditionals,
    }
