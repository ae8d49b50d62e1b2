"""A tiny TAP producer for test scripts: tests/run reads the `ok` / `not ok` lines.

    t = Tap()
    with t.case("login works"):
        ...assertions...
    t.skip("needs root", "reason")
    sys.exit(t.done())
"""
import contextlib
import os
import sys
import traceback


class SkipCase(Exception):
    pass


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def _line(self, text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    @contextlib.contextmanager
    def case(self, name):
        self.n += 1
        try:
            yield
        except SkipCase as e:
            self._line("ok %d - %s # SKIP %s" % (self.n, name, e))
        except Exception:  # any failure in the case is reported, the script goes on
            self.failed += 1
            for l in traceback.format_exc().splitlines():
                self._line("# " + l)
            self._line("not ok %d - %s" % (self.n, name))
        else:
            self._line("ok %d - %s" % (self.n, name))

    @staticmethod
    def selected(name):
        """False when $TS_CASES (substrings separated by '|') is set and none is in NAME: a
        runner such as the kernel tier (tests/kern) runs only the cases it exists for."""
        want = os.environ.get("TS_CASES")
        return not want or any(w in name for w in want.split("|") if w)

    def skip(self, name, reason):
        self.n += 1
        self._line("ok %d - %s # SKIP %s" % (self.n, name, reason))

    def done(self):
        self._line("1..%d" % self.n)
        return 1 if self.failed else 0
