#!/usr/bin/env bash
#===- scripts/demo.sh - set up, build, and run the demo -------------------===#
# Installs everything (scripts/setup.sh), builds cnnc, then the main job on
# the bundled LeNet-5: compile it for training, train it on Fashion-MNIST
# (Debian's dataset-fashion-mnist) with cnnc-train and report the test
# accuracy, export the trained network to ONNX, compile that for inference
# and run it on a test image. DEMO_EPOCHS (default 10) sets the epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=build/bin
out=build/demo
data=/usr/share/datasets/fashion-mnist
epochs=${DEMO_EPOCHS:-10}
mkdir -p "$out"
echo "== cnnc examples/lenet5.cnn --summary"
"$bin/cnnc" examples/lenet5.cnn --summary
echo
echo "== cnnc examples/lenet5.cnn --train --optimizer=momentum --batch 64 -o $out/lenet5_train.so"
"$bin/cnnc" examples/lenet5.cnn --train --optimizer=momentum --batch 64 \
  -o "$out/lenet5_train.so"
echo
echo "== cnnc-train: $epochs epochs on Fashion-MNIST ($data)"
"$bin/cnnc-train" "$out/lenet5_train.so" --data="$data" --epochs="$epochs" \
  --lr=0.02 --schedule=cosine --checkpoint="$out/lenet5.ckpt" \
  --curves="$out/lenet5_curves"
echo "(curves: $out/lenet5_curves.csv and .svg; checkpoint: $out/lenet5.ckpt)"
echo
echo "== export the trained network: cnnc examples/lenet5.cnn --params=$out/lenet5.ckpt --emit=onnx"
"$bin/cnnc" examples/lenet5.cnn --params="$out/lenet5.ckpt" --emit=onnx \
  -o "$out/lenet5_trained.onnx"
echo "== compile it for inference: cnnc $out/lenet5_trained.onnx -o $out/lenet5.so"
"$bin/cnnc" "$out/lenet5_trained.onnx" -o "$out/lenet5.so"
# The first test image, normalised as cnnc-train does (per channel, from
# the training set), and its label.
python3 - "$data" "$out/x.npy" <<'PY'
import gzip, sys
import numpy as np
data, out = sys.argv[1:3]
def images(name):
    raw = gzip.open(f"{data}/{name}", "rb").read()
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32)
train, test = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
# cnnc-train's normaliser holds out the validation split; its mean and std
# differ from the whole training set's only in the last digits.
mean, std = train.mean(), train.std()
np.save(out, (test[:1] - mean) / std)
label = gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz", "rb").read()[8]
names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
         "Shirt", "Sneaker", "Bag", "Ankle boot"]
print(f"test image 0: {names[label]} (class {label})")
PY
echo "== cnnc-run $out/lenet5.so --input $out/x.npy"
"$bin/cnnc-run" "$out/lenet5.so" --input "$out/x.npy"
