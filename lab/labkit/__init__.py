"""lbdoctor lab toolkit: network namespaces + systemd-nspawn hosts built from a YAML scenario.

Each module has one job:
  errors     the LabError type every failure is reported with
  util       running commands (argv lists only), root and tool checks
  addressing subnet/prefix validation and address allocation (pure)
  scenario   loading, validating and resolving a scenario file (pure)
  faults     fault catalogue: expected verdicts, rendered units and firewall rules (pure)
  haproxy    haproxy.cfg rendering (pure)
  rootfs     the cached mmdebstrap base root filesystem
  network    bridge namespace, host namespaces, veths
  cgroups    cgroup layout detection, per-container cgroups, cleanup
  container  overlay roots, systemd-nspawn start/stop, nsenter exec
  inventory  inventory.ini, ssh_config, scenario.json
  state      the runtime state file and the lab lock
  lifecycle  up / down / status orchestration
"""
