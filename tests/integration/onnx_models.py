"""Small ONNX detection models made with Debian's python3-onnx, for the dnn
predictor's tests and benchmark. No weights are downloaded: each model's
output is a known constant or a simple function of its input, so what a
decoder should find is computed here, apart from framecast.

Every model takes "images" [1, 3, S, S] (RGB in 0..1, as Ultralytics
exports) and gives one output in the YOLOv8 layout [1, 4+nc, N] or the
YOLOv5 layout [1, N, 5+nc]."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CELL = 32  # grid_model: one candidate box per 32x32 cell of the input


def _save(path, nodes, inits, out_shape, size):
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)
    graph = helper.make_graph(nodes, "fc_test", [inp], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7  # what OpenCV 4.6's importer reads
    onnx.checker.check_model(model)
    onnx.save(model, path)


def grid_model(path, rows, weights, fmt="yolov8", size=640):
    """output = rows + (per-cell mean of each input channel) @ weights.

    rows: [N, A] float, N = (size/32)^2 candidates (cell r*size/32+c), A =
    4+nc (yolov8) or 5+nc (yolov5) values each. weights: [A, 3]: how each
    value depends on the cell's mean R, G, B (zeros: a constant model)."""
    n, a = rows.shape
    assert n == (size // CELL) ** 2 and weights.shape == (a, 3)
    shape8 = [1, a, n]
    inits = [numpy_helper.from_array(weights.reshape(a, 3, 1, 1).astype(np.float32), "w"),
             numpy_helper.from_array(np.array(shape8, np.int64), "shape")]
    nodes = [helper.make_node("AveragePool", ["images"], ["cells"], kernel_shape=[CELL, CELL],
                              strides=[CELL, CELL]),
             helper.make_node("Conv", ["cells", "w"], ["mix"], kernel_shape=[1, 1]),
             helper.make_node("Reshape", ["mix", "shape"], ["flat"])]
    if fmt == "yolov8":
        const, last, out_shape = rows.T.reshape(shape8), "flat", shape8
    else:
        nodes.append(helper.make_node("Transpose", ["flat"], ["rowwise"], perm=[0, 2, 1]))
        const, last, out_shape = rows.reshape(1, n, a), "rowwise", [1, n, a]
    inits.append(numpy_helper.from_array(const.astype(np.float32), "rows"))
    nodes.append(helper.make_node("Add", [last, "rows"], ["output0"]))
    _save(path, nodes, inits, out_shape, size)


def cell_boxes(size=640):
    """[N, 4]: each cell's own box (centre x, centre y, w, h), row-major."""
    g = size // CELL
    r, c = np.divmod(np.arange(g * g), g)
    return np.stack([c * CELL + CELL / 2, r * CELL + CELL / 2,
                     np.full(g * g, CELL), np.full(g * g, CELL)], axis=1).astype(np.float32)


def yolo_shaped_model(path, nc=80, size=640, width=32, seed=1):
    """A network shaped like YOLOv8n for timing: a strided 3x3 convolution
    backbone (size/2 .. size/32), 1x1 heads at strides 8, 16 and 32,
    concatenated to [1, 4+nc, 8400] at 640. Random weights: its detections
    mean nothing, its cost is that of a small real detector."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def conv(x, cin, cout, k, stride, name):
        w = (rng.standard_normal((cout, cin, k, k)) * (1.0 / np.sqrt(cin * k * k))).astype(np.float32)
        inits.append(numpy_helper.from_array(w, name + "_w"))
        inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), name + "_b"))
        nodes.append(helper.make_node("Conv", [x, name + "_w", name + "_b"], [name + "_c"],
                                      kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4))
        nodes.append(helper.make_node("Relu", [name + "_c"], [name]))
        return name

    chans = [width // 2, width, width * 2, width * 4, width * 8]
    x, cin, taps = "images", 3, []
    for i, cout in enumerate(chans):  # strides 2, 4, 8, 16, 32
        x = conv(x, cin, cout, 3, 2, f"down{i}")
        x = conv(x, cout, cout, 3, 1, f"body{i}")
        cin = cout
        if i >= 2:
            taps.append((x, cout, size >> (i + 1)))
    heads = []
    for j, (t, c, g) in enumerate(taps):
        w = (rng.standard_normal((4 + nc, c, 1, 1)) * 0.01).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"head{j}_w"))
        nodes.append(helper.make_node("Conv", [t, f"head{j}_w"], [f"head{j}"], kernel_shape=[1, 1]))
        inits.append(numpy_helper.from_array(np.array([1, 4 + nc, g * g], np.int64), f"head{j}_s"))
        nodes.append(helper.make_node("Reshape", [f"head{j}", f"head{j}_s"], [f"flat{j}"]))
        heads.append(f"flat{j}")
    nodes.append(helper.make_node("Concat", heads, ["output0"], axis=2))
    n = sum(g * g for _, _, g in taps)
    _save(path, nodes, inits, [1, 4 + nc, n], size)
