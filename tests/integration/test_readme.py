"""The README's two-minute tour, run as written: every command of its sh
blocks goes to one real bash, in order, against a private daemon mounted
where the tour says /circuit; what a command prints must be what the `# `
lines under it say (a command with no such lines may print anything)."""
import os
import re
import subprocess
import unittest

from harness import ROOT, DaemonTest

MARK = "@@end-of-command@@"


def tour_steps(readme):
    """[(command, [expected lines])] of the sh blocks of the tour section."""
    section = readme.split("## A two-minute tour", 1)[1].split("\n## ", 1)[0]
    steps = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            if line.startswith("# "):
                steps[-1][1].append(line[2:])
            elif line.strip():
                steps.append((line, []))
    return steps


def matches(expected, got, host):
    """A promised line against a printed one: the machine is called `vm` in
    the README, a member id is any 16 hex digits, and bash names the line
    of a script where an interactive shell does not."""
    got = re.sub(r"^bash: line \d+: ", "bash: ", got)
    pattern = re.escape(expected.replace("vm", host))
    pattern = re.sub(r"[0-9a-f]{16}", "[0-9a-f]{16}", pattern)
    return re.fullmatch(pattern, got) is not None


class ReadmeTour(DaemonTest):
    timeout = 60

    def test_the_tour_prints_what_the_readme_says(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            steps = tour_steps(f.read())
        self.assertGreater(len(steps), 30, "the tour was not found in README.md")
        script = ""
        for cmd, _ in steps:
            # A group, so that the messages of the shell itself (a failed
            # redirection) come out too, and `&`, `cd` and `H=` still work.
            script += "{ " + cmd.replace("/circuit", self.d.mnt) + "\n} 2>&1\necho " + MARK + "\n"
        r = subprocess.run(["bash"], input=script.encode(), capture_output=True, timeout=40,
                           cwd="/")
        outputs = r.stdout.decode().split(MARK + "\n")
        self.assertEqual(len(outputs), len(steps) + 1, "the tour stopped early:\n" + r.stdout.decode()
                         + r.stderr.decode())
        for (cmd, expected), out in zip(steps, outputs):
            if not expected:
                continue
            got = out.splitlines()
            if cmd.startswith("ls "):  # a terminal's ls prints columns, a pipe's one name a line
                got = ["  ".join(got)]
            self.assertEqual(len(got), len(expected), "%s printed %r, the README says %r" % (cmd, got, expected))
            for e, g in zip(expected, got):
                self.assertTrue(matches(e, g, self.d.name),
                                "%s printed %r, the README says %r" % (cmd, g, e))


if __name__ == "__main__":
    unittest.main()
