"""The registry's metadata apart from the compute code: reading it (the report, the plots) loads
no attack, no training and no network, and every output kind finds its drawer and its report
functions whatever module is imported first. Each check runs in a fresh interpreter, so that
the modules this test session has already imported cannot hide a missing import."""
import json
import pathlib
import subprocess
import sys

import pytest

from nprelu.experiments import EXPERIMENTS, OUTPUTS, Later, Split

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMPUTE = ("nprelu.attacks", "nprelu.train", "nprelu.network", "nprelu.threaded_step")


def _fresh(code: str):
    """What ``code`` prints as JSON, run in a new interpreter from the repository root."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("package", ["nprelu.report", "nprelu.plots", "nprelu.experiments"])
def test_reading_the_registry_imports_no_attack_training_or_network(package):
    loaded = _fresh(f"import json, sys, {package}; print(json.dumps(sorted(sys.modules)))")
    compute = [m for m in loaded if m.startswith(COMPUTE)]
    assert not compute, f"import {package} loads {compute}"


def test_every_run_reference_resolves_to_a_runnable_of_its_module():
    for e in EXPERIMENTS.values():
        assert callable(e.run), e.key
        assert isinstance(e.run, Split) or e.run.__name__ == "run", e.key
    assert not isinstance(EXPERIMENTS["fig04"].run, Later)


@pytest.mark.parametrize("first", ["nprelu.plots.masking", "nprelu.report.registry",
                                   "nprelu.report.document", "nprelu.plots.common"])
def test_every_output_kind_has_a_drawer_and_report_functions_whatever_is_imported_first(first):
    tables = _fresh(
        f"import json, {first}\n"
        "from nprelu.plots.common import DRAWERS\n"
        "from nprelu.report.registry import BODIES, CLAIM_TESTS, FINDINGS, NUMBERS\n"
        "print(json.dumps({'draw': sorted(DRAWERS), 'claim': sorted(CLAIM_TESTS),\n"
        "                  'section': sorted({*FINDINGS, *NUMBERS, *BODIES})}))")
    figures = {o.key: o.kind for o in OUTPUTS.values() if o.file}
    assert {k: kind for k, kind in figures.items() if kind not in tables["draw"]} == {}
    sections = {o.key: o.kind for o in OUTPUTS.values() if o.section}
    assert {k: kind for k, kind in sections.items() if kind not in tables["section"]} == {}
    tests = {c.test for o in OUTPUTS.values() for c in o.claims}
    assert tests - set(tables["claim"]) == set()
