"""The repository's documentation stands on its own: no citation of specification files that are
not in the repository, and every ``docs/<name>.md §X.Y`` citation names an existing file and section.

Fast and dependency-free (reads the tracked files as text).
"""
import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Names of external specifications that must not be cited. Built by concatenation so that this
# file does not match its own search.
_MD = "." + "md"
FORBIDDEN = [
    "PAPER" + "_SETUP",
    "MEMRISTOR" + "_MODEL",
    "FOLLOWUP" + "_SETUP",
    "SISYPHUS" + "_API",
    "ARCHITECTURE" + _MD,
    "PACKAGES" + _MD,
    ".." + "/shared",
]

# ``docs/<name>.md`` optionally followed by section references: "§2.4", "§2.4–§2.7", "§4, §5", "§1.6 / §2.7"
CITATION = re.compile(r"docs/([A-Za-z0-9_]+)\.md`?((?:\s*§\d+(?:\.\d+)?(?:\s*(?:–|-|,|/|and)\s*§\d+(?:\.\d+)?)*)?)")
SECTION = re.compile(r"§(\d+(?:\.\d+)?)")


def tracked_files():
    """Tracked text files (``git ls-files``; without git, a walk that skips .git and .venv)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
        names = [n for n in out.decode("utf-8").split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for root, dirs, files in os.walk(REPO):
            dirs[:] = [d for d in dirs if d not in (".git", ".venv", "work", "output", "__pycache__")]
            names += [os.path.relpath(os.path.join(root, f), REPO) for f in files]
    texts = {}
    for name in names:
        path = os.path.join(REPO, name)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data:
            continue  # binary
        texts[name] = data.decode("utf-8", errors="replace")
    return texts


def headings(text):
    """Section numbers defined by headings ``## 2. Title`` / ``### 2.4 Title``."""
    found = set()
    for line in text.splitlines():
        m = re.match(r"#{2,6}\s+(\d+(?:\.\d+)?)(?:\.|\s)", line)
        if m:
            found.add(m.group(1).rstrip("."))
    return found


def citations(texts):
    """(file, line number, doc name, [sections]) for every docs/<name>.md citation."""
    for name, text in texts.items():
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in CITATION.finditer(line):
                yield name, lineno, m.group(1), SECTION.findall(m.group(2))


@pytest.fixture(scope="module")
def texts():
    return tracked_files()


def test_no_external_spec_is_cited(texts):
    bad = [f"{name}:{lineno}: {word}" for name, text in texts.items()
           for lineno, line in enumerate(text.splitlines(), 1) for word in FORBIDDEN if word in line]
    assert not bad, "citations of specifications that are not in the repository:\n" + "\n".join(bad)


def test_cited_docs_exist(texts):
    bad = [f"{name}:{lineno}: docs/{doc}.md" for name, lineno, doc, _ in citations(texts)
           if not os.path.isfile(os.path.join(REPO, "docs", doc + ".md"))]
    assert not bad, "citations of missing docs:\n" + "\n".join(bad)


def test_cited_sections_exist(texts):
    sections = {}
    bad = []
    for name, lineno, doc, secs in citations(texts):
        path = os.path.join(REPO, "docs", doc + ".md")
        if not secs or not os.path.isfile(path):
            continue
        if doc not in sections:
            with open(path, encoding="utf-8") as f:
                sections[doc] = headings(f.read())
        bad += [f"{name}:{lineno}: docs/{doc}.md §{s}" for s in secs if s not in sections[doc]]
    assert not bad, "citations of sections without a heading (## N. / ### N.M):\n" + "\n".join(bad)


def test_the_checks_can_fail():
    """The patterns catch what they are meant to catch."""
    assert any(w in "see " + "MEMRISTOR" + "_MODEL.md §2.7" for w in FORBIDDEN)
    d = "docs" + "/"  # (concatenated: this file must not cite a missing doc or section itself)
    cites = list(citations({"x.py": f"({d}CROSSBAR_MAPPING.md §2.4–§2.7) and `{d}DEVICE_MODEL.md` §1.6 / §9.9"}))
    assert [(c[2], c[3]) for c in cites] == [("CROSSBAR_MAPPING", ["2.4", "2.7"]), ("DEVICE_MODEL", ["1.6", "9.9"])]
    assert headings("## 2. Title\n### 2.4 Tiling\n## Not numbered\n") == {"2", "2.4"}
