"""The README's Python API example runs as written (in a temporary directory) and does what its
text says; the API's argument mistakes raise `ConfigError`; a dict suite is a TOML suite; the
progress bars are tqdm's notebook widgets in a Jupyter kernel where ipywidgets is installed."""

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
    import benchmark.runner
import tqdm.notebook
print(issubclass(benchmark.runner.tqdm, tqdm.notebook.tqdm_notebook),
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
