"""Make the repository importable as ansible_collections.lbdoctor.haproxy for plain pytest."""

import os
import sys
import tempfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO_ROOT, "tests", "unit", "fixtures")
# Real-world inputs shared beside the repository (see ../shared/corpus/SOURCES.md).
CORPUS = os.path.join(os.path.dirname(REPO_ROOT), "shared", "corpus")


def _collections_root():
    root = tempfile.mkdtemp(prefix="lbdoctor-collections-")
    namespace = os.path.join(root, "ansible_collections", "lbdoctor")
    os.makedirs(namespace)
    os.symlink(REPO_ROOT, os.path.join(namespace, "haproxy"))
    return root


if not any(os.path.isdir(os.path.join(p, "ansible_collections", "lbdoctor", "haproxy")) for p in sys.path):
    sys.path.insert(0, _collections_root())


@pytest.fixture
def fixture_text():
    """Read a fixture file under tests/unit/fixtures as text, byte for byte."""

    def read(relative_path):
        with open(os.path.join(FIXTURES, relative_path), newline="") as handle:
            return handle.read()

    return read


@pytest.fixture
def corpus_text():
    """Read a file from the shared real-world corpus; skip when the corpus is not beside the repo."""

    def read(relative_path):
        path = os.path.join(CORPUS, relative_path)
        if not os.path.exists(path):
            pytest.skip("shared corpus not present: %s" % path)
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()

    return read
