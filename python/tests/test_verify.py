"""apical.load checks a file's checksum before h5py reads it (docs/file-format.md)."""

import os
import random
import shutil
import unittest
import warnings

import support  # noqa: F401  (skips everything without h5py)

import apical


class Verify(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src = os.path.join(support.make_run("grid", support.GRID), "results.h5")

    def copy(self, name):
        dst = os.path.join(support.tmpdir("verify"), name)
        shutil.copy(self.src, dst)
        with open(dst, "rb") as f:
            return dst, bytearray(f.read())

    def test_a_good_file_loads(self):
        self.assertEqual(apical.load(self.src, xarray=False).epochs_done, 3)

    def test_flipped_bytes_are_refused_naming_the_file(self):
        path, data = self.copy("flipped.h5")
        rng = random.Random(25)
        for at in [3, 100, 511, 512, 2652 + 512] + rng.sample(range(len(data)), 30):
            d = bytearray(data)
            d[at] ^= 1 << rng.randrange(8)
            with open(path, "wb") as f:
                f.write(d)
            with self.assertRaises(apical.DamagedFileError, msg=f"byte {at}") as cm:
                apical.load(path, xarray=False)
            self.assertIn(path, str(cm.exception))
            self.assertIn("damaged", str(cm.exception))

    def test_truncated_and_empty_files_are_refused(self):
        path, data = self.copy("short.h5")
        for n in (len(data) - 1, 600, 10, 0):
            with open(path, "wb") as f:
                f.write(data[:n])
            with self.assertRaises(apical.DamagedFileError, msg=f"{n} bytes") as cm:
                apical.load(path, xarray=False)
            self.assertIn(path, str(cm.exception))

    def test_a_file_without_the_checksum_loads_with_a_warning(self):
        path, data = self.copy("old.h5")
        with open(path, "wb") as f:  # format 2's layout: no user block
            f.write(data[512:])
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = apical.load(path, xarray=False)
        self.assertEqual(r.epochs_done, 3)
        self.assertTrue(any("carries no checksum" in str(x.message) for x in w), w)


if __name__ == "__main__":
    unittest.main()
