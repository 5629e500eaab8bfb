# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: report_markdown
short_description: Render an lbdoctor report as Markdown for people
version_added: 0.1.0
author: lbdoctor maintainers (@lbdoctor)
description:
  - The summary table, then for every server that is not healthy the probe's emulated HTTP
    check, the cross-check with HAProxy's last check and the HAProxy log's last transition,
    and every finding in fix order with its evidence (the latest log lines among it) and the
    fix it proposes.
options:
  _input:
    description: A report returned by P(lbdoctor.haproxy.diagnose#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write report.md
  ansible.builtin.copy:
    content: "{{ report | lbdoctor.haproxy.report_markdown }}"
    dest: ./lbdoctor-report/report.md
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The Markdown text.
  type: str
"""

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import render_markdown


class FilterModule(object):
    def filters(self):
        return {"report_markdown": render_markdown}
