"""What every module test needs: AnsibleModule's exits turned into exceptions the test catches."""

import pytest
from ansible.module_utils.testing import patch_module_args


class Exit(Exception):
    """exit_json was called; args[0] holds its keyword arguments."""


class Fail(Exception):
    """fail_json was called; args[0] holds its keyword arguments."""


def exit_json(_module, **kwargs):
    raise Exit(kwargs)


def fail_json(_module, **kwargs):
    raise Fail(kwargs)


def run_main(main, args):
    """Run a module's main() with these arguments; return the Exit or Fail it ended with."""
    with patch_module_args(args):
        with pytest.raises((Exit, Fail)) as info:
            main()
    return info.value
