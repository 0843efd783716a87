"""apical.load: axes, shapes and values against h5py, selection, every model, partial runs."""

import os
import unittest

import support  # noqa: F401  (skips everything without h5py)
import h5py
import numpy as np

import apical


def h5(run, path):
    with h5py.File(os.path.join(run, "results.h5"), "r") as f:
        return f[path][...]


class FullGrid(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = support.make_run("grid", support.GRID)
        cls.r = apical.load(cls.dir, xarray=False)

    def test_axes_are_the_swept_keys_in_sweep_order(self):
        r = self.r
        self.assertTrue(r.is_grid)
        # slowest-varying first: t_pres, variant, then seed (the sweep puts it last)
        self.assertEqual(list(r.axes), ["t_pres", "variant", "seed"])
        self.assertEqual(r.axes["t_pres"], [10, 20])
        self.assertEqual(r.axes["variant"], ["original", "le"])
        self.assertEqual(r.axes["seed"], [1, 2, 3])
        self.assertEqual(set(r.swept), {"seed", "t_pres", "variant"})
        self.assertEqual(r.depends, {})

    def test_series_and_params_are_the_files(self):
        r = self.r
        self.assertEqual((r.model, r.record, r.epochs, r.epochs_done, r.n_replicas),
                         ("microcircuit", "epoch", 3, 3, 12))
        for name in ("val_acc", "val_mse", "apical_error"):
            np.testing.assert_array_equal(r.series[name], h5(self.dir, f"series/{name}"))
        self.assertEqual(r.series["val_acc"].shape, (12, 3))
        self.assertEqual(r.series["apical_error"].shape, (12, 3, 1))
        np.testing.assert_array_equal(r.params["t_pres"], h5(self.dir, "replicas/t_pres"))
        np.testing.assert_array_equal(r.params["eta_up"], h5(self.dir, "replicas/eta_up"))
        self.assertEqual(r.params["dims"].shape, (12, 3))
        names = np.array(["original", "le"])
        np.testing.assert_array_equal(r.params["variant"], names[h5(self.dir, "replicas/variant")])
        self.assertEqual(r.params["init_selfpred"].dtype, bool)
        np.testing.assert_array_equal(r.records, [1, 2, 3])
        # a directory or its results.h5
        r2 = apical.load(os.path.join(self.dir, "results.h5"), xarray=False)
        np.testing.assert_array_equal(r2.series["val_mse"], r.series["val_mse"])

    def test_grid_puts_each_replica_at_its_parameters(self):
        r = self.r
        g = r.grid("val_mse")
        self.assertEqual(g.shape, (2, 2, 3, 3))
        for i, t in enumerate(r.axes["t_pres"]):
            for j, v in enumerate(r.axes["variant"]):
                for k, s in enumerate(r.axes["seed"]):
                    row = np.nonzero(r.where(t_pres=t, variant=v, seed=s))[0]
                    self.assertEqual(len(row), 1)
                    np.testing.assert_array_equal(g[i, j, k], r.series["val_mse"][row[0]])
        # a plain cross product: the grid is the replica order reshaped
        np.testing.assert_array_equal(g.reshape(12, 3), r.series["val_mse"])
        self.assertEqual(r.grid(r.at("val_mse")).shape, (2, 2, 3))

    def test_select_by_parameter_values(self):
        r = self.r
        le = r.select(variant="le")
        self.assertEqual(le.n_replicas, 6)
        self.assertTrue((le.params["variant"] == "le").all())
        self.assertEqual(list(le.axes), ["t_pres", "seed"])
        np.testing.assert_array_equal(le.index, np.nonzero(r.params["variant"] == "le")[0])
        np.testing.assert_array_equal(le.series["val_acc"], r.series["val_acc"][le.index])
        two = r.select(t_pres=[10, 20], seed=[1, 3], variant="original")
        self.assertEqual(two.n_replicas, 4)
        self.assertEqual(r.where(dt=0.1).sum(), 12)  # stored as float64: 0.1 matches
        self.assertEqual(r.where(eta_up=[0.05, 0.01]).sum(), 12)  # one row of a list key
        self.assertEqual(r.where(init_selfpred=True).sum(), 12)
        with self.assertRaisesRegex(ValueError, "no replica"):
            r.select(t_pres=30)
        with self.assertRaisesRegex(KeyError, "no_such_key"):
            r.where(no_such_key=1)
        w = le.weights["layer0/W_up"]
        np.testing.assert_array_equal(w, h5(self.dir, "weights/layer0/W_up")[le.index])

    def test_at_and_last_record(self):
        r = self.r
        np.testing.assert_array_equal(r.at("val_acc"), r.series["val_acc"][:, 2])
        np.testing.assert_array_equal(r.at("val_acc", 1), r.series["val_acc"][:, 0])
        self.assertEqual(r.last_record("test_acc"), 3)  # Bars: a test phase after the last


class ZippedSubSweeps(unittest.TestCase):
    """Fig. 3's sweep: zipped keys and out_lag per t_pres are coordinates, not axes"""

    @classmethod
    def setUpClass(cls):
        cls.dir = support.make_run("zipped", support.ZIPPED)
        cls.r = apical.load(cls.dir, xarray=False)

    def test_axes_and_dependent_keys(self):
        r = self.r
        self.assertTrue(r.is_grid)
        self.assertEqual(list(r.axes), ["variant", "t_pres", "seed"])
        self.assertEqual(r.axes["variant"], ["le", "original"])
        self.assertEqual(r.depends, {"eta_up": ("t_pres",), "eta_ip": ("t_pres",),
                                     "out_lag": ("variant", "t_pres")})
        g = r.grid(r.params["out_lag"])
        np.testing.assert_array_equal(g[:, :, 0], [[0, 0, 0], [2, 5, 8]])
        self.assertEqual(r.grid("val_acc").shape, (2, 3, 2, 2))


class NoGrid(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = support.make_run("readings", support.READINGS)
        cls.r = apical.load(cls.dir, xarray=False)

    def test_replicas_that_are_not_a_grid(self):
        r = self.r
        self.assertEqual((r.model, r.record, r.n_replicas), ("mstdp", "record", 8))
        self.assertFalse(r.is_grid)
        self.assertEqual(set(r.axes), {"seed", "clamp", "rule"})
        self.assertEqual(r.axes["clamp"], ["step", "momentum", "step_eps"])
        with self.assertRaisesRegex(ValueError, "not form a full grid"):
            r.grid("test_acc_free")
        # a part of it is one
        part = r.select(rule="post")
        self.assertTrue(part.is_grid)
        self.assertEqual(part.grid("energy").shape, (3, 2, 2))
        self.assertEqual(r.series["generated"].shape, (8, 2, 27))
        np.testing.assert_array_equal(r.weights["W_hh"], h5(self.dir, "weights/W_hh"))


class Lif(unittest.TestCase):
    def test_lif_results_and_events(self):
        d = support.make_run("lif", support.LIF)
        r = apical.load(d, xarray=False)
        self.assertEqual((r.model, r.record, r.epochs_done), ("lif_stdp", "record", 4))
        self.assertEqual(list(r.axes), ["topdown", "seed"])
        self.assertEqual(r.series["rates"].shape, (4, 4, 12))
        start = h5(d, "events/raster_start")
        raster = h5(d, "events/raster")
        np.testing.assert_array_equal(r.events("raster", 2), raster[start[2]:start[3]])
        off = r.select(topdown="off")
        np.testing.assert_array_equal(off.events("raster", 0),
                                      raster[start[off.index[0]]:start[off.index[0] + 1]])


class PartialRun(unittest.TestCase):
    def test_a_run_stopped_after_one_record(self):
        path = support.partial_copy("grid", support.GRID, 1)
        r = apical.load(path, xarray=False)
        self.assertEqual((r.epochs_done, r.epochs), (1, 3))
        self.assertEqual(r.series["val_acc"].shape, (12, 3))
        self.assertTrue(np.isnan(r.series["val_acc"][:, 1:]).all())
        self.assertEqual(r.last_record("val_acc"), 1)
        np.testing.assert_array_equal(r.at("val_acc"), r.series["val_acc"][:, 0])
        with self.assertRaisesRegex(ValueError, "no value in a finished epoch"):
            r.last_record("test_acc")  # the test phase comes after the last epoch


class Shard(unittest.TestCase):
    def test_a_shards_rows_keep_their_replica_numbers(self):
        d = support.make_run("grid-shard", support.GRID, "--shard", "1/2")
        r = apical.load(d, xarray=False)
        whole = apical.load(support.make_run("grid", support.GRID), xarray=False)
        self.assertEqual((r.n_replicas, r.attrs["n_replicas_total"]), (6, 12))
        np.testing.assert_array_equal(r.index, h5(d, "shard/replicas"))
        np.testing.assert_array_equal(r.series["val_mse"], whole.series["val_mse"][r.index])
        for key in ("t_pres", "variant", "seed"):
            np.testing.assert_array_equal(r.params[key], whole.params[key][r.index])


class NotResults(unittest.TestCase):
    def test_missing_and_wrong_files(self):
        with self.assertRaises(FileNotFoundError):
            apical.load(support.tmpdir("empty"))
        ckpt = os.path.join(support.make_run("grid", support.GRID), "checkpoints",
                            "epoch-000000000.h5")
        with self.assertRaisesRegex(ValueError, "checkpoint"):
            apical.load(ckpt)


@unittest.skipUnless(support.HAVE_XARRAY, "xarray is not installed")
class Xarray(unittest.TestCase):
    def test_dataset_of_a_grid(self):
        d = support.make_run("zipped", support.ZIPPED)
        r = apical.load(d, xarray=False)
        ds = apical.load(d)
        self.assertEqual(dict(ds["val_acc"].sizes), {"variant": 2, "t_pres": 3, "seed": 2,
                                                     "epoch": 2})
        np.testing.assert_array_equal(ds["val_acc"].values, r.grid("val_acc"))
        one = r.select(variant="original", t_pres=20, seed=2)
        np.testing.assert_array_equal(ds["val_mse"].sel(variant="original", t_pres=20,
                                                        seed=2).values,
                                      one.series["val_mse"][0])
        self.assertEqual(ds["out_lag"].dims, ("variant", "t_pres"))
        np.testing.assert_array_equal(ds["eta_up"].sel(t_pres=20).values, [0.25, 0.05])
        self.assertEqual(ds["apical_error"].dims[-1], "hidden_layer")
        back = apical.Results.from_xarray(ds.sel(variant="le"))
        self.assertEqual(back.n_replicas, 6)
        np.testing.assert_array_equal(back.series["val_acc"],
                                      r.select(variant="le").series["val_acc"])

    def test_dataset_without_a_grid(self):
        # sub-sweeps that each change one key: a grid over rule x clamp x seed with the
        # cells no replica ran left NaN, replica -1 there
        d = support.make_run("readings", support.READINGS)
        r = apical.load(d, xarray=False)
        ds = apical.load(d)
        self.assertEqual(dict(ds["energy"].sizes), {"rule": 2, "clamp": 3, "seed": 2,
                                                    "record": 2})
        ran = ds["replica"].values >= 0
        self.assertEqual(int(ran.sum()), 8)
        self.assertTrue(np.isnan(ds["energy"].values[~ran]).all())
        one = ds["energy"].sel(rule="pre", clamp="step", seed=2).values
        np.testing.assert_array_equal(one, r.select(rule="pre", seed=2).series["energy"][0])
        back = apical.Results.from_xarray(ds)
        self.assertEqual(back.n_replicas, 8)
        order = np.argsort(back.index)
        np.testing.assert_array_equal(back.series["energy"][order], r.series["energy"])

    def test_constant_keys_are_attributes_with_units(self):
        d = support.make_run("lif", support.LIF)
        r = apical.load(d, xarray=False)
        ds = apical.load(d)
        for key in ("tau_m", "c_m", "n_pyr", "psc"):
            self.assertNotIn(key, ds.coords)
            self.assertIn(key, ds.attrs)
        self.assertEqual(ds.attrs["tau_m"], r.params["tau_m"][0])
        self.assertEqual(ds.attrs["units"]["tau_m"], "ms")
        self.assertEqual(ds.attrs["units"]["w_bu_pyr"], "pA")
        self.assertEqual(ds["conn_pa"].attrs["units"], "pA")
        self.assertEqual(ds["rates"].attrs["units"], "Hz")
        # only what varies is a coordinate: the axes, the replica numbers, the record's time
        self.assertEqual(set(ds.coords), {"topdown", "seed", "record", "replica", "time",
                                          "population"})
        back = apical.Results.from_xarray(ds.sel(topdown="off"))
        self.assertEqual(back.params["n_pyr"].tolist(), [ds.attrs["n_pyr"]] * 2)

    def test_lif_population_and_time(self):
        d = support.make_run("lif", support.LIF)
        r = apical.load(d, xarray=False)
        ds = apical.load(d)
        self.assertEqual(ds["rates"].dims[-1], "population")
        self.assertEqual(str(ds["population"].values[0]), "PA L2/3 Pyr")
        self.assertEqual(str(ds["population"].values[-1]), "HA L4 PV")
        self.assertEqual(ds["time"].dims, ("record",))
        self.assertEqual(ds["time"].attrs["units"], "s")
        # [train] record_ms = 5: record k ends at k x 5 ms
        np.testing.assert_allclose(ds["time"].values, r.records * 0.005)
        ha = ds["rates"].sel(population="HA L4 Pyr", topdown="on", seed=1).values
        np.testing.assert_array_equal(ha, r.select(topdown="on", seed=1).series["rates"][0, :, 10])

    def test_rate_and_spiking_on_a_neuron_axis(self):
        d = support.make_run("rate_spiking", support.RATE_SPIKING)
        r = apical.load(d, xarray=False)
        ds = apical.load(d)
        self.assertIn("neuron", ds["val_acc"].dims)
        self.assertEqual(list(ds["neuron"].values), ["rate", "poisson"])
        spiking = ds["val_acc"].sel(neuron="poisson", psi=30, tau_dend=0.3, t_pres=10, seed=2)
        np.testing.assert_array_equal(
            spiking.values, r.select(neuron="poisson", psi=30, tau_dend=0.3, t_pres=10,
                                     seed=2).series["val_acc"][0])
        rate = ds["val_acc"].sel(neuron="rate").dropna("psi", how="all").dropna("tau_dend",
                                                                               how="all")
        self.assertEqual(int(np.isfinite(rate.values).all(axis=-1).sum()), 4)  # 2 t_pres x 2 seeds
        self.assertEqual(apical.Results.from_xarray(ds).n_replicas, r.n_replicas)

    def test_mstdp_generated_as_images(self):
        d = support.make_run("readings", support.READINGS)
        r = apical.load(d, xarray=False)
        ds = apical.load(d)
        g = ds["generated"]
        # pixels = 9 (3 x 3), labels = 3, gen_samples = 1
        self.assertEqual(g.dims[-4:], ("label", "sample", "row", "col"))
        self.assertEqual(g.shape[-4:], (3, 1, 3, 3))
        flat = r.select(rule="post", clamp="step", seed=1).series["generated"][0, 0]
        np.testing.assert_array_equal(
            g.sel(rule="post", clamp="step", seed=1, record=1).values.reshape(-1), flat)


if __name__ == "__main__":
    unittest.main()
