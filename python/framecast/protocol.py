"""framecast's exec protocol (FCF2) from the model's side: frames in, answers out.

framecast writes each frame to the model's stdin as a little-endian header
and the pixels, rows tightly packed; the model answers each frame with one
line of JSON on file descriptor 3 (FRAMECAST_ANSWER_FD) that names the
frame. stdout and stderr are the model's log. Frames come in batches: with
exec's batch=N (N > 1) framecast writes up to N frames, each header 56 bytes
long and saying how many frames of the batch are left (this one included),
then waits for their answers, in order; without it (batch=1) the header is
48 bytes and every batch is one frame. docs/predictors.md has the whole of
it.

Frames are read straight into reusable buffers, one per place in a batch
(no copy in Python), and handed out as numpy arrays that view them:
writable, valid until the next batch.
"""

import io
import json
import os
import struct

import numpy as np

MAGIC = 0x32464346  # "FCF2"
HEADER = struct.Struct("<IIqqIIIIII")  # magic, header size, index, pts_us, width, height,
#                                        format, payload bytes, source width, source height
BATCH = struct.Struct("<II")  # after HEADER, in headers of 56 bytes or more (exec's batch=N > 1):
#                               frames of the batch left, this one included; reserved
GRAY8, RGB24, BGR24, YUV420P = 1, 2, 3, 4
FORMAT_NAMES = {GRAY8: "gray8", RGB24: "rgb24", BGR24: "bgr24", YUV420P: "yuv420p"}


class ProtocolError(Exception):
    """The input is not framecast's exec protocol: the model cannot go on."""


class Frame:
    """One frame's header fields and its pixels (a memoryview of the reader's buffer).
    left: the frames of its batch still to come, this one included (1 without batches)."""

    __slots__ = ("index", "pts_us", "width", "height", "format", "src_width", "src_height", "pixels",
                 "left")

    def __init__(self, index, pts_us, width, height, fmt, src_width, src_height, pixels, left=1):
        self.index = index
        self.pts_us = pts_us
        self.width = width
        self.height = height
        self.format = fmt
        self.src_width = src_width
        self.src_height = src_height
        self.pixels = pixels
        self.left = left


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
        self._pixels = []  # a buffer per place in a batch

    def _fill(self, view):
        """Fills view; False at the end of the input (framecast closed it)."""
        got = 0
        while got < len(view):
            n = self._file.readinto(view[got:])
            if not n:
                return False
            got += n
        return True

    def _read(self, place):
        """The next Frame, its pixels in buffer `place`; None at the end of the input."""
        if not self._fill(memoryview(self._head)):
            return None
        magic, hsize, index, pts_us, width, height, fmt, size, src_w, src_h = HEADER.unpack(self._head)
        if magic != MAGIC:
            raise ProtocolError(f"bad frame header (magic {magic:#x}, expected {MAGIC:#x}): is this "
                                "program run by framecast's exec predictor (FCF2)?")
        if hsize < HEADER.size:
            raise ProtocolError(f"frame header of {hsize} bytes, expected at least {HEADER.size}")
        left = 1
        if hsize > HEADER.size:
            extra = bytearray(hsize - HEADER.size)
            if not self._fill(memoryview(extra)):
                return None
            if len(extra) >= BATCH.size:  # fields a later version adds after these are skipped
                left, _ = BATCH.unpack_from(extra)
                if left < 1:
                    raise ProtocolError(f"frame {index}: its header says 0 frames of its batch are "
                                        "left (expected 1 or more, this frame included)")
        while len(self._pixels) <= place:
            self._pixels.append(bytearray())
        if len(self._pixels[place]) != size:
            self._pixels[place] = bytearray(size)
        pixels = self._pixels[place]
        if not self._fill(memoryview(pixels)):
            return None
        return Frame(index, pts_us, width, height, fmt, src_w, src_h, memoryview(pixels), left)

    def next(self):
        """The next Frame, or None when framecast closed the input (the stream ended).
        Its pixels are valid until the next call."""
        return self._read(0)

    def next_batch(self):
        """The next batch's frames, in order: as many as its first header says
        (one without exec's batch=N). Each has a buffer of its own, valid until
        the next batch. None when framecast closed the input."""
        first = self._read(0)
        if first is None:
            return None
        frames = [first]
        while len(frames) < first.left:
            frame = self._read(len(frames))
            if frame is None:
                return None
            if frame.left != frames[-1].left - 1:
                raise ProtocolError(f"frame {frame.index}: its header says {frame.left} frames of its "
                                    f"batch are left, expected {frames[-1].left - 1} after frame "
                                    f"{frames[-1].index}")
            frames.append(frame)
        return frames


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
    into a buffer of its own, one per place in a batch (about 0.5 ms at
    640x360)."""

    def __init__(self, rgb=False):
        self.want = RGB24 if rgb else BGR24
        self._swapped = {}  # a buffer per place in a batch

    def reorders(self, frame):
        """True when frames in this format need their channels reordered."""
        return frame.format in (RGB24, BGR24) and frame.format != self.want

    def __call__(self, frame, place=0):
        """The array for frame; place is its place in its batch: a reordered
        frame gets the buffer of that place, so a batch's arrays are apart."""
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
        out = self._swapped.get(place)
        if out is None or out.size != flat.size:
            out = self._swapped[place] = np.empty(flat.size, dtype=np.uint8)
        # Three strided copies: the fastest way numpy has (a reversed view
        # copied at once is seven times slower).
        out[0::3] = flat[2::3]
        out[1::3] = flat[1::3]
        out[2::3] = flat[0::3]
        return out.reshape(frame.height, frame.width, 3)
