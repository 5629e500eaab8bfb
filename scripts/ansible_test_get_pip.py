"""Stand-in for the get-pip script that `ansible-test --venv` downloads to bootstrap pip.

ansible-test looks for a cached copy at ~/.ansible/test/cache/get_pip_<version>.py before it
downloads one; that download host is unreachable on the project's machines. This stand-in gives
the same result with the standard library's ensurepip followed by a normal pip install of the
packages ansible-test asked for (pip itself, pinned), so the machine's index settings apply.
"""
import subprocess
import sys

# Options only the real get-pip understands; a plain `pip install` rejects them.
GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    # ensurepip in a subprocess: in-process it sets PIP_CONFIG_FILE=/dev/null, and pip would
    # then lose the machine's index and certificate settings.
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    main()
