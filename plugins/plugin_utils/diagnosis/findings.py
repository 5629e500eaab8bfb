# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders for the finding, evidence and fix records of the report contract (docs/report.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.causes import CAUSE_CODES


def evidence(source, text):
    """One observation: where it was read (a command, a file:line, a fact) and what it said."""
    return {"source": source, "text": text}


def fix(action, description, automatic=False, host=None, commands=None, **details):
    """A proposed fix. ``automatic`` says whether the remediation role may apply it unasked;
    ``commands`` are argv lists, never shell strings."""
    record = {"action": action, "description": description, "automatic": bool(automatic), "host": host,
              "commands": [list(argv) for argv in (commands or [])]}
    record.update(details)
    return record


def finding(cause, summary, evidence_list, fix_record):
    if cause not in CAUSE_CODES:
        raise ValueError("unknown cause code %r" % cause)
    return {"cause": cause, "summary": summary, "evidence": list(evidence_list), "fix": fix_record}


def manual(description, host=None, **details):
    return fix("manual", description, automatic=False, host=host, **details)
