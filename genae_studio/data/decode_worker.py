"""One process of the decoded-image cache's first pass (started by ``data.cache``):

    python -m genae_studio.data.decode_worker FILE OFFSET CHANNELS SIZE

Reads tasks from stdin, one JSON line each: ``[start, [path, ...]]``; decodes every image and
writes it as row ``start + k`` of FILE (uint8 rows of CHANNELS x SIZE x SIZE from byte
OFFSET); answers each task with one JSON line: ``[start, count, [[row, "PATH: reason"], ...]]``
naming the unreadable files. Ends at the end of its input. Ctrl-C is ignored: the parent
stops its workers itself.
"""
from __future__ import annotations

import json
import os
import signal
import sys


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .base import decode_image
    from .cache import decode_rows, reason

    path, offset, channels, size = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    fd = os.open(path, os.O_WRONLY)
    try:
        for line in sys.stdin:
            start, paths = json.loads(line)
            found = decode_rows(lambda row, paths=paths, start=start: decode_image(
                paths[row - start], size, channels), fd, offset, start, start + len(paths),
                (channels, size, size))
            answer = [start, len(paths), [[row, reason(paths[row - start], exc)]
                                          for row, exc in found]]
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
