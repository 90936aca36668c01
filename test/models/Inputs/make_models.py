#!/usr/bin/env python3
"""Small ONNX models in the shapes of well-known CNNs, for whole-model tests.

Each builder returns an onnx.ModelProto (opset 13) with random weights drawn
from a fixed seed, so every run builds the same model. Inputs are small
(about 1x3x32x32, 8-16 channels) to keep compiling and running cheap.

  python3 make_models.py OUTDIR [NAME...]   writes OUTDIR/NAME.onnx
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class Builder:
    """Collects nodes and initializers; names are made unique by a counter."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}{self.n}"

    def const(self, base, array):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, base, shape, fan_in):
        w = self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        return self.const(base, w.astype(np.float32))

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower() + "_")
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, pad=0, group=1, bias=True):
        w = self.weight("w", (cout, cin // group, k, k), cin // group * k * k)
        ins = [x, w]
        if bias:
            ins.append(self.const("b", (self.rng.standard_normal(cout) * 0.1).astype(np.float32)))
        return self.node("Conv", ins, kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4, group=group)

    def bn(self, x, c):
        r = self.rng
        scale = self.const("gamma", r.uniform(0.5, 1.5, c).astype(np.float32))
        bias = self.const("beta", (r.standard_normal(c) * 0.1).astype(np.float32))
        mean = self.const("mean", (r.standard_normal(c) * 0.1).astype(np.float32))
        var = self.const("var", r.uniform(0.5, 1.5, c).astype(np.float32))
        return self.node("BatchNormalization", [x, scale, bias, mean, var], epsilon=1e-5)

    def relu(self, x):
        return self.node("Relu", [x])

    def relu6(self, x):
        lo = self.const("min", np.array(0.0, np.float32))
        hi = self.const("max", np.array(6.0, np.float32))
        return self.node("Clip", [x, lo, hi])

    def maxpool(self, x, k=2, stride=2, pad=0):
        return self.node("MaxPool", [x], kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4)

    def gemm(self, x, fin, fout):
        w = self.weight("fc", (fout, fin), fin)
        b = self.const("fcb", (self.rng.standard_normal(fout) * 0.1).astype(np.float32))
        return self.node("Gemm", [x, w, b], transB=1)

    def model(self, name, in_shape, out):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)
        graph = helper.make_graph(self.nodes, name, [x], [], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = 8
        # The output's shape comes from ONNX's own shape inference.
        inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        m.graph.output.extend(v for v in inferred.graph.value_info if v.name == out)
        onnx.checker.check_model(m, full_check=True)
        return m


def lenet():
    """LeNet-5: conv5x5-relu-maxpool x2, flatten, gemm x3 (1x1x32x32 -> 10)."""
    b = Builder(1)
    h = b.maxpool(b.relu(b.conv("x", 1, 6, 5)))          # 6x14x14
    h = b.maxpool(b.relu(b.conv(h, 6, 16, 5)))           # 16x5x5
    h = b.node("Flatten", [h], axis=1)
    h = b.relu(b.gemm(h, 400, 120))
    h = b.relu(b.gemm(h, 120, 84))
    return b.model("lenet", [1, 1, 32, 32], b.gemm(h, 84, 10))


def vgg():
    """A VGG block: two 3x3 pad-1 convs with ReLU, then 2x2 max pooling."""
    b = Builder(2)
    h = b.relu(b.conv("x", 3, 8, 3, pad=1))
    h = b.relu(b.conv(h, 8, 16, 3, pad=1))
    h = b.maxpool(h)
    h = b.relu(b.conv(h, 16, 16, 3, pad=1))
    return b.model("vgg", [1, 3, 32, 32], b.maxpool(h))


def resnet():
    """A ResNet stage: stem, an identity basic block, and a stride-2 block
    with a 1x1 projection shortcut; every conv is followed by BatchNorm."""
    b = Builder(3)
    x = b.relu(b.bn(b.conv("x", 3, 8, 3, pad=1, bias=False), 8))
    h = b.relu(b.bn(b.conv(x, 8, 8, 3, pad=1, bias=False), 8))
    h = b.bn(b.conv(h, 8, 8, 3, pad=1, bias=False), 8)
    x = b.relu(b.node("Add", [h, x]))
    h = b.relu(b.bn(b.conv(x, 8, 16, 3, stride=2, pad=1, bias=False), 16))
    h = b.bn(b.conv(h, 16, 16, 3, pad=1, bias=False), 16)
    s = b.bn(b.conv(x, 8, 16, 1, stride=2, bias=False), 16)
    return b.model("resnet", [1, 3, 32, 32], b.relu(b.node("Add", [h, s])))


def inception():
    """An inception block: 1x1, 1x1->3x3, 1x1->5x5, maxpool->1x1, Concat."""
    b = Builder(4)
    x = b.relu(b.conv("x", 3, 16, 3, pad=1))
    b1 = b.relu(b.conv(x, 16, 8, 1))
    b2 = b.relu(b.conv(b.relu(b.conv(x, 16, 8, 1)), 8, 12, 3, pad=1))
    b3 = b.relu(b.conv(b.relu(b.conv(x, 16, 4, 1)), 4, 6, 5, pad=2))
    b4 = b.relu(b.conv(b.maxpool(x, 3, 1, 1), 16, 6, 1))
    return b.model("inception", [1, 3, 32, 32], b.node("Concat", [b1, b2, b3, b4], axis=1))


def mobilenet():
    """Depthwise-separable blocks: depthwise 3x3 (group=C) + BN + ReLU6 (Clip
    with min/max inputs), pointwise 1x1 + BN + ReLU6; the second is strided."""
    b = Builder(5)
    x = b.relu6(b.bn(b.conv("x", 3, 8, 3, stride=2, pad=1, bias=False), 8))
    h = b.relu6(b.bn(b.conv(x, 8, 8, 3, pad=1, group=8, bias=False), 8))
    h = b.relu6(b.bn(b.conv(h, 8, 16, 1, bias=False), 16))
    h = b.relu6(b.bn(b.conv(h, 16, 16, 3, stride=2, pad=1, group=16, bias=False), 16))
    h = b.relu6(b.bn(b.conv(h, 16, 32, 1, bias=False), 32))
    return b.model("mobilenet", [1, 3, 32, 32], h)


def head():
    """A classifier head: conv, GlobalAveragePool, Flatten, Gemm."""
    b = Builder(6)
    h = b.relu(b.conv("x", 16, 32, 3, pad=1))
    h = b.node("Flatten", [b.node("GlobalAveragePool", [h])], axis=1)
    return b.model("head", [1, 16, 8, 8], b.gemm(h, 32, 10))


def torchflatten():
    """PyTorch-exporter style x.view(x.size(0), -1):
    Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape, then Gemm."""
    b = Builder(7)
    h = b.maxpool(b.relu(b.conv("x", 3, 8, 3, pad=1)))   # 8x16x16
    h = b.maxpool(h)                                     # 8x8x8
    shape = b.node("Shape", [h])
    n = b.node("Gather", [shape, b.const("idx", np.array(0, np.int64))], axis=0)
    n = b.node("Unsqueeze", [n, b.const("axes", np.array([0], np.int64))])
    dims = b.node("Concat", [n, b.const("minus1", np.array([-1], np.int64))], axis=0)
    h = b.node("Reshape", [h, dims])
    return b.model("torchflatten", [1, 3, 32, 32], b.gemm(h, 512, 10))


def torchnames():
    """The resnet model with value names as PyTorch's exporter writes them
    ('/layer1/layer1.0/conv1/Conv_output_0', 'layer1.0.bn1.weight'): dots,
    slashes, a leading digit; none of them may reach a Halide or C name."""
    m = resnet()
    names = {}
    for i, n in enumerate(m.graph.node):
        for j, o in enumerate(n.output):
            names[o] = f"/layer{i % 3}/layer{i % 3}.{i}/{n.op_type}_output_{j}"
    for i, t in enumerate(m.graph.initializer):
        names[t.name] = f"{i}.layer.{t.name}.weight"
    rename = lambda s: names.get(s, s)
    for n in m.graph.node:
        n.input[:] = [rename(s) for s in n.input]
        n.output[:] = [rename(s) for s in n.output]
    for t in m.graph.initializer:
        t.name = rename(t.name)
    for v in list(m.graph.output) + list(m.graph.value_info):
        v.name = rename(v.name)
    onnx.checker.check_model(m, full_check=True)
    return m


def oddconv():
    """3x3 stride-1 convs whose 2x2 Winograd tiles run past the output:
    odd sizes (13x11 with no padding), asymmetric pads (14x10), 20 filters
    (not a whole block of 16) over 5 and 20 channels."""
    b = Builder(5)
    h = b.relu(b.conv("x", 5, 20, 3))
    w = b.weight("w", (20, 20, 3, 3), 20 * 9)
    bias = b.const("b", (b.rng.standard_normal(20) * 0.1).astype(np.float32))
    h = b.node("Conv", [h, w, bias], kernel_shape=[3, 3], pads=[1, 0, 2, 1])
    return b.model("oddconv", [1, 5, 15, 13], b.relu(h))


def bands():
    """Convs whose sums exceed half of L2, which the schedule pass computes
    in bands of output rows (band=R): at 72x70 (not whole vectors of
    columns), a 3x3 conv + BN + ReLU, a 1x1 + ReLU6 with a residual Add, a
    conv + ReLU whose max pool declines the bands, and a stride-2 conv; 20
    channels, not whole blocks of a vector (so the short sums stay nchw)."""
    b = Builder(7)
    x = b.relu(b.bn(b.conv("x", 3, 20, 3, pad=1, bias=False), 20))   # 20x72x70
    h = b.relu6(b.conv(x, 20, 20, 1))
    x = b.node("Add", [h, x])
    p = b.maxpool(b.relu(b.conv(x, 20, 20, 3, pad=1)))              # 20x36x35
    s = b.relu(b.conv(x, 20, 28, 3, stride=2, pad=1))                # 28x36x35
    return b.model("bands", [1, 3, 72, 70], b.node("Concat", [s, p], axis=1))


def depthwise():
    """Grouped convs over rows of several vectors and tiles, whose zero-
    extended copy of x is made per tile of filters and slid down the rows
    (ir/ops/Conv.cpp): at 44x50, a depthwise 3x3 + BN + ReLU6, a 3x3 of two
    channels per group, a stride-2 depthwise 3x3, and a depthwise 5x5 whose
    max pool declines the per-block sums; 12 channels, not whole tiles."""
    b = Builder(8)
    a = b.relu6(b.bn(b.conv("x", 12, 12, 3, pad=1, group=12, bias=False), 12))
    g = b.relu(b.conv(a, 12, 12, 3, pad=1, group=6))                  # 12x44x50
    s = b.relu(b.conv(g, 12, 12, 3, stride=2, pad=1, group=12))       # 12x22x25
    p = b.maxpool(b.relu(b.conv(g, 12, 12, 5, pad=2, group=12)))      # 12x22x25
    return b.model("depthwise", [1, 12, 44, 50], b.node("Concat", [s, p], axis=1))


def blocked():
    """A bottleneck block whose activations between the 1x1 convs stay in
    blocks of channels (passes/BlockLayout.cpp): 64 -> 96 -> 64 channels
    at 14x13 (no whole tiles of columns), ReLU6 and ReLU, a residual Add of
    two blocked values, then a stride-2 1x1 conv (reads the blocks in
    place) and a stride-2 padded 3x3 conv (pads a copy of them), added and
    pooled: everything after the block is NCHW again."""
    b = Builder(9)
    a = b.relu(b.conv("x", 64, 64, 1))
    h = b.relu6(b.conv(a, 64, 96, 1))
    r = b.relu(b.node("Add", [b.conv(h, 96, 64, 1), a]))
    d = b.conv(r, 64, 64, 1, stride=2)
    e = b.relu(b.conv(r, 64, 64, 3, stride=2, pad=1))
    return b.model("blocked", [1, 64, 14, 13],
                   b.node("GlobalAveragePool", [b.node("Add", [d, e])]))


def invres():
    """Inverted residual blocks (MobileNetV2's) whose depthwise convs work
    in blocks of channels (passes/BlockLayout.cpp, ir/ops/Conv.cpp): a
    depthwise 3x3 of the graph's input (NCHW, so it copies x into blocks),
    a 1x1 projection with a residual Add, a stride-2 depthwise 3x3 reading
    blocks, a 1x1 conv, at 20x18 and 10x9."""
    b = Builder(10)
    d = b.relu6(b.conv("x", 64, 64, 3, pad=1, group=64))
    a = b.relu(b.conv(b.conv(d, 64, 64, 1), 64, 64, 1))
    r = b.node("Add", [b.conv(a, 64, 64, 1), a])
    s = b.relu(b.conv(r, 64, 64, 3, stride=2, pad=1, group=64))      # 64x10x9
    h = b.relu(b.conv(s, 64, 96, 1))
    return b.model("invres", [1, 64, 20, 18], b.node("GlobalAveragePool", [h]))


def stems():
    """Pools fused after a conv + ReLU whose windows leave the conv's
    output (lowerPool's taps clamped with likely): ResNet's 7x7 stride-2
    stem + 3x3 stride-2 max pool with padding 1, a 3x3 max pool in ceil
    mode (GoogLeNet's) and a padded 3x3 average pool that counts only the
    taps inside, at odd sizes."""
    b = Builder(11)
    h = b.maxpool(b.relu(b.conv("x", 3, 16, 7, stride=2, pad=3)), 3, 2, 1)  # 16x8x8
    h = b.relu(b.conv(h, 16, 24, 3, pad=1))
    h = b.node("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)  # 24x4x4
    h = b.relu(b.conv(h, 24, 24, 3, pad=1))
    h = b.node("AveragePool", [h], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
               count_include_pad=0)
    return b.model("stems", [1, 3, 30, 29], h)


def blockjoin(batch=1, name="blockjoin"):
    """Inception-like joins in blocks of channels (passes/BlockLayout.cpp):
    a 1x1 conv whose blocks a Winograd 3x3 (input transform across a
    block's channels, output stored in blocks) and a padded stride-1 max
    pool read, joined by a concat of blocks (at batch 1 its operands are
    written into it, codegen/ModelPlan.cpp), a 1x1 conv, a ceil-mode
    stride-2 max pool and a padded average pool counting only the taps
    inside, all on blocks, and a global average pool reading blocks; at
    odd sizes, 15x13."""
    b = Builder(12)
    x = b.relu(b.conv("x", 32, 32, 1))                                # 32x15x13
    w = b.relu(b.conv(x, 32, 32, 3, pad=1))
    c = b.node("Concat", [w, b.maxpool(x, 3, 1, 1)], axis=1)            # 64x15x13
    h = b.relu(b.conv(c, 64, 48, 1))
    q = b.node("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)  # 48x7x6
    a = b.node("AveragePool", [q], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
               count_include_pad=0)
    y = b.relu(b.conv(a, 48, 32, 1))
    return b.model(name, [batch, 32, 15, 13], b.node("GlobalAveragePool", [y]))


def blockjoin2():
    """blockjoin at batch 2: the concat of blocks is a step of its own."""
    return blockjoin(2, "blockjoin2")


MODELS = {f.__name__: f for f in [lenet, vgg, resnet, inception, mobilenet, head, torchflatten,
                                  torchnames, oddconv, bands, depthwise, blocked, invres, stems,
                                  blockjoin, blockjoin2]}


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    os.makedirs(sys.argv[1], exist_ok=True)
    for name in sys.argv[2:] or MODELS:
        onnx.save(MODELS[name](), os.path.join(sys.argv[1], name + ".onnx"))
