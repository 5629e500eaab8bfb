# lbdoctor.haproxy: one entry point for people and CI.
#   make demo   lab up, diagnosis, report shown (needs root on Debian 12)
#   make test   unit tests, ansible-test sanity, ansible-lint, lab scenario (molecule)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
BUILD := .build
LAB_SCENARIO ?= lab/scenarios/default.yml
LAB_STATE ?= $(CURDIR)/.lab
REPORT_DIR ?= $(CURDIR)/lbdoctor-report
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(BUILD)/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)

.PHONY: help setup venv collection unit sanity lint integration test demo lab-up lab-down lab-status clean

help:
	@echo "make demo      build the lab, diagnose it, show the report (root, Debian 12)"
	@echo "make test      unit tests, sanity, lint and the lab scenario"
	@echo "make unit | sanity | lint | integration | lab-up | lab-down | clean"

setup: $(STAMP) collection
	@scripts/setup-host

$(STAMP): requirements/python.txt
	@scripts/setup-host
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/python.txt
	scripts/install-ansible-test-bootstrap $(BIN)/python
	touch $@

venv: $(STAMP)

# The collection seen through ansible_collections/lbdoctor/haproxy, for ansible and pytest.
collection:
	@mkdir -p $(BUILD)/collections/ansible_collections/lbdoctor
	@ln -sfn $(CURDIR) $(BUILD)/collections/ansible_collections/lbdoctor/haproxy

unit: setup
	scripts/pytest-run -q tests/unit

sanity: setup
	scripts/sanity

lint: setup
	$(BIN)/ansible-lint --offline

integration: setup
	scripts/run-integration

test: unit sanity lint integration

lab-up: setup
	$(BIN)/python lab/lab.py --state $(LAB_STATE) up $(LAB_SCENARIO)

lab-down: setup
	$(BIN)/python lab/lab.py --state $(LAB_STATE) down

lab-status: setup
	$(BIN)/python lab/lab.py --state $(LAB_STATE) status

demo: lab-up
	$(BIN)/ansible-playbook -i $(LAB_STATE)/inventory.ini playbooks/diagnose_refused.yml \
	  -e lbdoctor_report_dir=$(REPORT_DIR)
	@echo; cat $(REPORT_DIR)/report.md

clean: lab-down
	rm -rf $(BUILD) tests/output
