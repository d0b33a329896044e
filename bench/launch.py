"""Run a command and write how it ran to a JSON file: ``python -I -S bench/launch.py REPORT ARGV...``.

``bench.measure`` starts the measured commands through this small process, not straight
from the benchmark: Linux counts a process's image from before ``exec`` in its peak RSS, and
the benchmark's own image (PyAV, pymongo, decoded MP3s) would be counted in every command's.
Standard library only, and run without ``site``, so this process stays a few MB.
"""

import json
import os
import sys
import time


def main() -> None:
    report, *argv = sys.argv[1:]
    started = time.perf_counter()
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)  # noqa: S606  # the benchmark's own commands, as given
        finally:
            os._exit(127)
    _, status, usage = os.wait4(child, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(report, "w") as out:
        json.dump({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_kb": usage.ru_maxrss}, out)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
