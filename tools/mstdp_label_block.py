#!/usr/bin/python3
"""MNIST with the label written into the image as a block of pixels: for the MSTDP
generation study (benchmarks/results/mstdp-generation-*.md), a training-side way to give the
label as many synapses onto each hidden unit as K pixels have, without a change to the model.

    /usr/bin/python3 tools/mstdp_label_block.py MNIST_DIR OUT_DIR [--copies 14] [--max-train N]

Writes OUT_DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz: each image is the 28x28
digit followed by ceil(10 K / 28) rows that hold 10 blocks of K pixels, block c at 255
for an image of label c (training images) and every block at 0 (test images: the label is
not given away, so the test still reads the label units), the rest of the rows 0. Labels
are copied. Train on it with [model] pixels = 28 x (28 + rows):

    APICAL_MNIST_DIR=OUT_DIR build/apical run experiments/mstdp_mnist_small.ini \\
        --set model.pixels=924 ...

and generate with tools/mstdp_generate.py --block K --classifier MNIST_DIR, which clamps
the label's block as well as the label units and shows the classifier the digit's 784
pixels only.
"""
import argparse
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from apical.classifier import read_idx  # noqa: E402


def write_idx(path, a):
    a = np.ascontiguousarray(a, dtype=np.uint8)
    head = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(head + a.tobytes())


def with_block(images, labels, copies, give):
    n, rows, cols = images.shape
    extra = -(-10 * copies // cols)
    out = np.zeros((n, rows + extra, cols), np.uint8)
    out[:, :rows] = images
    if give:
        block = np.zeros((n, extra * cols), np.uint8)
        for c in range(10):
            block[labels == c, c * copies:(c + 1) * copies] = 255
        out[:, rows:] = block.reshape(n, extra, cols)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mnist")
    ap.add_argument("out")
    ap.add_argument("--copies", type=int, default=14, help="pixels per label (K)")
    ap.add_argument("--max-train", type=int, default=10000, help="training images written")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for part, give, cap in (("train", True, args.max_train), ("t10k", False, None)):
        x = read_idx(os.path.join(args.mnist, f"{part}-images-idx3-ubyte.gz"))[:cap]
        y = read_idx(os.path.join(args.mnist, f"{part}-labels-idx1-ubyte.gz"))[:cap]
        img = with_block(x, y, args.copies, give)
        write_idx(os.path.join(args.out, f"{part}-images-idx3-ubyte.gz"), img)
        write_idx(os.path.join(args.out, f"{part}-labels-idx1-ubyte.gz"), y)
        print(f"{part}: {len(y)} images of {img.shape[1]}x{img.shape[2]} = "
              f"{img.shape[1] * img.shape[2]} pixels")


if __name__ == "__main__":
    main()
