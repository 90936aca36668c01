#!/usr/bin/python3
"""Exports the inference benchmark's PyTorch models to ONNX (random weights).

    /usr/bin/python3 bench/export_models.py [--out build/bench-models] [--models ...]

Writes <out>/<key>.onnx for each model: eval mode, batch 1, float32 NCHW,
opset 13, input "input", output "output", constant folding on. Weights are
PyTorch's default random initialisation from a fixed seed (torchvision
`weights=None`: nothing is downloaded); batch-norm scales and shifts get
seeded random values and the running statistics are calibrated on random
inputs (see calibrate_bn), so that activations keep their scale through the
network and the output depends on the input. Existing files are kept unless
--force.

Needs torch and torchvision (Debian's python3-torch 1.13 and
python3-torchvision 0.14 install them for /usr/bin/python3 only). The
LeNet-5 and ConvNetJS CIFAR-10 models come from `cnnc X.cnn --emit=onnx`
instead (bench/infer_bench.py does that).
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# key: (description, input shape)
MODELS = {
    "resnet20_cifar": ("CIFAR ResNet-20 (He et al. 2016, option B shortcuts)",
                       (1, 3, 32, 32)),
    "resnet18": ("torchvision ResNet-18", (1, 3, 224, 224)),
    "resnet50": ("torchvision ResNet-50", (1, 3, 224, 224)),
    "mobilenet_v2": ("torchvision MobileNetV2", (1, 3, 224, 224)),
    "squeezenet1_1": ("torchvision SqueezeNet 1.1", (1, 3, 224, 224)),
    "googlenet": ("torchvision GoogLeNet (no aux heads)", (1, 3, 224, 224)),
    "vgg11": ("torchvision VGG-11", (1, 3, 224, 224)),
}


def resnet20_cifar():
    """ResNet-20 for CIFAR-10: a 3x3 16-channel stem, three stages of three
    basic blocks (16, 32, 64 channels; stride 2 at stages 2 and 3), global
    average pooling, a 10-way FC. Shortcuts that change shape are 1x1
    stride-2 convolutions with batch norm (the paper's option B; option A's
    zero-padded identity would need Slice/Pad)."""
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.short = None
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False),
                    nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            s = x if self.short is None else self.short(x)
            return self.relu(y + s)

    class ResNet20(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(16), nn.ReLU(inplace=True))
            layers, cin = [], 16
            for cout, stride in ((16, 1), (32, 2), (64, 2)):
                for i in range(3):
                    layers.append(Block(cin, cout, stride if i == 0 else 1))
                    cin = cout
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(64, classes)

        def forward(self, x):
            x = self.pool(self.layers(self.stem(x)))
            return self.fc(x.flatten(1))

    return ResNet20()


def build(key):
    import torchvision.models as tvm
    if key == "resnet20_cifar":
        return resnet20_cifar()
    if key == "googlenet":
        return tvm.googlenet(weights=None, aux_logits=False, init_weights=True)
    return getattr(tvm, key)(weights=None)


def calibrate_bn(model, shape, gen, batches=4, batch=4):
    """Sets every batch norm's running statistics to the statistics of the
    activations it sees on random inputs in [-1, 1) (cumulative average over
    a few batches), after giving its scale and shift seeded random values.
    With PyTorch's initial statistics (mean 0, variance 1) the activations
    of a randomly initialised deep network vanish or explode and the output
    hardly depends on the input (GoogLeNet's did not at all), which would
    make the cnnc-vs-ORT comparison of outputs meaningless."""
    import torch
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not bns:
        return
    for m in bns:
        c = m.num_features
        with torch.no_grad():
            m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
        m.train()
    with torch.no_grad():
        for _ in range(batches):
            x = torch.rand((batch,) + tuple(shape[1:]), generator=gen) * 2 - 1
            model(x)
    for m in bns:
        m.eval()


def export(key, path, opset):
    import torch
    torch.manual_seed(0)
    model = build(key).eval()
    shape = MODELS[key][1]
    calibrate_bn(model, shape, torch.Generator().manual_seed(1))
    x = torch.zeros(shape)
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, opset_version=opset,
                          input_names=["input"], output_names=["output"],
                          do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "build", "bench-models"))
    ap.add_argument("--models", nargs="+", default=list(MODELS),
                    choices=list(MODELS))
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--force", action="store_true",
                    help="re-export files that exist")
    ap.add_argument("--list", action="store_true",
                    help="print key and input shape per model, then exit")
    args = ap.parse_args()
    if args.list:
        for k in args.models:
            print(k, "x".join(map(str, MODELS[k][1])))
        return 0
    os.makedirs(args.out, exist_ok=True)
    for key in args.models:
        path = os.path.join(args.out, key + ".onnx")
        if os.path.exists(path) and not args.force:
            print(f"{path}: exists")
            continue
        export(key, path, args.opset)
        print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB "
              f"({MODELS[key][0]}, input {'x'.join(map(str, MODELS[key][1]))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
