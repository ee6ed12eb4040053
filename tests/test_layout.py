"""The house rules that hold the layout together: module size, one home for the paper's numbers,
the one-way import flow, and docs that cite code that exists."""
import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nprelu"
MODULES = sorted(PACKAGE.rglob("*.py"))

# Lower layers first; a module may import only from its own layer or below (paper.py is data,
# readable from every layer above the core).
LAYERS = [
    {"backend", "activations", "losses", "checkpoint", "progress", "data", "paper", "checks", "stats", "flops",
     "parallel", "random_keys", "outcomes"},
    {"network", "optim", "threaded_step"},
    {"train"},
    {"attacks", "adversarial_training"},
    {"measures", "checklist", "gradcheck", "evaluation"},
    {"runner"},
    {"experiments"},
    {"plots"},
    {"report"},
]


def _layer(name: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if name in names)


def _top(path: pathlib.Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in MODULES
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_the_papers_numbers_live_in_one_module():
    holders = [p.relative_to(ROOT) for p in MODULES if "98.49" in p.read_text()]
    assert holders == [pathlib.Path("nprelu/paper.py")]


def test_imports_flow_one_way():
    wrong = []
    for path in MODULES:
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        mine = _top(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = path.relative_to(PACKAGE).parts[:-1]
                base = list(parts[:len(parts) - node.level + 1]) if node.level > 1 else list(parts)
                target = (base + (node.module or "").split("."))[0] if base else (node.module or "").split(".")[0]
                if not target:
                    continue
                if target in {n for layer in LAYERS for n in layer} and _layer(target) > _layer(mine):
                    wrong.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not wrong, wrong


def test_the_architecture_doc_cites_tests_and_files_that_exist():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    cited = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", doc)
    assert len(cited) >= 8
    for file, name in cited:
        assert re.search(rf"^def {name}\(", (ROOT / file).read_text(), re.M), f"{file}::{name}"
    for file in set(re.findall(r"`(nprelu/[\w/]+\.py)`", doc)):
        assert (ROOT / file).exists(), file
