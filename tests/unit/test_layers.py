"""The floors of the house, read from the source: no import circle, no import downstairs-up.

Every ``import`` and ``from ... import`` in ``bot/``, ``storage/`` and ``fakebotapi/`` counts,
wherever it is written: at module level, inside a function (a lazy import that dodges a circle
at run time is still the circle), and under ``if TYPE_CHECKING:`` (the type checker follows it,
and so does a reader). ``python -m tests.unit.test_layers`` prints the same report.
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "storage", "fakebotapi")

# (importer prefix, forbidden prefixes): the floors a lower one must never reach.
FORBIDDEN: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "bot.services",
        (
            "bot.texts",
            "bot.rendering",
            "telegram",
            "bot.handlers",
            "bot.app",
            "bot.context",
            "bot.fakeapi",
            "fakebotapi",
        ),
    ),
    ("storage", ("bot", "telegram", "fakebotapi")),
    # The fake Telegram knows nothing of the bot it stands in front of.
    ("fakebotapi", ("bot", "storage")),
    ("bot.handlers", ("bot.app", "bot.fakeapi", "fakebotapi")),
    ("bot.context", ("bot.handlers", "bot.app")),
)


@dataclass(frozen=True)
class Imports:
    modules: frozenset[str]
    edges: dict[str, set[str]]  # importer -> project modules it imports
    names: dict[str, set[str]]  # importer -> every module it imports, project or not


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files() -> Iterator[Path]:
    for package in PACKAGES:
        if (ROOT / package).is_dir():
            yield from sorted((ROOT / package).rglob("*.py"))


def _imported(
    node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: frozenset[str]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:
        anchor = importer.split(".") if is_package else importer.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    yield base
    for alias in node.names:
        # ``from bot import texts`` imports the module bot.texts, not just the package.
        if f"{base}.{alias.name}" in modules:
            yield f"{base}.{alias.name}"


def read_imports() -> Imports:
    """Every project module and the project modules each one imports."""
    files = {_module_name(path): path for path in _source_files()}
    modules = frozenset(files)
    edges: dict[str, set[str]] = {name: set() for name in modules}
    everything: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                is_package = path.name == "__init__.py"
                for target in _imported(node, name, is_package, modules):
                    everything[name].add(target)
                    if target in modules and target != name:
                        edges[name].add(target)
    return Imports(modules, edges, everything)


def circles(imports: Imports) -> list[list[str]]:
    """Groups of modules that import each other, directly or around a ring (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        # Iterative, so a deep chain of imports cannot hit the recursion limit.
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(imports.edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(imports.edges[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                ring: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    ring.append(member)
                    if member == node:
                        break
                if len(ring) > 1:
                    found.append(sorted(ring))

    for module in sorted(imports.modules):
        if module not in index:
            visit(module)
    return sorted(found)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def floor_violations(imports: Imports) -> list[str]:
    """``importer -> imported`` for every import a lower floor must not make."""
    problems = []
    for module in sorted(imports.modules):
        for importer_prefix, forbidden in FORBIDDEN:
            if not _within(module, importer_prefix):
                continue
            for target in sorted(imports.names[module]):
                if any(_within(target, prefix) for prefix in forbidden):
                    problems.append(f"{module} -> {target}")
    return sorted(set(problems))


def report() -> tuple[str, bool]:
    """The check's output, and whether the house passes it."""
    imports = read_imports()
    rings = circles(imports)
    violations = floor_violations(imports)
    packages = [package for package in PACKAGES if (ROOT / package).is_dir()]
    lines = [
        f"read {len(imports.modules)} modules of {', '.join(packages)}; "
        f"{sum(len(targets) for targets in imports.edges.values())} imports between them "
        "(module level, in functions and under TYPE_CHECKING)",
        f"import circles: {len(rings)}",
        *(f"  circle: {' <-> '.join(ring)}" for ring in rings),
        f"imports from a lower floor to a higher one: {len(violations)}",
        *(f"  {violation}" for violation in violations),
    ]
    return "\n".join(lines), not rings and not violations


def test_no_import_circle_and_no_floor_imports_upwards() -> None:
    text, ok = report()
    print(text)
    assert ok, text


def test_the_check_sees_a_circle_and_an_upward_import() -> None:
    # The check itself: a ring of three and a service speaking Telegram are both found.
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert circles(Imports(frozenset(edges), edges, edges)) == [["a", "b", "c"]]
    names = {"bot.services.x": {"telegram.ext", "bot.texts"}, "storage.y": {"bot.clock"}}
    upward = floor_violations(Imports(frozenset(names), {name: set() for name in names}, names))
    assert upward == [
        "bot.services.x -> bot.texts",
        "bot.services.x -> telegram.ext",
        "storage.y -> bot.clock",
    ]


def test_every_kind_a_service_says_has_its_words() -> None:
    # A service says Kind.X with named values; the floor's function x must take exactly those.
    from bot import texts
    from bot.services.meaning import Kind

    missing = [kind.value for kind in Kind if not callable(getattr(texts, kind.value, None))]
    assert missing == []
    said = 0
    wrong = []
    for path in _source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "meaning"
                and node.args
                and isinstance(node.args[0], ast.Attribute)
            ):
                continue
            said += 1
            function = getattr(texts, Kind[node.args[0].attr].value)
            names = {keyword.arg: None for keyword in node.keywords if keyword.arg is not None}
            try:
                inspect.signature(function).bind(**names)
            except TypeError as error:
                wrong.append(
                    f"{path.relative_to(ROOT)}:{node.lineno} {function.__name__}: {error}"
                )
    assert said > 100  # the services do say things this way
    assert wrong == []


if __name__ == "__main__":
    output, passed = report()
    print(output)
    sys.exit(0 if passed else 1)
