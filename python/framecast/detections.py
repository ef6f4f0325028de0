"""What a model's predict(frame) may return, checked and made into an answer.

predict returns its detections as

- a list (or tuple, or generator) of dicts {"label": str, "score": number,
  "box": [x, y, w, h]}; a missing label is "object", a missing score 1;
  other keys are ignored;
- a list of tuples (label, score, x, y, w, h);
- a numpy array of rows with the same columns: (class, score, x, y, w, h),
  or (score, x, y, w, h), or (x, y, w, h);
- [] (or an empty array) when there is nothing.

Boxes are [x, y, width, height] in the pixels of the frame predict was given.
A label may be a class number: it is looked up in the module's LABELS (a list
or a dict) when it has one, written as the number otherwise. Numbers may be
Python's, numpy's, or anything float() takes (a 0-d tensor).

Anything else is a bad return: a NaN or infinite number, a negative width or
height, a value of the wrong type, a detection without a box, None. normalize
raises BadReturn saying which detection is wrong and what would be right;
the kit answers that frame with the error and goes on. Boxes that reach past
the frame are clipped to it and scores clamped to 0..1 (framecast's own
rules, docs/protocol.md); framecast reads at most 1024 detections, so the
rest is not even looked at.
"""

import math
import numbers
from collections.abc import Mapping

import numpy as np

MAX_DETECTIONS = 1024  # what framecast reads of one answer
LABEL_BYTES = 32  # what framecast keeps of a label


class BadReturn(ValueError):
    """predict returned something that is not detections; the message says what."""


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(value, what):
    """value as a finite float, or BadReturn naming what it is."""
    kind = type(value)
    if kind is float or kind is int or kind is np.float32 or kind is np.float64 or kind is np.int64:
        f = float(value)  # the common cases first: the checks below cost ~1 us each
        if not math.isfinite(f):
            raise BadReturn(f"{what} is {f} (expected a finite number)")
        return f
    if isinstance(value, (bool, np.bool_)):
        raise BadReturn(f"{what} is {value!r} (expected a number, not a bool)")
    if isinstance(value, numbers.Real):
        f = float(value)
    elif isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        f = float(value)
    elif not isinstance(value, (str, bytes, np.ndarray)) and hasattr(type(value), "__float__"):
        try:
            f = float(value)  # a 0-d tensor of another library
        except (TypeError, ValueError):
            raise BadReturn(f"{what} is {_short(value)} (expected a number)") from None
    else:
        raise BadReturn(f"{what} is {_short(value)}, a {type(value).__name__} (expected a number)")
    if not math.isfinite(f):
        raise BadReturn(f"{what} is {f} (expected a finite number)")
    return f


def _compact(f):
    """An integral number as an int: shorter answers."""
    f = float(f)
    return int(f) if f.is_integer() and -9007199254740992.0 < f < 9007199254740992.0 else f


def _rounded(f, scale):
    """f (a finite float within the frame or 0..1) to 1/scale, an integral
    value as an int. framecast writes 2 decimals of a box and 4 of a score:
    a few more keep answers short (a float32 0.7 is 0.699999988079071).
    round(f, n) would do, at five times the cost."""
    if not f.is_integer():
        f = math.floor(f * scale + 0.5) / scale
        if not f.is_integer():
            return f
    return int(f)


def _cut_label(text):
    """At most LABEL_BYTES of UTF-8, cut at a character boundary."""
    data = text.encode("utf-8", "replace")
    if len(data) <= LABEL_BYTES:
        return text
    return data[:LABEL_BYTES].decode("utf-8", "ignore")


def _label(value, labels, what, from_array=False):
    if isinstance(value, str):
        return _cut_label(value)
    number = None
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        number = int(value)
    elif from_array and isinstance(value, float) and value.is_integer():
        number = int(value)  # an array's class column is float
    if number is None:
        raise BadReturn(f"{what} is {_short(value)}, a {type(value).__name__} "
                        "(expected a string, or a class number)")
    if labels is None:
        return str(number)
    try:
        return _cut_label(str(labels[number]))
    except (IndexError, KeyError, TypeError):
        raise BadReturn(f"{what} is class {number}, which LABELS does not name "
                        f"({len(labels)} names)") from None


_PLAIN = frozenset((float, int, np.float32, np.float64, np.int32, np.int64))


def _box(x, y, w, h, width, height, what):
    """[x, y, w, h] checked and clipped to the width x height frame."""
    if type(x) in _PLAIN and type(y) in _PLAIN and type(w) in _PLAIN and type(h) in _PLAIN:
        x, y, w, h = float(x), float(y), float(w), float(h)  # the usual case, checked at once
        finite = math.isfinite(x) and math.isfinite(y) and math.isfinite(w) and math.isfinite(h)
    else:
        finite = False
    if not finite:  # one by one, to say which number is wrong
        x, y = _number(x, f"{what} x"), _number(y, f"{what} y")
        w, h = _number(w, f"{what} width"), _number(h, f"{what} height")
    if w < 0 or h < 0:
        side = "width" if w < 0 else "height"
        raise BadReturn(f"{what} [{_compact(x)}, {_compact(y)}, {_compact(w)}, {_compact(h)}] has a "
                        f"negative {side} (a box is [x, y, width, height]; corners [x1, y1, x2, y2] "
                        "are [x1, y1, x2 - x1, y2 - y1])")
    x2, y2 = x + w, y + h
    x1 = 0.0 if x < 0 else width if x > width else x
    y1 = 0.0 if y < 0 else height if y > height else y
    x2 = 0.0 if x2 < 0 else width if x2 > width else x2
    y2 = 0.0 if y2 < 0 else height if y2 > height else y2
    # A box wholly outside keeps no area; framecast drops it and says so.
    return [_rounded(x1, 1000), _rounded(y1, 1000), _rounded(x2 - x1, 1000), _rounded(y2 - y1, 1000)]


def _score(value, what):
    s = _number(value, what)
    return _rounded(0.0 if s < 0 else 1.0 if s > 1 else s, 1e6)


def _from_dict(d, width, height, labels, what):
    label = _label(d["label"], labels, f"{what}: label") if "label" in d else "object"
    score = _score(d["score"], f"{what}: score") if "score" in d else 1
    if "box" not in d:
        keys = ", ".join(map(str, list(d)[:6]))
        raise BadReturn(f'{what} has no "box" (its keys: {keys}; expected '
                        '{"label": ..., "score": ..., "box": [x, y, w, h]})')
    box = d["box"]
    kind = type(box)
    if (kind is not list and kind is not tuple
            and (isinstance(box, (str, bytes, Mapping)) or not hasattr(box, "__len__"))) or len(box) != 4:
        raise BadReturn(f'{what}: "box" is {_short(box)} (expected [x, y, w, h])')
    return {"label": label, "score": score, "box": _box(*box, width, height, f"{what}: box")}


def _from_tuple(t, width, height, labels, what, from_array=False):
    if len(t) != 6:
        raise BadReturn(f"{what} is {_short(t)}: {len(t)} values (a tuple is (label, score, x, y, w, h))")
    label, score, x, y, w, h = t
    return {"label": _label(label, labels, f"{what}: label", from_array),
            "score": _score(score, f"{what}: score"),
            "box": _box(x, y, w, h, width, height, f"{what}: box")}


def _from_array(a, width, height, labels, name):
    if a.size == 0:
        return []
    if a.ndim != 2 or a.shape[1] not in (4, 5, 6) or a.dtype.kind not in "iuf":
        raise BadReturn(f"{name} returned a numpy array of shape {a.shape} and type {a.dtype} "
                        "(expected numbers in rows of (class, score, x, y, w, h), "
                        "(score, x, y, w, h) or (x, y, w, h))")
    out = []
    for i, row in enumerate(a[:MAX_DETECTIONS].tolist()):
        what = f"{name}'s detection {i}"
        if len(row) == 6:
            label, score = _label(row[0], labels, f"{what}: class", from_array=True), row[1]
        else:
            label, score = "object", row[0] if len(row) == 5 else 1
        out.append({"label": label, "score": _score(score, f"{what}: score"),
                    "box": _box(*row[-4:], width, height, f"{what}: box")})
    return out


def normalize(result, width, height, labels=None, name="predict"):
    """The return value of the model's function `name` for a width x height
    frame as a list of plain dicts {label, score, box}, checked and clipped;
    raises BadReturn."""
    width, height = float(width), float(height)  # boxes are clipped to these: floats, as the rest
    if isinstance(result, np.ndarray):
        return _from_array(result, width, height, labels, name)
    if result is None:
        raise BadReturn(f"{name} returned None (expected a list of detections; [] for none)")
    if isinstance(result, (str, bytes, Mapping)) or not hasattr(result, "__iter__"):
        raise BadReturn(f"{name} returned {_short(result)}, a {type(result).__name__} "
                        "(expected a list of detections)")
    if isinstance(result, tuple) and len(result) == 6 and isinstance(result[0], str):
        raise BadReturn(f"{name} returned one detection, {_short(result)} "
                        "(expected a list of detections: [(label, score, x, y, w, h)])")
    out = []
    for i, d in enumerate(result):
        if i == MAX_DETECTIONS:
            break
        what = f"{name}'s detection {i}"
        if type(d) is dict or isinstance(d, Mapping):  # a dict first: the ABC check is slower
            out.append(_from_dict(d, width, height, labels, what))
        elif isinstance(d, (tuple, list)):
            out.append(_from_tuple(d, width, height, labels, what))
        elif isinstance(d, np.ndarray) and d.ndim == 1 and len(d) == 6 and d.dtype.kind in "iuf":
            out.append(_from_tuple(d.tolist(), width, height, labels, what, from_array=True))
        else:
            raise BadReturn(f"{what} is {_short(d)}, a {type(d).__name__} (expected a dict "
                            "{label, score, box}, or a tuple (label, score, x, y, w, h))")
    return out
