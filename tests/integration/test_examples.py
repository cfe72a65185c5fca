"""The documentation runs: every script in shell-examples/ prints exactly
what its header says, and the help files and man pages name every file and
flag there is (STYLE.md: "Examples run"; DESIGN.md §2: help everywhere)."""
import glob
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import ROOT, CIRCUITD, DaemonTest, read

EXAMPLES = os.path.join(ROOT, "shell-examples")
BUILD = os.environ.get("CIRCUIT_BUILD", os.path.join(ROOT, "build"))
MAN = os.path.join(ROOT, "man")
REQUIRED = ["producer-consumer.sh", "rendezvous.sh", "errors.sh", "run-command.sh", "supervisor.sh", "goroutines.sh"]


def scripts():
    return sorted(glob.glob(os.path.join(EXAMPLES, "*.sh")))


def header(path):
    """The leading comment block of a script, without the '#'s."""
    lines = []
    with open(path) as f:
        for n, line in enumerate(f):
            if n == 0 and line.startswith("#!"):
                continue
            if not line.startswith("#"):
                break
            lines.append(line.rstrip("\n")[2:] if line.startswith("# ") else line.rstrip("\n")[1:])
    return lines


def promised_output(path, host):
    """The lines under "Prints exactly:", indented two spaces in the header;
    HOST stands for the host name."""
    lines = header(path)
    if "Prints exactly:" not in lines:
        raise AssertionError("%s: no \"Prints exactly:\" in its header" % os.path.basename(path))
    out = []
    for line in lines[lines.index("Prints exactly:") + 1:]:
        if not line.startswith("  "):
            break
        out.append(re.sub(r"\bHOST\b", host, line[2:]))
    return "".join(l + "\n" for l in out)


def man_sections(path):
    """{heading: roff text} for every .SH and .SS of a man page."""
    sections, name, body = {}, "", []
    with open(path) as f:
        for line in f:
            m = re.match(r'^\.S[HS]\s+"?([^"\n]*)"?\s*$', line)
            if m:
                sections[name] = "".join(body)
                name, body = m.group(1), []
            else:
                body.append(line)
    sections[name] = "".join(body)
    return sections


def tagged(roff, word):
    """Whether `word` is the tag of a .TP paragraph in `roff` (as .B/.BI/.BR)."""
    w = re.escape(word.replace("-", "\\-"))
    return re.search(r"^\.TP\n\.B[IR]?\s+%s(\s|$)" % w, roff, re.M) is not None


class Examples(DaemonTest):
    def run_script(self, path, *args):
        t0 = time.monotonic()
        # goroutines.sh runs libcircuit's example program, as built here.
        env = dict(os.environ, SERVICE=os.path.join(BUILD, "examples", "service"))
        r = subprocess.run(["sh", path, self.d.mnt, *args], cwd=self.d.dir, env=env,
                           capture_output=True, timeout=30)
        return r, time.monotonic() - t0

    def assertCleanedUp(self, script):
        for folder in ("channels", "workers"):
            left = sorted(os.listdir(self.d.host(folder)))
            self.assertEqual(left, ["error", "help"], "%s left %s behind" % (script, folder))

    def test_the_required_examples_are_there(self):
        names = [os.path.basename(p) for p in scripts()]
        for name in REQUIRED:
            self.assertIn(name, names)

    def test_every_script_says_what_it_shows_and_what_it_prints(self):
        for path in scripts():
            with self.subTest(script=os.path.basename(path)):
                lines = header(path)
                self.assertTrue(lines and lines[0].startswith(os.path.basename(path) + " "),
                                "the header should open with the script's name and what it shows")
                self.assertTrue(promised_output(path, self.d.name), "the header promises no output")

    def test_every_script_prints_exactly_what_its_header_says(self):
        for path in scripts():
            name = os.path.basename(path)
            with self.subTest(script=name):
                r, took = self.run_script(path, self.d.name)
                self.assertEqual(r.returncode, 0, "%s failed: %s" % (name, r.stderr.decode()))
                self.assertEqual(r.stdout.decode(), promised_output(path, self.d.name))
                self.assertEqual(r.stderr.decode(), "")
                self.assertLess(took, 10, "%s took %.1f s" % (name, took))
                self.assertCleanedUp(name)

    def test_scripts_find_the_host_in_members_when_not_told(self):
        for path in scripts():
            name = os.path.basename(path)
            with self.subTest(script=name):
                r, _ = self.run_script(path)
                self.assertEqual(r.returncode, 0, "%s failed: %s" % (name, r.stderr.decode()))
                self.assertEqual(r.stdout.decode(), promised_output(path, self.d.name))
                self.assertCleanedUp(name)

    def test_a_script_refuses_a_mount_point_without_circuit(self):
        r = subprocess.run(["sh", os.path.join(EXAMPLES, "errors.sh"), self.d.dir],
                           capture_output=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"no circuit mounted at", r.stderr)


class Docs(DaemonTest):
    """For each kind of directory: what ls shows is in its help and in circuit(4)."""

    def setUp(self):
        super().setUp()
        os.mkdir(self.d.chan("a"))
        self.addCleanup(lambda: os.path.isdir(self.d.chan("a")) and os.rmdir(self.d.chan("a")))
        self.worker = self.d.host("workers", "w")
        os.mkdir(self.worker)  # a new worker: never started, so rmdir takes it
        self.addCleanup(lambda: os.path.isdir(self.worker) and os.rmdir(self.worker))
        self.man4 = man_sections(os.path.join(MAN, "circuit.4"))

    def kinds(self):
        """(kind, directory, its man section, element directories and their tag)"""
        return [
            ("root", self.d.path(), "The root: /circuit", {self.d.name: "HOST/"}),
            ("host", self.d.host(), "A host: /circuit/HOST", {}),
            ("channels", self.d.host("channels"), "The channels directory: /circuit/HOST/channels",
             {"a": None}),
            ("channel", self.d.chan("a"), "A channel: /circuit/HOST/channels/NAME", {}),
            ("workers", self.d.host("workers"), "The workers directory: /circuit/HOST/workers",
             {"w": None}),
            ("worker", self.worker, "A worker: /circuit/HOST/workers/NAME", {}),
            ("bin", self.d.host("bin"), "The binary store: /circuit/HOST/bin", {}),
        ]

    def test_every_file_ls_shows_is_in_its_directorys_help(self):
        for kind, path, _, elements in self.kinds():
            help_text = read(os.path.join(path, "help")).decode()
            for name in os.listdir(path):
                if name in elements:
                    continue
                with self.subTest(kind=kind, name=name):
                    if os.path.isdir(os.path.join(path, name)):
                        self.assertIn(name + "/", help_text)
                    else:
                        self.assertRegex(help_text, r"(?m)^  %s\s" % re.escape(name))

    def test_every_file_ls_shows_is_in_circuit_4_under_its_directory(self):
        common = self.man4["Files in every directory"]
        for kind, path, section, elements in self.kinds():
            self.assertIn(section, self.man4, "circuit(4) has no section for the %s" % kind)
            roff = self.man4[section]
            for name in os.listdir(path):
                with self.subTest(kind=kind, name=name):
                    if name in elements:
                        if elements[name]:
                            self.assertTrue(tagged(roff, elements[name]), elements[name])
                    elif name in ("help", "error"):
                        self.assertTrue(tagged(common, name))
                    elif os.path.isdir(os.path.join(path, name)):
                        self.assertTrue(tagged(roff, name + "/"))
                    else:
                        self.assertTrue(tagged(roff, name))

    def test_every_ctl_command_in_a_help_is_in_circuit_4(self):
        for kind, path, section, _ in self.kinds():
            help_text = read(os.path.join(path, "help")).decode()
            if "ctl commands:\n" not in help_text:
                continue
            block = help_text.split("ctl commands:\n")[1].split("\n\n")[0]
            verbs = [line.split()[0] for line in block.splitlines() if line.strip()]
            self.assertIn("stop", verbs)
            for verb in verbs:
                with self.subTest(kind=kind, verb=verb):
                    self.assertTrue(tagged(self.man4[section], verb))

    def test_the_host_and_the_worker_have_ctl_commands(self):
        for path in (self.d.host(), self.worker):
            self.assertIn("ctl commands:\n", read(os.path.join(path, "help")).decode())

    def test_every_flag_of_circuitd_help_is_in_circuitd_8(self):
        usage = subprocess.run([CIRCUITD, "--help"], capture_output=True, timeout=10).stdout.decode()
        flags = re.findall(r"(?m)^  (--[a-z-]+)", usage)
        self.assertIn("--mount", flags)
        options = man_sections(os.path.join(MAN, "circuitd.8"))["OPTIONS"]
        for flag in flags:
            with self.subTest(flag=flag):
                self.assertTrue(tagged(options, flag), "%s is not in circuitd(8) OPTIONS" % flag)

    @unittest.skipIf(shutil.which("groff") is None, "groff is not installed")
    def test_the_man_pages_render_without_warnings(self):
        for page in ("circuitd.8", "circuit.4"):
            with self.subTest(page=page):
                r = subprocess.run(["groff", "-ww", "-man", "-z", os.path.join(MAN, page)],
                                   capture_output=True, timeout=30)
                self.assertEqual((r.returncode, r.stderr.decode()), (0, ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
