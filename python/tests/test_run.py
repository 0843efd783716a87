"""apical.run: overrides, the run directory, failures as exceptions."""

import os
import unittest

import support  # noqa: F401  (skips everything without h5py)
import numpy as np

import apical
from apical.runner import ini_value, settings


class Overrides(unittest.TestCase):
    def test_values_as_experiment_file_text(self):
        self.assertEqual(ini_value(True), "true")
        self.assertEqual(ini_value(range(1, 4)), "1..3")
        self.assertEqual(ini_value([10, 20]), "10, 20")
        self.assertEqual(ini_value([[0.5, 0.1], [0.05, 0.01]]), "[0.5, 0.1], [0.05, 0.01]")
        self.assertEqual(ini_value(np.array([1, 2])), "1, 2")
        self.assertEqual(ini_value(0.1), "0.1")
        self.assertEqual(settings({"train.epochs": 2}, sweep__le__variant="le"),
                         ["--set", "train.epochs=2", "--set", "sweep.le.variant=le"])
        with self.assertRaisesRegex(TypeError, "section"):
            settings(epochs=2)


class Run(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ini = os.path.join(support.tmpdir("ini"), "grid.ini")
        with open(cls.ini, "w") as f:
            f.write(support.GRID)

    def test_run_with_overrides_returns_the_results(self):
        out = os.path.join(support.tmpdir("run"), "a")
        lines = []
        r = apical.run(self.ini, out, support.binary(), {"train.epochs": 2},
                       sweep__seed=range(1, 3), sweep__t_pres=[10], progress=lines.append,
                       xarray=False)
        self.assertIsInstance(r, apical.Results)
        self.assertEqual((r.epochs, r.epochs_done, r.n_replicas), (2, 2, 4))
        self.assertEqual(r.axes, {"variant": ["original", "le"], "seed": [1, 2]})
        self.assertTrue(os.path.exists(os.path.join(out, "results.h5")))
        self.assertTrue(any("done:" in ln for ln in lines), lines)
        # the same numbers as the program's own file of the grid run
        grid = apical.load(support.make_run("grid", support.GRID), xarray=False)
        same = grid.select(t_pres=10, seed=[1, 2])
        np.testing.assert_array_equal(r.series["val_mse"], same.series["val_mse"][:, :2])

    def test_experiment_text_and_default_directory(self):
        cwd = os.getcwd()
        os.chdir(support.tmpdir("cwd"))
        try:
            r = apical.run(support.GRID, binary=support.binary(), train__epochs=1,
                           sweep__seed=1, progress=False, xarray=False)
        finally:
            os.chdir(cwd)
        self.assertTrue(os.path.exists(os.path.join(support.tmpdir("cwd"), "runs", "grid",
                                                    "results.h5")))
        self.assertEqual(r.n_replicas, 4)

    def test_a_bad_key_raises_with_the_programs_message(self):
        with self.assertRaises(apical.ApicalError) as cm:
            apical.run(self.ini, os.path.join(support.tmpdir("run"), "bad"), support.binary(),
                       model__no_such_key=1, progress=False)
        e = cm.exception
        self.assertEqual(e.returncode, 78)
        self.assertIn("no_such_key", str(e))
        self.assertIn("no_such_key", e.stderr)
        self.assertIn("bad configuration", str(e))
        with self.assertRaises(apical.ApicalError) as cm:
            apical.run(self.ini, os.path.join(support.tmpdir("run"), "bad2"), support.binary(),
                       sweep__t_pres="3..1", progress=False)
        self.assertEqual(cm.exception.returncode, 78)

    def test_keywords_without_a_section_are_refused(self):
        with self.assertRaisesRegex(TypeError, "section__key"):
            apical.run(self.ini, binary=support.binary(), epochs=2)

    def test_binary_lookup(self):
        with self.assertRaisesRegex(FileNotFoundError, "no such program"):
            apical.run(self.ini, binary="/nonexistent/apical")
        self.assertEqual(apical.find_binary(support.binary()), support.binary())

    def test_binary_found_in_build_of_the_current_directory_and_on_path(self):
        """without binary= or $APICAL_BINARY: ./build/apical, then apical on PATH"""
        from unittest import mock
        from apical import runner
        clone = support.tmpdir("clone")
        os.makedirs(os.path.join(clone, "build"), exist_ok=True)
        prog = os.path.join(clone, "build", "apical")
        with open(prog, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(prog, 0o755)
        bindir = support.tmpdir("bindir")
        on_path = os.path.join(bindir, "apical")
        with open(on_path, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(on_path, 0o755)
        here = os.getcwd()
        env = {k: v for k, v in os.environ.items() if k != "APICAL_BINARY"}
        env["PATH"] = bindir
        # neither the interpreter's scripts folder nor the package's repository holds one
        nowhere = os.path.join(support.tmpdir("nowhere"), "x", "y")
        try:
            with mock.patch.dict(os.environ, env, clear=True), \
                    mock.patch.object(runner.sysconfig, "get_path", lambda *a: nowhere), \
                    mock.patch.object(runner, "__file__", os.path.join(nowhere, "runner.py")):
                os.chdir(clone)
                self.assertEqual(apical.find_binary(), prog)
                os.remove(prog)
                self.assertEqual(apical.find_binary(), on_path)
                os.remove(on_path)
                with self.assertRaisesRegex(FileNotFoundError, "pip install"):
                    apical.find_binary()
        finally:
            os.chdir(here)


if __name__ == "__main__":
    unittest.main()
