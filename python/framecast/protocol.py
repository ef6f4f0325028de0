"""framecast's exec protocol (FCF2) from the model's side: frames in, answers out.

framecast writes each frame to the model's stdin as a 48-byte little-endian
header and the pixels, rows tightly packed; the model answers each frame
with one line of JSON on file descriptor 3 (FRAMECAST_ANSWER_FD) that names
the frame. stdout and stderr are the model's log. One frame is in flight at a
time: the next is written once this one is answered. docs/predictors.md has
the whole of it.

Frames are read straight into one reusable buffer (no copy in Python) and
handed out as numpy arrays that view it: writable, valid until the next
frame.
"""

import io
import json
import os
import struct

import numpy as np

MAGIC = 0x32464346  # "FCF2"
HEADER = struct.Struct("<IIqqIIIIII")  # magic, header size, index, pts_us, width, height,
#                                        format, payload bytes, source width, source height
GRAY8, RGB24, BGR24, YUV420P = 1, 2, 3, 4
FORMAT_NAMES = {GRAY8: "gray8", RGB24: "rgb24", BGR24: "bgr24", YUV420P: "yuv420p"}


class ProtocolError(Exception):
    """The input is not framecast's exec protocol: the model cannot go on."""


class Frame:
    """One frame's header fields and its pixels (a memoryview of the reader's buffer)."""

    __slots__ = ("index", "pts_us", "width", "height", "format", "src_width", "src_height", "pixels")

    def __init__(self, index, pts_us, width, height, fmt, src_width, src_height, pixels):
        self.index = index
        self.pts_us = pts_us
        self.width = width
        self.height = height
        self.format = fmt
        self.src_width = src_width
        self.src_height = src_height
        self.pixels = pixels


def payload_size(fmt, width, height):
    """Bytes of a frame's pixels in format fmt, or None for an unknown format."""
    if fmt == GRAY8:
        return width * height
    if fmt in (RGB24, BGR24):
        return width * height * 3
    if fmt == YUV420P:
        return width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    return None


class Reader:
    """Reads frames from a file descriptor (framecast's pipe, stdin)."""

    def __init__(self, fd=0):
        self._file = io.FileIO(fd, "rb", closefd=False)  # unbuffered: reads land in our buffer
        self._head = bytearray(HEADER.size)
        self._pixels = bytearray()

    def _fill(self, view):
        """Fills view; False at the end of the input (framecast closed it)."""
        got = 0
        while got < len(view):
            n = self._file.readinto(view[got:])
            if not n:
                return False
            got += n
        return True

    def next(self):
        """The next Frame, or None when framecast closed the input (the stream ended)."""
        if not self._fill(memoryview(self._head)):
            return None
        magic, hsize, index, pts_us, width, height, fmt, size, src_w, src_h = HEADER.unpack(self._head)
        if magic != MAGIC:
            raise ProtocolError(f"bad frame header (magic {magic:#x}, expected {MAGIC:#x}): is this "
                                "program run by framecast's exec predictor (FCF2)?")
        if hsize < HEADER.size:
            raise ProtocolError(f"frame header of {hsize} bytes, expected at least {HEADER.size}")
        if hsize > HEADER.size and not self._fill(memoryview(bytearray(hsize - HEADER.size))):
            return None  # a later version's longer header: its extra fields are skipped
        if len(self._pixels) != size:
            self._pixels = bytearray(size)
        if not self._fill(memoryview(self._pixels)):
            return None
        return Frame(index, pts_us, width, height, fmt, src_w, src_h, memoryview(self._pixels))


class Writer:
    """Writes answers, one line each, to the answer descriptor."""

    def __init__(self, fd=None):
        if fd is None:
            fd = int(os.environ.get("FRAMECAST_ANSWER_FD", "3"))
        try:
            os.fstat(fd)
        except OSError:
            raise ProtocolError(f"file descriptor {fd} (answers) is not open: this program is "
                                "started by framecast's exec predictor, e.g. --predictor "
                                "'exec:cmd=python3 -m framecast.model mymodel:predict'") from None
        self.fd = fd

    def _line(self, obj):
        data = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode() + b"\n"
        view = memoryview(data)
        while view:  # one write for any line up to the pipe's size; more only if interrupted
            n = os.write(self.fd, view)
            view = view[n:]

    def detections(self, index, detections):
        """Answers frame index with detections (plain dicts, checked already)."""
        self._line({"frame": index, "detections": detections})

    def error(self, index, text):
        """Answers frame index with an error: that frame's result carries it."""
        self._line({"frame": index, "error": text})


class Arrays:
    """Turns frames into the numpy arrays a model gets: (height, width, 3) in the
    channel order it wants (BGR, OpenCV's, unless rgb), (height, width) for gray8,
    and for yuv420p OpenCV's I420 layout (height * 3 // 2, width) when both sides
    are even, the flat planes otherwise. The array views the reader's buffer
    when the frame already has that order; otherwise channels are reordered
    into a buffer of its own (about 0.5 ms at 640x360)."""

    def __init__(self, rgb=False):
        self.want = RGB24 if rgb else BGR24
        self._swapped = None

    def reorders(self, frame):
        """True when frames in this format need their channels reordered."""
        return frame.format in (RGB24, BGR24) and frame.format != self.want

    def __call__(self, frame):
        expected = payload_size(frame.format, frame.width, frame.height)
        if expected is None:
            raise ValueError(f"frame format {frame.format} is not one this kit knows "
                             "(gray8, rgb24, bgr24, yuv420p)")
        if expected != len(frame.pixels):
            raise ValueError(f"a {frame.width}x{frame.height} {FORMAT_NAMES[frame.format]} frame "
                             f"of {len(frame.pixels)} bytes, expected {expected}")
        flat = np.frombuffer(frame.pixels, dtype=np.uint8)
        if frame.format == GRAY8:
            return flat.reshape(frame.height, frame.width)
        if frame.format == YUV420P:
            if frame.width % 2 == 0 and frame.height % 2 == 0:
                return flat.reshape(frame.height * 3 // 2, frame.width)
            return flat
        if frame.format == self.want:
            return flat.reshape(frame.height, frame.width, 3)
        if self._swapped is None or self._swapped.size != flat.size:
            self._swapped = np.empty(flat.size, dtype=np.uint8)
        out = self._swapped
        # Three strided copies: the fastest way numpy has (a reversed view
        # copied at once is seven times slower).
        out[0::3] = flat[2::3]
        out[1::3] = flat[1::3]
        out[2::3] = flat[0::3]
        return out.reshape(frame.height, frame.width, 3)
