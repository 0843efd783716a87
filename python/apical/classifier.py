"""A small digit classifier that is not MSTDP, to measure what MSTDP generates.

Multinomial logistic regression (softmax over 10 classes, one weight per pixel and class
and a bias per class, L2 penalty) trained by full-batch gradient descent with Nesterov
momentum on the training images of an IDX data set (MNIST: docs/file-format.md's
`generation_accuracy`). Full batch and zero starting weights: no random draw, the same
weights for the same files (up to the BLAS's summation order). numpy only.

    from apical import classifier
    clf = classifier.for_files(train_images, train_labels)   # trained once, then cached
    clf.predict(images)                                      # [N][784] in [0, 1]
    classifier.generation_accuracy(generated, clf, data_range="pm1")

Generation accuracy is the fraction of generated images the classifier assigns to the
label that was clamped while generating them. A generated image is the pixel units'
states; with data_range pm1 the clamp held 2x - 1 for pixel value x, so the image the
classifier sees is (s + 1) / 2, clipped to [0, 1] (data_range 01: s, clipped).

The trained weights (31 KB) are cached in $APICAL_CACHE_DIR, else $XDG_CACHE_HOME/apical,
else ~/.cache/apical, under the SHA-256 of the two training files and the training
settings; a cache that cannot be written is skipped. Training on 24,000 MNIST images takes
seconds. `python3 -m apical.classifier [DIR]` trains on DIR's (default $APICAL_MNIST_DIR)
MNIST training files and prints the accuracy on its test files.
"""

import gzip
import hashlib
import os
import sys

import numpy as np

# training settings; part of the cache key
STEPS = 300
RATE = 0.5
MOMENTUM = 0.9
L2 = 1e-4
VERSION = 1

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def read_idx(path):
    """An IDX file (raw or .gz) as a numpy array of its header's shape (uint8 data)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    start = 4 + 4 * ndim
    n = int(np.prod(dims, dtype=np.int64))
    if len(raw) - start < n:
        raise ValueError(f"{path}: {len(raw) - start} bytes of data, the header says {n}")
    return np.frombuffer(raw, dtype=np.uint8, count=n, offset=start).reshape(dims)


def read_images(path):
    """IDX images as [N][pixels] float64 in [0, 1]."""
    a = read_idx(path)
    return a.reshape(len(a), -1).astype(np.float64) / 255.0


class Classifier:
    """Softmax regression: scores = x W + b, W [pixels][classes], b [classes]."""

    def __init__(self, w, b):
        self.w = np.asarray(w, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)

    @property
    def pixels(self):
        return self.w.shape[0]

    @property
    def classes(self):
        return self.w.shape[1]

    def scores(self, x):
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.pixels)
        return x @ self.w + self.b

    def predict(self, x):
        """the class of each image: x [N][pixels] (or [N][rows][cols]) in [0, 1]"""
        return np.argmax(self.scores(x), axis=1)

    def accuracy(self, x, y):
        return float(np.mean(self.predict(x) == np.asarray(y)))


def train(x, y, classes=None, steps=STEPS, rate=RATE, momentum=MOMENTUM, l2=L2):
    """A Classifier fitted to images x [N][pixels] in [0, 1] and labels y [N]: full-batch
    gradient descent with Nesterov momentum on the mean cross-entropy + l2/2 |W|^2, from
    zero weights (deterministic: nothing is drawn)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y).astype(np.int64)
    k = int(classes or y.max() + 1)
    n, p = x.shape
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    w, b = np.zeros((p, k)), np.zeros(k)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for _ in range(steps):
        lw, lb = w + momentum * vw, b + momentum * vb  # look ahead (Nesterov)
        z = x @ lw + lb
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        g = (e / e.sum(axis=1, keepdims=True) - onehot) / n
        vw = momentum * vw - rate * (x.T @ g + l2 * lw)
        vb = momentum * vb - rate * g.sum(axis=0)
        w, b = w + vw, b + vb
    return Classifier(w, b)


def cache_dir():
    d = os.environ.get("APICAL_CACHE_DIR")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "apical")


def _digest(paths):
    h = hashlib.sha256(f"logreg v{VERSION} {STEPS} {RATE} {MOMENTUM} {L2}\n".encode())
    for p in paths:
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:24]


_MEMO = {}


def for_files(train_images, train_labels, cache=True):
    """The Classifier trained on these IDX files: from memory, from the cache directory,
    or trained now (and cached). Raises FileNotFoundError when a file is missing."""
    for p in (train_images, train_labels):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{p}: no such file (the classifier's training data)")
    key = _digest((train_images, train_labels))
    if key in _MEMO:
        return _MEMO[key]
    path = os.path.join(cache_dir(), f"classifier-{key}.npz")
    clf = None
    if cache and os.path.isfile(path):
        try:
            with np.load(path) as z:
                clf = Classifier(z["w"], z["b"])
        except (OSError, ValueError, KeyError):
            clf = None  # a damaged cache entry: train again
    if clf is None:
        clf = train(read_images(train_images), read_idx(train_labels))
        if cache:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = f"{path}.tmp{os.getpid()}.npz"
                np.savez(tmp, w=clf.w, b=clf.b)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only home: train again next time
    _MEMO[key] = clf
    return clf


def mnist_dir(directory=None):
    """DIR, else $APICAL_MNIST_DIR; FileNotFoundError when neither holds the files."""
    d = directory or os.environ.get("APICAL_MNIST_DIR")
    if not d:
        raise FileNotFoundError("no MNIST folder: give one or set APICAL_MNIST_DIR")
    for name in MNIST_FILES:
        if not os.path.isfile(os.path.join(d, name)):
            raise FileNotFoundError(f"{os.path.join(d, name)}: no such file")
    return d


def to_pixels(states, data_range="pm1"):
    """Generated pixel states as images in [0, 1]: (s + 1) / 2 for pm1 (the clamp's 2x - 1
    undone), s for 01; clipped."""
    s = np.asarray(states, dtype=np.float64)
    x = (s + 1.0) / 2.0 if data_range in ("pm1", 0) else s
    return np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0)


def generation_accuracy(generated, clf, data_range="pm1"):
    """The fraction of generated images the classifier assigns to their clamped label.

    generated: [..., labels, samples, pixels] (or [..., labels, samples, rows, cols]):
    the `generated` series of one or more records. Returns an array of the leading shape
    ([] for one record); NaN where a record holds no generated images (NaN states)."""
    g = np.asarray(generated, dtype=np.float64)
    if g.ndim >= 4 and g.shape[-1] * g.shape[-2] == clf.pixels:
        g = g.reshape(g.shape[:-2] + (g.shape[-2] * g.shape[-1],))
    if g.ndim < 3 or g.shape[-1] != clf.pixels:
        raise ValueError(f"generated images of shape {g.shape}: expected [..., labels, "
                         f"samples, {clf.pixels}]")
    lead, (c, q, p) = g.shape[:-3], g.shape[-3:]
    flat = g.reshape(-1, c, q, p)
    out = np.full(len(flat), np.nan)
    want = np.repeat(np.arange(c), q)
    for i, rec in enumerate(flat):
        if np.isnan(rec).all():
            continue
        out[i] = np.mean(clf.predict(to_pixels(rec.reshape(c * q, p), data_range)) == want)
    return out.reshape(lead)


def confusion(generated, clf, data_range="pm1"):
    """[labels][classes] counts: how often a label's generated images went to each class
    (one record: generated [labels][samples][pixels])."""
    g = np.asarray(generated, dtype=np.float64)
    c, q = g.shape[:2]
    pred = clf.predict(to_pixels(g.reshape(c * q, -1), data_range)).reshape(c, q)
    m = np.zeros((c, clf.classes), dtype=np.int64)
    for label in range(c):
        np.add.at(m[label], pred[label], 1)
    return m


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    try:
        d = mnist_dir(argv[0] if argv else None)
    except FileNotFoundError as e:
        print(f"apical.classifier: {e}", file=sys.stderr)
        return 66
    clf = for_files(*(os.path.join(d, n) for n in MNIST_FILES[:2]))
    xt, yt = read_images(os.path.join(d, MNIST_FILES[2])), read_idx(os.path.join(d, MNIST_FILES[3]))
    xr, yr = read_images(os.path.join(d, MNIST_FILES[0])), read_idx(os.path.join(d, MNIST_FILES[1]))
    print(f"logistic regression, {len(yr)} training images: training accuracy "
          f"{clf.accuracy(xr, yr):.4f}, test accuracy {clf.accuracy(xt, yt):.4f} "
          f"on {len(yt)} test images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
