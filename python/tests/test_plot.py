"""apical.plot (Agg): the lines drawn and their values; the scripts that use it."""

import os
import subprocess
import sys
import unittest

import support  # noqa: F401  (skips everything without h5py)
import numpy as np

import apical

if support.HAVE_MPL:
    import matplotlib.pyplot as plt
    from apical import plot


@unittest.skipUnless(support.HAVE_MPL, "matplotlib is not installed")
class Plots(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = support.make_run("grid", support.GRID)
        cls.r = apical.load(cls.dir, xarray=False)

    def tearDown(self):
        plt.close("all")

    def test_versus_one_line_per_hue_with_medians_over_seeds(self):
        r = self.r
        ax = plot.versus(r, "val_mse", x="t_pres", hue="variant")
        lines = ax.get_lines()
        self.assertEqual(len(lines), 2)
        # readable labels (apical.style): the key's value "le" reads as its name
        self.assertEqual([ln.get_label() for ln in lines], ["original", "latent equilibrium"])
        self.assertEqual(ax.get_legend().get_title().get_text(), "variant")
        for line, v in zip(lines, ["original", "le"]):
            np.testing.assert_array_equal(line.get_xdata(), [10, 20])
            want = [np.median(r.select(variant=v, t_pres=t).at("val_mse")) for t in (10, 20)]
            np.testing.assert_allclose(line.get_ydata(), want)
        self.assertEqual(ax.get_ylabel(), "validation MSE after epoch 3")
        self.assertEqual(ax.get_xlabel(), "presentation time t_pres (steps of dt)")
        # no hue: one line over everything; a record of its own
        ax = plot.versus(r, "val_mse", x="variant", at=1)
        self.assertEqual(len(ax.get_lines()), 1)
        want = [np.median(r.select(variant=v).series["val_mse"][:, 0]) for v in ("original", "le")]
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), want)

    def test_curves_one_line_per_group(self):
        r = self.r
        ax = plot.curves(r, "val_mse", by="t_pres")
        lines = ax.get_lines()
        self.assertEqual(len(lines), 2)
        np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(lines[1].get_ydata(),
                                   np.median(r.select(t_pres=20).series["val_mse"], axis=0))
        self.assertEqual(len(plot.curves(r, "val_acc", by=None).get_lines()), 1)
        ax = plot.curves(r, "val_acc", by="variant", each=True)
        self.assertEqual(len(ax.get_lines()), 12 + 2)
        # test_acc has a value after the last epoch only
        ax = plot.curves(r, "test_acc", by="variant")
        np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [3])

    def test_partial_run_stops_at_the_last_finished_record(self):
        r = apical.load(support.partial_copy("grid", support.GRID, 2), xarray=False)
        ax = plot.curves(r, "val_acc", by="variant")
        np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2])
        ax = plot.versus(r, "val_acc", x="t_pres")
        self.assertEqual(ax.get_ylabel(), "validation accuracy after epoch 2")

    def test_series_with_a_dimension_more_needs_a_choice(self):
        with self.assertRaisesRegex(ValueError, "more dimension"):
            plot.curves(self.r, "apical_error")
        ax = plot.curves(self.r, self.r.series["apical_error"][:, :, 0], by="variant")
        self.assertEqual(len(ax.get_lines()), 2)

    @unittest.skipUnless(support.HAVE_XARRAY, "xarray is not installed")
    def test_a_dataset_draws_the_same(self):
        ds = apical.load(self.dir)
        a = plot.versus(ds, "val_mse", x="t_pres", hue="variant")
        b = plot.versus(self.r, "val_mse", x="t_pres", hue="variant")
        for la, lb in zip(a.get_lines(), b.get_lines()):
            np.testing.assert_array_equal(la.get_ydata(), lb.get_ydata())
        self.assertEqual(len(plot.curves(ds.sel(variant="le"), "val_acc", by="t_pres")
                             .get_lines()), 2)


@unittest.skipUnless(support.HAVE_MPL, "matplotlib is not installed")
class Scripts(unittest.TestCase):
    def script(self, name, *args):
        p = subprocess.run([sys.executable, os.path.join(support.REPO, "tools", name), *args],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_plot_tpres_and_plot_mnist(self):
        d = support.make_run("zipped", support.ZIPPED)
        res = os.path.join(d, "results.h5")
        png = os.path.join(support.tmpdir("png"), "tpres.png")
        self.assertEqual(self.script("plot_tpres.py", res, "-o", png).strip(), png)
        self.assertGreater(os.path.getsize(png), 10000)
        self.script("plot_mnist.py", res, "-o", os.path.join(support.tmpdir("png"), "m.png"))
        table = self.script("plot_mnist.py", res, "--table")
        self.assertIn("| 11 | 2 |", table)
        self.assertIn("over 12 replicas", table)

    def test_every_script_writes_vector_output(self):
        # --format pdf|svg (apical.style): the file has that format, whatever -o ends with
        out = support.tmpdir("vector")
        zipped = os.path.join(support.make_run("zipped", support.ZIPPED), "results.h5")
        spiking = os.path.join(support.make_run("rate_spiking", support.RATE_SPIKING),
                               "results.h5")
        readings = os.path.join(support.make_run("readings", support.READINGS), "results.h5")
        lif = os.path.join(support.make_run("lif", support.LIF), "results.h5")
        runs = [("plot_tpres.py", [zipped, "-o", f"{out}/tpres.png"], "tpres"),
                ("plot_spiking.py", [spiking, "-o", f"{out}/spiking.png"], "spiking"),
                ("plot_mstdp.py", [readings, "-o", f"{out}/curves.png"], "curves"),
                ("plot_mstdp.py", [readings, "--generated", "-o", f"{out}/gen.png"], "gen"),
                ("plot_selfpred.py", [zipped, "-o", f"{out}/selfpred.png"], "selfpred"),
                ("plot_lif.py", [lif, "-o", out], "lif_conn")]
        # every script as svg, one as pdf too (each start of a script costs a second or two)
        for fmt, magic, scripts in (("svg", b"<svg", runs), ("pdf", b"%PDF", runs[:1])):
            for script, args, stem in scripts:
                with self.subTest(script=script, fmt=fmt):
                    self.script(script, *args, "--format", fmt)
                    path = os.path.join(out, f"{stem}.{fmt}")
                    with open(path, "rb") as f:
                        head = f.read(4096)
                    self.assertIn(magic, head)


if __name__ == "__main__":
    unittest.main()
