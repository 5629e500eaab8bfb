"""A managed host made of captured output, for collector tests: files by path, commands by argv.

Anything not in the tables is missing, as on a host without that file or tool (ENOENT); `ran`
records every argv so that a test can assert what was run, and what was not.
"""

import errno


class FakeHost(object):
    def __init__(self, files=None, commands=None):
        self.files = files or {}
        self.commands = commands or {}
        self.ran = []

    def read(self, path):
        value = self.files.get(path)
        if value is None:
            raise IOError(errno.ENOENT, "No such file or directory", path)
        if isinstance(value, Exception):
            raise value
        return value

    def run(self, argv):
        self.ran.append(list(argv))
        result = self.commands.get(tuple(argv))
        if result is None:
            raise OSError(errno.ENOENT, "No such file or directory", argv[0])
        return result
