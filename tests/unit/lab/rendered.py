"""The shipped scenarios resolved, and what hostfiles.render() writes into one host: shared by the
lab's rendering tests."""

import os

from labkit import hostfiles, scenario

SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "lab", "scenarios")


def resolved(name):
    return scenario.resolve(scenario.load(os.path.join(SCENARIOS, name)))


def ops_for(sc, host_name):
    """(files, links) that render() writes into host ``host_name``: path -> text, path -> target."""
    host = [h for h in sc["hosts"] if h["name"] == host_name][0]
    ops = hostfiles.render(sc, host, "ssh-ed25519 AAAA test")
    return ({op[1]: op[2] for op in ops if op[0] == "file"}, {op[1]: op[2] for op in ops if op[0] == "link"})
