#!/usr/bin/python3
"""The smallest exec model: reads each frame and answers with no detections.
Used to measure the exec bridge's own cost per frame."""

import struct
import sys

HEADER = struct.Struct("<IIqqIIIIII")
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = stdin.read(HEADER.size)
    if len(head) != HEADER.size:
        break
    size = HEADER.unpack(head)[7]
    if len(stdin.read(size)) != size:
        break
    stdout.write(b'{"detections":[]}\n')
    stdout.flush()
