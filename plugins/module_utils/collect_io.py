# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How collectors call a tool or read a file without letting a missing one stop the others.

Collectors take ``run(argv) -> (rc, out, err)`` and ``read(path) -> text`` callables (so tests
feed captured output); these helpers turn "not installed" and "not readable" into values the
collector records in its ``unavailable`` list. Standard library only, Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno


def run_tool(run, argv):
    """(rc, out, err), or None when the tool is not installed (rc 127, ENOENT or EACCES)."""
    try:
        rc, out, err = run(list(argv))
    except (IOError, OSError) as exc:
        if getattr(exc, "errno", None) in (errno.ENOENT, errno.EACCES, None):
            return None
        raise
    if rc == 127:
        return None
    return rc, out or "", err or ""


def read_text(read, path):
    """(text, None) or (None, exception); a None return counts as a missing file."""
    try:
        text = read(path)
    except (IOError, OSError) as exc:
        return None, exc
    if text is None:
        return None, OSError(errno.ENOENT, "No such file or directory", path)
    return text, None


def os_reason(exc):
    """"ENOENT: No such file or directory" style text for an OSError, else its message."""
    code = getattr(exc, "errno", None)
    if code is not None and code in errno.errorcode:
        return "%s: %s" % (errno.errorcode[code], getattr(exc, "strerror", None) or exc)
    return str(exc) or exc.__class__.__name__


def command_text(argv):
    return " ".join(argv)
