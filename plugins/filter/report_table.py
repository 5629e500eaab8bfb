# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: report_table
short_description: One aligned console line per server of an lbdoctor report
version_added: 0.1.0
author: lbdoctor maintainers (@lbdoctor)
description:
  - Returns a list of lines (header; one line per server with HAProxy's state, the verdict and
    the first finding's summary; under it, a C(+) line with the cause and summary of each further finding;
    totals), ready for M(ansible.builtin.debug).
options:
  _input:
    description: A report returned by P(lbdoctor.haproxy.diagnose#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Show the verdicts
  ansible.builtin.debug:
    msg: "{{ report | lbdoctor.haproxy.report_table }}"
"""

RETURN = r"""
_value:
  description: The lines of the table.
  type: list
  elements: str
"""

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import table_lines


class FilterModule(object):
    def filters(self):
        return {"report_table": table_lines}
