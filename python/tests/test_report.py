"""apical report: the page of a run of each model is self-contained (every figure an
embedded PNG, nothing fetched), shows the model's own panels, says when the run is still
going, and loads in a real browser (Debian's chromium, headless) with every image decoded
and no console error. The browser test is skipped where chromium is absent (CI installs
it: .ci/run, which sets APICAL_REQUIRE_CHROMIUM so that it cannot be skipped there)."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import support

apical = support.apical

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)

if not CHROMIUM and os.environ.get("APICAL_REQUIRE_CHROMIUM"):  # CI (.ci/run): no silent skip
    raise RuntimeError("APICAL_REQUIRE_CHROMIUM is set and chromium is not installed")

# injected into a copy of the page: after load, every <img>'s state and every error,
# written into the DOM that --dump-dom prints
CHECK = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
const _ce = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); _ce(...a); };
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const d = document.createElement('pre'); d.id = 'apical-check';
  d.textContent = JSON.stringify({images: imgs.length, broken: broken, errors: window.__errors});
  document.body.appendChild(d);
});
</script>"""


_PAGES = {}


def report(name, text):
    """(the page's text, the Page) of a small run of the experiment, made once"""
    from apical import report as rep

    if name not in _PAGES:
        d = support.make_run(name, text)
        out = os.path.join(support.tmpdir("reports"), f"{name}.html")
        path, page = rep.build(d, out)
        with open(path, encoding="utf-8") as f:
            _PAGES[name] = (f.read(), page)
    return _PAGES[name]


def browser(html_text):
    """what the page says after it loaded in headless chromium: (the check's dict, the
    console lines chromium logged)"""
    work = tempfile.mkdtemp(prefix="apical-chromium-", dir=support.tmpdir("browser"))
    page = os.path.join(work, "page.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(html_text.replace("<head>", "<head>" + CHECK, 1))
    p = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={work}/profile", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", "file://" + page],
        capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="apical-check">([^<]*)</pre>', p.stdout)
    if not m:
        raise AssertionError(f"chromium gave no check (exit {p.returncode}): {p.stderr[-2000:]}")
    console = [ln for ln in p.stderr.splitlines() if ":CONSOLE" in ln]
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")), console


@unittest.skipUnless(support.HAVE_MPL, "matplotlib is not installed")
class Page(unittest.TestCase):
    def assert_self_contained(self, text, page):
        imgs = re.findall(r"<img [^>]*>", text)
        self.assertGreater(len(imgs), 0)
        self.assertEqual(len(imgs), page.figures)
        for img in imgs:
            self.assertRegex(img, r'src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"')
        # nothing fetched: no remote or file reference, no script, no stylesheet link
        self.assertNotRegex(text, r'(src|href)="(https?:|//|file:)')
        self.assertNotIn("<script", text)
        self.assertNotIn("<link", text)
        self.assertEqual(page.failed, [])
        self.assertNotIn("figure-error", text.split("</style>", 1)[1])

    def test_microcircuit_rate_and_spiking(self):
        text, page = report("rate_spiking", support.RATE_SPIKING)
        self.assert_self_contained(text, page)
        self.assertIn('id="spiking"', text)  # the rate-against-spiking section
        self.assertIn('alt="rate against spiking"', text)
        for key in ("neuron", "t_pres", "psi", "tau_dend"):
            self.assertIn(f'alt="val_acc against {key}"', text)
        self.assertIn("finished: 2 epochs", text)

    def test_lif_conn_rates_and_raster(self):
        text, page = report("lif", support.LIF)
        self.assert_self_contained(text, page)
        for alt in ("Conn curves", "population rates", "spike raster"):
            self.assertIn(f'alt="{alt}"', text)

    def test_mstdp_generated(self):
        text, page = report("readings", support.READINGS)
        self.assert_self_contained(text, page)
        self.assertIn('alt="generated digits"', text)
        self.assertIn('alt="learning curves of test_acc_clamped by clamp"', text)

    def test_a_run_still_going(self):
        # a run stopped after 2 of 3 epochs, its directory locked as a live run's is
        from apical import report as rep

        src = support.partial_copy("grid", support.GRID, 2)
        d = os.path.dirname(src)
        with open(os.path.join(d, ".lock"), "w") as f:
            f.write(f"{os.getpid()}\n")  # a live process, as the run writes its own
        try:
            path, page = rep.build(d)
        finally:
            os.remove(os.path.join(d, ".lock"))
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("<strong>running</strong>: 2 of 3 epochs done", text)
        self.assert_self_contained(text, page)

    def test_a_lock_left_by_a_killed_run(self):
        from apical import report as rep

        d = os.path.dirname(support.partial_copy("grid", support.GRID, 1))
        dead = subprocess.Popen(["true"])
        dead.wait()  # a pid that no process holds now
        with open(os.path.join(d, ".lock"), "w") as f:
            f.write(f"{dead.pid}\n")
        try:
            path, _ = rep.build(d)
        finally:
            os.remove(os.path.join(d, ".lock"))
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f"its .lock names process {dead.pid}", text)
        self.assertNotIn("<strong>running</strong>", text)

    def test_the_program_hands_over(self):
        d = support.make_run("grid", support.GRID)
        out = os.path.join(support.tmpdir("reports"), "by-program.html")
        p = subprocess.run([support.binary(), "report", d, "-o", out], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"wrote {out}", p.stdout)
        with open(out, encoding="utf-8") as f:
            self.assertIn("<title>apical report: grid</title>", f.read())
        p = subprocess.run([support.binary(), "report", os.path.join(d, "nothing")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 66, p.stderr)

    def test_without_a_python_that_can_draw_it(self):
        # the program away from its clone (no python/ beside it) and a Python that cannot
        # import apical: exit 69 and what to install
        lone = os.path.join(support.tmpdir("lone"), "apical")
        shutil.copy(support.binary(), lone)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        env["APICAL_PYTHON"] = "/nonexistent/python3"
        env["PATH"] = support.tmpdir("empty-path")
        p = subprocess.run([lone, "report", support.make_run("grid", support.GRID)],
                           capture_output=True, text=True, env=env)
        if p.returncode == 0:
            self.skipTest("/usr/bin/python3 imports apical without PYTHONPATH (installed)")
        self.assertEqual(p.returncode, 69, p.stderr)
        self.assertIn("pip install '.[plot]'", p.stderr)


@unittest.skipUnless(support.HAVE_MPL, "matplotlib is not installed")
@unittest.skipUnless(CHROMIUM, "chromium is not installed (Debian: apt-get install chromium)")
class Browser(unittest.TestCase):
    def test_every_figure_loads_without_console_errors(self):
        for name, text in (("lif", support.LIF), ("readings", support.READINGS),
                           ("rate_spiking", support.RATE_SPIKING)):
            with self.subTest(run=name):
                page_text, page = report(name, text)
                check, console = browser(page_text)
                self.assertEqual(check["images"], page.figures)
                self.assertGreater(check["images"], 0)
                self.assertEqual(check["broken"], [])
                self.assertEqual(check["errors"], [])
                self.assertEqual(console, [])

    def test_the_check_sees_a_broken_image_and_an_error(self):
        # the same check on a page with one damaged image and a script error must say so
        page_text, _ = report("lif", support.LIF)
        bad = page_text.replace("base64,iVBOR", "base64,XXXX", 1).replace(
            "</body>", "<script>undefinedFunction()</script></body>")
        check, console = browser(bad)
        self.assertEqual(len(check["broken"]), 1)
        self.assertTrue(any("undefinedFunction" in e for e in check["errors"]), check)
        self.assertTrue(any("undefinedFunction" in ln for ln in console), console)


if __name__ == "__main__":
    unittest.main()
