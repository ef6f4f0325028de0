"""Runs a Python model behind framecast's exec predictor, unchanged:

    PYTHONPATH=/path/to/framecast/python framecast ... \\
        --predictor 'exec:format=bgr24,cmd=python3 -m framecast.model mymodel:predict'

TARGET is `module[:function]` (imported as `import module`, from the current
directory or PYTHONPATH) or `path/to/file.py[:function]`; the function is
`predict` by default, or `predict_batch` when the module has only that. The
module is imported with its own name, so its `if __name__ == "__main__":`
part does not run.

For each frame the function gets a numpy array: (height, width, 3) uint8 in
BGR order (OpenCV's) unless `rgb=1`, (height, width) for format=gray8, OpenCV's
I420 layout for format=yuv420p (flat when a side is odd). The array views a
buffer that the next frame reuses: copy what you keep; drawing on it is fine.
framecast sends rgb24 unless the exec spec says `format=bgr24`: ask for the
order the model wants, or the kit reorders the channels of every frame.

What the function returns is checked (framecast.detections): a bad return
value or an exception becomes that frame's error result, printed to the log
the first times, and the model goes on. The module's optional `setup()` runs
once, before the first frame (load weights there); its optional `LABELS`
names class numbers. A function `predict_batch(frames)` (or any function with
`batch=1`) takes a list of frames and returns one result per frame, in order;
it is called once per batch framecast sends (exec's batch=N: up to N frames
that were waiting, so fuller lists when frames queue up, as with
mode=every), and gets lists of one without batch=N. A plain `predict` is
called frame by frame, whatever the batch.

Options after TARGET: rgb=1 (frames in RGB order), batch=1 (the function
takes a list of frames).
"""

import importlib
import importlib.util
import os
import sys
import time
import traceback

from framecast import detections, protocol

USAGE = ("usage: python3 -m framecast.model module[:function] [rgb=1] [batch=1]\n"
         "       python3 -m framecast.model path/to/model.py[:function] [rgb=1] [batch=1]\n"
         "run by framecast: --predictor 'exec:format=bgr24,cmd=python3 -m framecast.model "
         "mymodel:predict' (docs/predictors.md)")
LOGGED_ERRORS = 5  # distinct errors whose details go to the log; results carry every one


def say(text):
    """A line in framecast's log (our stdout goes there)."""
    print(f"framecast.model: {text}", flush=True)


class TargetError(Exception):
    """TARGET names no module or function."""


def load(target):
    """(module, function, its name) for TARGET; raises TargetError saying what is wrong."""
    spec, _, name = target.partition(":") if target.count(":") <= 1 else target.rpartition(":")
    if not spec:
        raise TargetError(f"no module in '{target}' (expected module[:function])")
    if "/" in spec or spec.endswith(".py"):
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise TargetError(f"'{spec}': no such file")
        modname = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))  # so it imports its neighbours
        loader_spec = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[modname] = module
        loader_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(spec)
        except ModuleNotFoundError as e:
            if e.name != spec.split(".")[0]:
                raise  # the model's own import failed: its traceback says which
            raise TargetError(f"cannot import '{spec}': no such module in {os.getcwd()} or on "
                              "PYTHONPATH") from None
    if not name:
        name = "predict" if hasattr(module, "predict") else "predict_batch"
    fn = getattr(module, name, None)
    if not callable(fn):
        found = [n for n in ("predict", "predict_batch") if callable(getattr(module, n, None))]
        raise TargetError(f"'{spec}' has no function '{name}'"
                          + (f" (it has {', '.join(found)})" if found else ""))
    return module, fn, name


def _where(exc):
    """file:line where an exception was raised."""
    tb = traceback.extract_tb(exc.__traceback__)
    return f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"


class _Log:
    """Writes the first few distinct errors to the log, in full."""

    def __init__(self):
        self.seen = set()

    def error(self, key, index, text, exc=None):
        if key in self.seen or len(self.seen) >= LOGGED_ERRORS:
            return
        self.seen.add(key)
        say(f"frame {index}: {text}")
        if exc is not None:
            traceback.print_exception(exc, file=sys.stdout)
            sys.stdout.flush()
        if len(self.seen) == LOGGED_ERRORS:
            say("more errors are not logged; each frame's result carries its own")


def _count(n):
    return f"{n} frame" if n == 1 else f"{n} frames"


def serve(predict=None, *, predict_batch=None, setup=None, rgb=False, labels=None, name=None,
          stdin_fd=0, answer_fd=None):
    """Answers framecast's frames with predict(frame), frame by frame, or
    predict_batch(frames), once per batch framecast sends (exec's batch=N; a
    list of one without it), until framecast closes our input. setup() runs
    once, first. labels names class numbers. Returns 0; raises
    protocol.ProtocolError if the input is not framecast's."""
    if (predict is None) == (predict_batch is None):
        raise TypeError("serve() takes one of predict and predict_batch")
    fn = predict or predict_batch
    name = name or getattr(fn, "__name__", "predict")
    writer = protocol.Writer(answer_fd)  # first: a program run by hand is told at once
    reader = protocol.Reader(stdin_fd)
    arrays = protocol.Arrays(rgb)
    if setup is not None:
        t0 = time.monotonic()
        setup()
        say(f"setup() took {time.monotonic() - t0:.2f} s")
    log = _Log()
    hinted = False

    def failed(frame, key, text, exc=None):
        """Answers frame with an error: its result carries it; the first few go to the log."""
        writer.error(frame.index, text)
        log.error(key, frame.index, text, exc)

    def raised(frame, e):
        failed(frame, ("raise", type(e).__name__, _where(e)),
               f"{name} raised {type(e).__name__}: {e} ({_where(e)})", e)

    while True:
        frames = reader.next_batch()
        if frames is None:
            return 0
        got = []  # per place in the batch: the frame's array, or the ValueError saying why there is none
        for place, frame in enumerate(frames):
            try:
                got.append(arrays(frame, place))
            except ValueError as e:
                got.append(e)
                continue
            if not hinted and arrays.reorders(frame):
                hinted = True
                order = "RGB" if rgb else "BGR"
                say(f"frames arrive as {protocol.FORMAT_NAMES[frame.format]} and are reordered to "
                    f"{order} for {name}: add format={order.lower()}24 to the exec options to skip that copy")
        good = [place for place, a in enumerate(got) if not isinstance(a, ValueError)]
        # predict_batch: one call for the batch; what goes wrong with the call
        # as a whole (an exception, a list of the wrong length) is each of its
        # frames' error.
        results, batch_error = {}, None  # place -> what predict_batch returned for it
        if predict_batch is not None and good:
            try:
                out = predict_batch([got[place] for place in good])
                if not hasattr(out, "__len__") or len(out) != len(good):
                    raise detections.BadReturn(
                        f"{name} returned {len(out) if hasattr(out, '__len__') else 'no list of'} "
                        f"results for {_count(len(good))} (expected a list with one result per "
                        "frame, in order)")
                results = dict(zip(good, out))
            except Exception as e:  # noqa: BLE001 (the model's bug; it goes on)
                batch_error = e
        # Answers go out in frame order, each frame's its own.
        for place, frame in enumerate(frames):
            array = got[place]
            if isinstance(array, ValueError):
                failed(frame, ("frame", str(array)), str(array))
                continue
            if isinstance(batch_error, detections.BadReturn):
                failed(frame, ("bad", str(batch_error)), str(batch_error))
                continue
            if batch_error is not None:
                raised(frame, batch_error)
                continue
            try:
                result = results[place] if predict_batch is not None else predict(array)
                dets = detections.normalize(result, frame.width, frame.height, labels, name)
            except detections.BadReturn as e:
                failed(frame, ("bad", str(e)), str(e))
                continue
            except Exception as e:  # the model's bug is this frame's error; it goes on
                raised(frame, e)
                continue
            writer.detections(frame.index, dets)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    target, opts = argv[0], {"rgb": False, "batch": False}
    for arg in argv[1:]:
        key, eq, value = arg.partition("=")
        if key not in opts or not eq or value not in ("0", "1"):
            say(f"'{arg}' is not an option (expected rgb=0|1 or batch=0|1)\n{USAGE}")
            return 2
        opts[key] = value == "1"
    try:
        module, fn, name = load(target)
    except TargetError as e:
        say(str(e))
        return 2
    batch = opts["batch"] or name == "predict_batch"
    setup = getattr(module, "setup", None)
    say(f"serving {target if ':' in target else target + ':' + name} "
        f"({'RGB' if opts['rgb'] else 'BGR'} frames{', in batches' if batch else ''}"
        f"{', after setup()' if callable(setup) else ''})")
    try:
        return serve(None if batch else fn, predict_batch=fn if batch else None,
                     setup=setup if callable(setup) else None, rgb=opts["rgb"],
                     labels=getattr(module, "LABELS", None), name=name)
    except protocol.ProtocolError as e:
        say(str(e))
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
