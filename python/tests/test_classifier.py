"""apical.classifier and mstdp's generation accuracy: the classifier learns a small
synthetic data set, the measure is 1 on images that are the class means and near chance on
noise, NaN where nothing was generated, and apical.load, apical report and
tools/plot_mstdp.py carry it for a run on IDX files."""

import gzip
import os
import subprocess
import sys
import unittest

import numpy as np

import support

apical = support.apical
from apical import classifier  # noqa: E402

os.environ["APICAL_CACHE_DIR"] = support.tmpdir("cache")

SIDE, CLASSES = 4, 10


def synthetic(n, seed):
    """n images of 4x4 pixels in [0, 1]: class c lights pixels c, c + 3 and c + 6 (mod 16)
    over a dim background, plus noise; labels cycle 0..9. (images [n][16], labels [n])"""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % CLASSES
    proto = np.full((CLASSES, SIDE * SIDE), 0.1)
    for c in range(CLASSES):
        proto[c, [c, (c + 3) % 16, (c + 6) % 16]] = 0.9
    x = np.clip(proto[y] + rng.normal(0, 0.15, (n, SIDE * SIDE)), 0, 1)
    return x, y, proto


def write_idx(path, a):
    a = np.asarray(a, dtype=np.uint8)
    head = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + a.tobytes())


class Classifier(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        x, y, cls.proto = synthetic(400, 1)
        cls.clf = classifier.train(x, y)

    def test_learns_a_synthetic_set(self):
        xt, yt, _ = synthetic(200, 2)
        self.assertGreaterEqual(self.clf.accuracy(xt, yt), 0.95)
        # with the labels shuffled there is nothing to learn: the same test fails
        x, y, _ = synthetic(400, 1)
        bad = classifier.train(x, np.random.default_rng(3).permutation(y))
        self.assertLess(bad.accuracy(xt, yt), 0.4)

    def test_deterministic(self):
        x, y, _ = synthetic(400, 1)
        again = classifier.train(x, y)
        np.testing.assert_allclose(again.w, self.clf.w, rtol=1e-12, atol=1e-12)

    def test_generation_accuracy_of_class_means_and_noise(self):
        # states as the network holds them (pm1: 2x - 1), [labels][samples][pixels]
        means = np.repeat((2 * self.proto - 1)[:, None, :], 3, axis=1)
        self.assertEqual(classifier.generation_accuracy(means, self.clf, "pm1"), 1.0)
        # the same means under the wrong label: 0
        self.assertEqual(classifier.generation_accuracy(means[::-1], self.clf, "pm1"), 0.0)
        # data_range 01: the states are the pixels themselves
        raw = np.repeat(self.proto[:, None, :], 2, axis=1)
        self.assertEqual(classifier.generation_accuracy(raw, self.clf, "01"), 1.0)
        noise = np.random.default_rng(5).uniform(-1, 1, (CLASSES, 50, SIDE * SIDE))
        acc = classifier.generation_accuracy(noise, self.clf, "pm1")
        self.assertLess(abs(acc - 1 / CLASSES), 0.1)
        # one image for every label (MSTDP's round blob): chance exactly
        blob = np.repeat(means[:1], CLASSES, axis=0)
        self.assertAlmostEqual(float(classifier.generation_accuracy(blob, self.clf)), 0.1)

    def test_records_series_shape_and_nan(self):
        means = np.repeat((2 * self.proto - 1)[:, None, :], 2, axis=1)
        recs = np.stack([means, np.full_like(means, np.nan), means[::-1]])  # [E][C][G][P]
        acc = classifier.generation_accuracy(recs, self.clf)
        self.assertEqual(acc.shape, (3,))
        self.assertEqual(acc[0], 1.0)
        self.assertTrue(np.isnan(acc[1]))
        self.assertEqual(acc[2], 0.0)
        # images as [rows][cols]
        sq = recs.reshape(3, CLASSES, 2, SIDE, SIDE)
        np.testing.assert_array_equal(classifier.generation_accuracy(sq, self.clf), acc)
        with self.assertRaises(ValueError):
            classifier.generation_accuracy(np.zeros((CLASSES, 2, 5)), self.clf)


class OnIdxFiles(unittest.TestCase):
    """An mstdp run on 4x4 IDX images that generates: the series in apical.load, its line in
    apical report and tools/plot_mstdp.py, the cached classifier."""

    @classmethod
    def setUpClass(cls):
        d = support.tmpdir("idx4")
        x, y, _ = synthetic(200, 7)
        xt, yt, _ = synthetic(100, 8)
        cls.files = {}
        for name, a in (("train_images", (x * 255).reshape(-1, SIDE, SIDE)),
                        ("train_labels", y), ("test_images", (xt * 255).reshape(-1, SIDE, SIDE)),
                        ("test_labels", yt)):
            cls.files[name] = os.path.join(d, f"{name}.gz")
            write_idx(cls.files[name], np.round(a))
        text = ("[experiment]\nname = gen4\nmodel = mstdp\ndataset = idx\n[data]\n"
                + "".join(f"{k} = {v}\n" for k, v in cls.files.items())
                + "[train]\nepochs = 3\npresentations = 20\ntest_samples = 10\n"
                  "train_eval = 10\ngen_samples = 2\ngen_every = 2\n"
                  "[output]\ncheckpoint_every = 1\nkeep_checkpoints = 10\n"
                  "[model]\npixels = 16\nhidden = 8\n[sweep]\nseed = 1..2\n")
        cls.dir = support.make_run("gen4", text)

    def test_load_has_generation_accuracy(self):
        r = apical.load(self.dir, xarray=False)
        a = r.series["generation_accuracy"]
        self.assertEqual(a.shape, (2, 3))
        # generated in record 2 only (gen_every = 2)
        self.assertTrue(np.isnan(a[:, [0, 2]]).all())
        self.assertTrue(((a[:, 1] >= 0) & (a[:, 1] <= 1)).all())
        # the same number from the classifier of the run's training files, by hand
        clf = classifier.for_files(self.files["train_images"], self.files["train_labels"])
        g = r.series["generated"][:, 1].reshape(2, CLASSES, 2, SIDE * SIDE)
        for i in range(2):
            self.assertEqual(a[i, 1], np.float32(classifier.generation_accuracy(g[i], clf)))
        self.assertFalse(apical.load(self.dir, xarray=False, classify=False).series.keys()
                         & {"generation_accuracy"})
        if support.HAVE_XARRAY:
            ds = apical.load(self.dir)
            self.assertEqual(ds["generation_accuracy"].attrs.get("units"), "1")

    def test_cached_classifier(self):
        clf = classifier.for_files(self.files["train_images"], self.files["train_labels"])
        cached = [f for f in os.listdir(classifier.cache_dir()) if f.startswith("classifier-")]
        self.assertTrue(cached)
        classifier._MEMO.clear()
        again = classifier.for_files(self.files["train_images"], self.files["train_labels"])
        np.testing.assert_array_equal(again.w, clf.w)

    def test_missing_training_files(self):
        # bars: no training files to train a classifier on; the series is absent, and why
        r = apical.load(support.make_run("readings", support.READINGS), xarray=False)
        self.assertNotIn("generation_accuracy", r.series)
        self.assertIn("no classifier", r.missing["generation_accuracy"])

    def test_mstdp_generate_follows_the_program(self):
        # tools/mstdp_generate.py with the program's settings: the mean generated image of
        # each label as the program's (its initial states are drawn otherwise, so compare
        # means); a transposed weight or a wrong clamp would not be
        sys.path.insert(0, os.path.join(support.REPO, "tools"))
        import mstdp_generate as mg

        for replica in range(2):
            w, cfg, record, r = mg.load_net(self.dir, 2, replica)
            prog = r.series["generated"][replica, 1].reshape(CLASSES, -1, SIDE * SIDE)
            tool = mg.generate(w, list(range(CLASSES)), 40, pixels=SIDE * SIDE)
            c = np.corrcoef(prog.mean(axis=1).ravel(), tool.mean(axis=1).ravel())[0, 1]
            self.assertGreater(c, 0.99)
            # the pixel rows of W_hv reversed: no longer the program's images
            wt = dict(w, W_hv=w["W_hv"][::-1].copy())
            bad = mg.generate(wt, list(range(CLASSES)), 40, pixels=SIDE * SIDE)
            cb = np.corrcoef(prog.mean(axis=1).ravel(), bad.mean(axis=1).ravel())[0, 1]
            self.assertLess(cb, 0.9)

    @unittest.skipUnless(support.HAVE_MPL, "matplotlib is missing")
    def test_report_and_plot_mstdp(self):
        from apical import report

        out = os.path.join(support.tmpdir("gen4-report"), "report.html")
        report.build(self.dir, out)
        with open(out, encoding="utf-8") as f:
            self.assertIn("Generation accuracy, the share of generated images", f.read())
        p = subprocess.run([sys.executable, os.path.join(support.REPO, "tools", "plot_mstdp.py"),
                            os.path.join(self.dir, "results.h5"), "--table", "-o",
                            os.path.join(support.tmpdir("gen4-report"), "c.png")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("generation accuracy", p.stdout)
        self.assertIn("| record 2 |", p.stdout)


if __name__ == "__main__":
    unittest.main()
