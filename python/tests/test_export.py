"""apical.export: lif_stdp rasters as NWB (validated by pynwb, inspected by nwbinspector
where installed) and as a Neo Block that Elephant reads. Each part is skipped, saying
so, where its packages are missing (tools/install_check.sh installs them in a venv)."""

import os
import unittest

import support
import numpy as np

from apical import export

try:
    import pynwb
    HAVE_PYNWB = True
except ImportError:
    HAVE_PYNWB = False
try:
    import neo  # noqa: F401
    import quantities as pq
    HAVE_NEO = True
except ImportError:
    HAVE_NEO = False
try:
    import elephant.statistics as es
    HAVE_ELEPHANT = True
except ImportError:
    HAVE_ELEPHANT = False
try:
    import nwbinspector
    HAVE_INSPECTOR = True
except ImportError:
    HAVE_INSPECTOR = False


def lif():
    return support.apical.load(support.make_run("lif", support.LIF), xarray=False)


def raster_times(r, rep):
    """every (neuron, time in s) of a replica, straight from the file"""
    ev = np.asarray(r.events("raster", rep))
    dt = float(np.asarray(r.params["dt"])[rep]) * 1e-3
    return ev[:, 0].astype(int), ev[:, 1] * dt


class Trains(unittest.TestCase):
    def test_populations_and_trains_cover_the_raster(self):
        r = lif()
        pops = export.populations(r, 0)
        self.assertEqual(len(pops), 12)
        self.assertEqual(pops[0][:3], ("PA", "L2/3", "Pyr"))
        self.assertEqual(pops[-1][:3], ("HA", "L4", "PV"))
        n = sum(p[4] for p in pops)
        trains, dt = export.spike_trains(r, 1)
        self.assertEqual(len(trains), n)
        neuron, t = raster_times(r, 1)
        self.assertGreater(len(neuron), 0, "the test run has no spikes")
        self.assertEqual(sum(len(x) for x in trains), len(neuron))
        busiest = np.bincount(neuron).argmax()
        np.testing.assert_array_equal(trains[busiest], t[neuron == busiest])

    def test_other_models_are_refused(self):
        r = support.apical.load(support.make_run("grid", support.GRID), xarray=False)
        with self.assertRaisesRegex(ValueError, "lif_stdp"):
            export.spike_trains(r, 0)


@unittest.skipUnless(HAVE_PYNWB, "pynwb is not installed (pip install pynwb)")
class NWB(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = lif()
        cls.path = os.path.join(support.tmpdir("nwb"), "lif.nwb")
        export.nwb(cls.r, cls.path, overwrite=True)

    def test_the_validator_finds_nothing(self):
        try:
            out = pynwb.validate(path=self.path)        # pynwb 3 and later
        except TypeError:
            out = pynwb.validate(paths=[self.path])     # pynwb 2
        errors = out[0] if isinstance(out, tuple) else out
        self.assertEqual(list(errors), [], f"pynwb.validate: {errors}")

    def test_units_hold_every_neuron_and_spike(self):
        r = self.r
        n = sum(p[4] for p in export.populations(r, 0))
        with pynwb.NWBHDF5IO(self.path, "r") as io:
            f = io.read()
            units = f.units.to_dataframe()
            self.assertEqual(len(units), n * r.n_replicas)
            self.assertEqual(set(units["assembly"]), {"PA", "NPA", "HA"})
            self.assertEqual(set(units["population"]),
                             {f"{a} {l} {t}" for a in export.ASSEMBLIES for l in export.LAYERS
                              for t in export.TYPES})
            self.assertIn("topdown", units.columns)
            self.assertIn("seed", units.columns)
            self.assertIn("raster_ms", f.notes)  # the run's configuration
            for rep in range(r.n_replicas):
                neuron, t = raster_times(r, rep)
                mine = units[units["replica"] == rep]
                self.assertEqual(sum(len(x) for x in mine["spike_times"]), len(neuron))
                busiest = np.bincount(neuron).argmax()
                row = mine[mine["neuron"] == busiest].iloc[0]
                np.testing.assert_allclose(row["spike_times"], t[neuron == busiest], rtol=0,
                                           atol=1e-12)
            self.assertEqual(units[units["neuron"] == 0]["population"].iloc[0], "PA L2/3 Pyr")

    def test_an_existing_file_is_kept(self):
        with self.assertRaises(FileExistsError):
            export.nwb(self.r, self.path)

    @unittest.skipUnless(HAVE_INSPECTOR, "nwbinspector is not installed")
    def test_nwbinspector_reports_no_errors(self):
        msgs = list(nwbinspector.inspect_nwbfile(nwbfile_path=self.path))
        # "Subject is missing" is the one critical message it may give: a simulation has no
        # animal, and apical does not make one up (docs/python.md)
        bad = [m for m in msgs if m.importance.name in ("CRITICAL", "PYNWB_VALIDATION",
                                                        "ERROR")
               and m.check_function_name != "check_subject_exists"]
        self.assertEqual(bad, [], "\n".join(str(m) for m in bad))


@unittest.skipUnless(HAVE_NEO, "neo is not installed (pip install neo)")
class Neo(unittest.TestCase):
    def test_block_of_one_replica(self):
        r = lif()
        block = export.neo(r, replica=2)
        seg = block.segments[0]
        n = sum(p[4] for p in export.populations(r, 2))
        self.assertEqual(len(seg.spiketrains), n)
        self.assertEqual([g.name for g in block.groups][:2], ["PA L2/3 Pyr", "PA L2/3 PV"])
        neuron, t = raster_times(r, 2)
        self.assertEqual(sum(len(st) for st in seg.spiketrains), len(neuron))
        st = seg.spiketrains[int(np.bincount(neuron).argmax())]
        np.testing.assert_allclose(st.rescale(pq.s).magnitude, t[neuron == st.annotations["neuron"]])
        self.assertAlmostEqual(float(seg.spiketrains[0].t_stop.rescale(pq.s)), 0.02)

    @unittest.skipUnless(HAVE_ELEPHANT, "elephant is not installed (pip install elephant)")
    def test_elephant_reads_the_trains(self):
        r = lif()
        block = export.neo(r, replica=0)
        neuron, _ = raster_times(r, 0)
        for group, (a, l, t, first, count) in zip(block.groups, export.populations(r, 0)):
            rates = [float(es.mean_firing_rate(st).rescale(pq.Hz)) for st in group.spiketrains]
            want = np.sum((neuron >= first) & (neuron < first + count)) / (count * 0.02)
            self.assertAlmostEqual(np.mean(rates), want, places=6, msg=group.name)
        hist = es.time_histogram(block.segments[0].spiketrains, bin_size=5 * pq.ms)
        self.assertEqual(int(np.asarray(hist).sum()), len(neuron))


if __name__ == "__main__":
    unittest.main()
