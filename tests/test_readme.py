"""The README's Python API example runs as written (in a temporary directory) and does what its
text says; the API's argument mistakes raise `ConfigError`; a dict suite is a TOML suite; the
progress bars are tqdm's notebook widgets in a Jupyter kernel where ipywidgets is installed.

The documents hold together: the README stays short; every relative link of the README, the
changelog and docs/ reaches a file (and a heading, for an anchor); the README's layout table names
every module of `benchmark` and `baselines` but the packages' `__init__.py`, and every path it
names exists; the code cites docs/SCIENCE.md by its numbered sections, each of which exists, and
no outside specification."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from test_config import tiny_toml, write

import benchmark
from benchmark import api

ROOT = Path(__file__).resolve().parents[1]


def readme_python(section: str) -> str:
    """The ```python blocks between <!-- BEGIN section --> and <!-- END section -->."""
    text = (ROOT / "README.md").read_text()
    part = re.search(rf"<!-- BEGIN {section} -->(.*?)<!-- END {section} -->", text, re.S)
    assert part, f"README has no section {section!r}"
    blocks = re.findall(r"```python\n(.*?)```", part.group(1), re.S)
    assert blocks
    return "\n".join(blocks)


def test_the_readme_api_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(readme_python("api"), "README.md", "exec"), namespace)
    runs, frames = namespace["runs"], namespace["frames"]
    assert runs.method.tolist() == ["vera", "vi_flow"] and (runs.status == "ok").all()
    assert runs.reference.tolist()[0] == "demo/base" and runs.reference.isna().tolist()[1]
    assert len(namespace["weights"]) == 2 * 4  # two runs, four modes
    assert frames.names == {"vera": "VERA (ref)", "vi_flow": "Reverse-KL flow"}
    printed = stdout.getvalue()  # the tables of the runs of `mine` alone
    assert "| Reverse-KL flow " in printed and "VERA (ref)" not in printed
    for png, _ in namespace["figures"]:
        assert (tmp_path / "demo" / "figures" / png).stat().st_size > 0
    assert (tmp_path / "demo" / "mine" / "report.md").exists()


def test_a_suite_dict_is_checked_and_resolved_as_its_toml(tmp_path):
    path = write(tmp_path, tiny_toml(seeds="[0, 1]"))
    raw = tomllib.loads(path.read_text())
    raw["suite"]["seeds"] = np.array([0, 1])  # numpy values are taken as the numbers they hold
    assert api.load_suite(raw).resolved() == api.load_suite(path).resolved()
    raw["suite"]["methods"] = ["ula_ebn"]
    with pytest.raises(benchmark.ConfigError, match=r"^<dict>: suite.methods: unknown method"):
        api.load_suite(raw)
    raw["suite"]["methods"] = ["ula_ebm"]
    raw["targets"][0]["weights"] = {0.5}
    with pytest.raises(benchmark.ConfigError, match=r"^<dict>: targets\[0\].weights: not a TOML"):
        api.load_suite(raw)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"workers": 0}, "workers: must be an integer ≥ 1, got 0"),
        ({"device": "nonsense"}, "device: "),
        ({"against": 3}, "against: expected a path or a list of paths, got 3"),
        ({"scheduler": 8786}, "scheduler: expected an address, got 8786"),
    ],
)
def test_api_mistakes_raise_config_error_before_anything_is_written(tmp_path, arguments, expected):
    with pytest.raises(benchmark.ConfigError, match=f"^{re.escape(expected)}"):
        benchmark.run(write(tmp_path, tiny_toml()), tmp_path / "out", **arguments)
    assert not (tmp_path / "out").exists()
    with pytest.raises(benchmark.ConfigError, match="holds no suite.json"):
        benchmark.load_runs(tmp_path / "out")
    with pytest.raises(benchmark.ConfigError, match=r"^suite: expected a path, got 3"):
        benchmark.load_suite(3)


KERNEL_CHECK = """
import sys, types, warnings
import IPython  # a kernel has IPython and ipykernel.zmqshell loaded
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import benchmark.execution.runner
import tqdm.notebook
print(issubclass(benchmark.execution.runner.tqdm, tqdm.notebook.tqdm_notebook),
      any("IProgress not found" in str(w.message) for w in caught))
"""


def test_progress_bars_are_notebook_widgets_in_a_kernel_with_ipywidgets():
    """tqdm.auto decides when the runner is imported: in a Jupyter kernel (ipykernel.zmqshell
    loaded, simulated here) the widget if ipywidgets imports, else the text bar and a warning."""
    pytest.importorskip("IPython")
    done = subprocess.run(
        [sys.executable, "-c", KERNEL_CHECK], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    widgets = importlib.util.find_spec("ipywidgets") is not None
    assert done.stdout.split() == [str(widgets), str(not widgets)]


README_MAX_LINES = 300
DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Where the code, its configs and its tests live (reports/ holds records, not prose).
SOURCES = [ROOT / name for name in ("benchmark", "baselines", "tests", "tools", ".ci")]
#: Paths the layout names that a run makes rather than the repository holds.
MADE_BY_RUNS = {"results/"}


def prose(path: Path) -> str:
    """A Markdown file without its fenced code blocks (whose `#` lines are no headings)."""
    return re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(h) for h in re.findall(r"^#+ (.+)$", prose(path), flags=re.M)}


def source_files() -> list[Path]:
    files = [p for root in SOURCES for p in root.rglob("*") if p.is_file()]
    files += [ROOT / name for name in ("Makefile", "pyproject.toml")] + DOCUMENTS
    return [p for p in files if "__pycache__" not in p.parts and p.suffix not in {".pyc", ".png"}]


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_reaches_a_file_and_its_heading(document):
    links = re.findall(r"\]\(([^)\s]+)\)", prose(document))
    assert len(links) >= 10 or document.name != "README.md"
    for link in links:
        if re.match(r"[a-z]+:", link):  # https:, mailto:
            continue
        target, _, fragment = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        assert path.exists(), f"{document.name}: link {link!r}: no such file"
        if fragment and path.suffix == ".md":
            assert fragment in anchors(path), f"{document.name}: link {link!r}: no such heading"


def layout_rows() -> list[tuple[list[str], str]]:
    """The README layout table's rows: the backquoted paths of the first column, and the row."""
    text = (ROOT / "README.md").read_text().split("\n## Layout\n")[1].split("\n## ")[0]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    return [(re.findall(r"`([^`]+)`", row.split(" | ")[0]), row) for row in rows]


def test_the_layout_names_every_module_and_only_paths_that_exist():
    named = set()
    for paths, row in layout_rows():
        folders = [p for p in paths if p.endswith("/")]
        for path in paths:
            if path in MADE_BY_RUNS:
                continue
            within = [f + path for f in folders] if "/" not in path else []
            found = [p for p in [path, *within] if (ROOT / p).exists()]
            assert found, f"README layout names {path!r}, which does not exist: {row[:80]}"
            named.update(found)
    modules = {
        p.relative_to(ROOT).as_posix()
        for package in ("benchmark", "baselines")
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__init__.py"
    }
    assert modules - named == set(), "modules missing from the README's layout table"


def science_sections() -> dict[str, str]:
    """docs/SCIENCE.md's numbered sections ('## 7. Metrics', '### 7.3 …'): number → title."""
    text = prose(ROOT / "docs" / "SCIENCE.md")
    found = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? (.+)$", text, flags=re.M)
    return dict(found)


#: "docs/SCIENCE.md §7.3", optionally with the section's name after it (', "Cross-checked …"').
CITATION = re.compile(r"SCIENCE\.md`? §(\d+(?:\.\d+)?)(?:, [\"']([^\"']+))?")


def test_the_code_cites_docs_science_by_its_numbered_sections():
    sections = science_sections()
    assert {"1", "3.4", "6.3", "7.3", "7.10", "8"} <= set(sections)
    cited = set()
    for path in source_files():
        # a citation wrapped over lines, in a comment or a docstring, reads as one line
        text = re.sub(r"\s*\n[ \t]*(?:#:?[ \t]*)?", " ", path.read_text(errors="replace"))
        where = path.relative_to(ROOT)
        for number, name in CITATION.findall(text):
            assert number in sections, f"{where}: docs/SCIENCE.md §{number} does not exist"
            assert sections[number].startswith(name), f"{where}: §{number} is {sections[number]!r}"
            cited.add(number)
        if path.name == "SCIENCE.md":  # its own cross-references, §N alone
            for number in re.findall(r"§(\d+(?:\.\d+)?)", text):
                assert number in sections, f"docs/SCIENCE.md cites §{number}, which does not exist"
    assert len(cited) >= 10


def test_no_file_cites_an_outside_specification():
    word = re.compile(r"\b" + "SP" + r"EC\b")  # spelt apart, so that this file passes its own test
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in source_files()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if word.search(line)
    ]
    assert offenders == [], "cite docs/SCIENCE.md's sections instead"


def test_the_changelog_opens_with_this_version_and_has_one_entry_per_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## (\d+)\.(\d+)\.(\d+) — \d{4}-\d{2}-\d{2}$", text, flags=re.M)
    numbers = [tuple(map(int, v)) for v in versions]
    assert ".".join(versions[0]) == benchmark.__version__
    assert numbers == sorted(set(numbers), reverse=True)
