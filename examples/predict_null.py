#!/usr/bin/python3
"""The smallest exec model: reads each frame and answers with no detections.
Used to measure the exec bridge's own cost per frame (docs/predictors.md:
frames on stdin, one answer line per frame on file descriptor 3)."""

import os
import struct
import sys

HEADER = struct.Struct("<IIqqIIIIII")
stdin = sys.stdin.buffer
answers = int(os.environ.get("FRAMECAST_ANSWER_FD", "3"))
while True:
    head = stdin.read(HEADER.size)
    if len(head) != HEADER.size:
        break
    index, size = HEADER.unpack(head)[2], HEADER.unpack(head)[7]
    if len(stdin.read(size)) != size:
        break
    os.write(answers, b'{"frame":%d,"detections":[]}\n' % index)
