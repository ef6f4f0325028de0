"""framecast's Python model kit: run a Python predict(frame) behind
framecast's exec predictor, unchanged.

    framecast --predictor 'exec:format=bgr24,cmd=python3 -m framecast.model mymodel:predict'

Pure Python on top of numpy. framecast.model runs the model (the command
above, or serve() from a program of your own), framecast.protocol speaks the
exec protocol (FCF2: frames on stdin, answers on file descriptor 3) and
framecast.detections checks what predict() returns. docs/predictors.md
describes all three.
"""

__all__ = ["serve"]


def serve(*args, **kwargs):
    """framecast.model.serve: see there."""
    from framecast.model import serve as _serve

    return _serve(*args, **kwargs)
