"""The layers' import directions (docs/architecture.md): the host driver alone (it runs on the board's processor),
spec and golden model at the bottom, hardware, simulation
and synthesis on them, the trainer on the golden model alone, the sweep on the trainer and synthesis, and the
command line on top; files, reading, cache and errors below everything. No module imports upwards or sideways."""
import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = {"host": "host", "golden": "golden", "hw": "hw", "sim": "sim", "synth": "synth", "train": "train", "sweep": "sweep",
            "cli": "pezo/cli"}
BASE = {"pezo", "pezo.files", "pezo.reading", "pezo.cache", "pezo.errors"}
APPLICATION = {"pezo.hil"}
"""Modules of the application layer besides the command line's package (pezo.cli: a module per command, and their
options): training through the simulated RTL (which joins sim and train)."""
MAY_IMPORT = {
    "base": {"base"},
    "host": {"host"},
    "golden": {"base", "golden"},
    "hw": {"base", "golden", "host", "hw"},
    "sim": {"base", "golden", "host", "hw", "sim"},
    "synth": {"base", "golden", "hw", "synth"},
    "train": {"base", "golden", "train"},
    "sweep": {"base", "golden", "synth", "train", "sweep"},
    "application": {"base", "host", "golden", "hw", "sim", "synth", "train", "sweep", "application"},
}


def module_name(path):
    folder = path.parent.name
    package = "pezo" if folder == "pezo" else f"pezo.{folder}"
    return package if path.stem == "__init__" else f"{package}.{path.stem}"


def layer(module):
    """The layer of a module (dotted name under pezo)."""
    if module in BASE:
        return "base"
    if module in APPLICATION or module.split(".")[:2] == ["pezo", "cli"]:
        return "application"
    return module.split(".")[1] if module.count(".") >= 1 and module.split(".")[1] in PACKAGES else "application"


def imported(path, module):
    """The pezo modules `path` (the module `module`) imports, at any depth of its code."""
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "pezo")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            elif (node.module or "").split(".")[0] == "pezo":
                target = node.module
            else:
                continue
            for alias in node.names:       # `from pezo import files` imports the module pezo.files
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _is_module(candidate) else target)
    return found


def _is_module(name):
    """Whether the dotted name is a module of pezo (a file), not a name inside one."""
    parts = name.split(".")[1:]
    folder, rest = (ROOT / PACKAGES[parts[0]], parts[1:]) if parts and parts[0] in PACKAGES else (ROOT / "pezo", parts)
    return len(rest) == 1 and (folder / f"{rest[0]}.py").exists()


def modules():
    for folder in ["pezo", *PACKAGES.values()]:
        for path in sorted((ROOT / folder).glob("*.py")):
            yield path, module_name(path)


def test_every_import_goes_down_or_stays_in_its_layer():
    wrong = []
    known = {module for _, module in modules()}
    for path, module in modules():
        for target in imported(path, module):
            if target not in known:
                wrong.append(f"{path.relative_to(ROOT)} imports {target}, which is no module of pezo")
            elif layer(target) not in MAY_IMPORT[layer(module)]:
                wrong.append(f"{path.relative_to(ROOT)} ({layer(module)}) imports {target} ({layer(target)})")
    assert not wrong, "\n".join(wrong)


def test_the_layers_are_where_the_architecture_page_says():
    page = (ROOT / "docs" / "architecture.md").read_text()
    for name in MAY_IMPORT:
        assert f"**{name}**" in page


def graph():
    """{module: the pezo modules it imports}, lazy imports inside functions included (they hide a cycle, not
    remove it)."""
    known = {module for _, module in modules()}
    return {module: {target for target in imported(path, module) if target in known and target != module}
            for path, module in modules()}


def cycles(edges):
    """The import cycles of a graph, each as the list of modules around it."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_no_module_imports_itself_around_a_cycle():
    assert not cycles(graph()), "\n".join(" -> ".join(cycle) for cycle in cycles(graph()))


def test_the_checks_see_an_upward_import_and_a_cycle(tmp_path):
    module = tmp_path / "spec_user.py"
    module.write_text("def f():\n    from pezo.train import loop\n    from ..sweep import grid\n")
    targets = imported(module, "pezo.golden.spec_user")
    assert targets == {"pezo.train.loop", "pezo.sweep.grid"}
    assert {layer(target) for target in targets} - MAY_IMPORT["golden"] == {"train", "sweep"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_every_strategy_has_its_hardware_and_formal_halves():
    """A strategy is one registration per half (docs/architecture.md): each golden strategy has its generator and
    its formal model, and nothing is registered that the golden half lacks."""
    from pezo.golden.spec import STRATEGIES
    from pezo.hw.generator import GENERATORS
    from pezo.sim.formal_models import MODELS
    assert set(GENERATORS) == set(MODELS) == set(STRATEGIES) == {"otf", "pool", "clt"}
