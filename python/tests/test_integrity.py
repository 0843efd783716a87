"""apical.run and apical.load agree with the program (issue 25): threads as --threads,
errors that name the path."""

import os
import unittest

import support  # noqa: F401  (skips everything without h5py)

import apical


class Threads(unittest.TestCase):
    def test_threads_zero_is_refused_as_the_program_refuses_it(self):
        # the program refuses --threads 0; None (not 0) is every core
        for bad in (0, -1, 4097, 2.0, True):
            with self.assertRaisesRegex(ValueError, "from 1 to 4096"):
                apical.run(support.GRID, support.tmpdir("threads"), support.binary(),
                           threads=bad, progress=False)


class Paths(unittest.TestCase):
    def test_an_empty_or_foreign_file_names_its_path(self):
        d = support.tmpdir("paths")
        for name, data in (("empty.h5", b""), ("text.h5", b"not hdf5 at all\n" * 100)):
            path = os.path.join(d, name)
            with open(path, "wb") as f:
                f.write(data)
            # OSError here; a checksum check before it may refuse the file its own way
            with self.assertRaises(Exception) as cm:
                apical.load(path, xarray=False)
            self.assertIn(path, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
