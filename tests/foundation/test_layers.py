"""Dependencies run one way: foundation ← integrations/close ← sync ← whatsapp ← views and jobs.

An AST scan of webapp/, jobs/ and config.py builds the import graph from EVERY import statement,
including the ones inside functions (lazy imports can't hide a cycle). The suite fails on any
import cycle, on any import that goes up a layer, and on any function-level import of our own
modules (the old way of dodging cycles).
"""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("webapp", "jobs")

FOUNDATION = ("config", "webapp.extensions", "webapp.models", "webapp.phones", "webapp.redis_conn",
              "webapp.signals")
LAYERS = ("foundation", "close", "sync", "whatsapp", "web")  # lowest first; a module may import its own layer or below
# The WhatsApp gateways feature: its services sit above sync (they call ingest.accept and the edits)
# and close; its views (pages, webhook receiver, forms) are web like every other view.
WHATSAPP_VIEWS = ("webapp.whatsapp.routes", "webapp.whatsapp.webhook", "webapp.whatsapp.forms")
# Flask's blueprint-in-package idiom in webapp/auth (owned by the auth work, not restructured here).
ALLOWED_CYCLES = [{"webapp.auth", "webapp.auth.routes"}]


def layer_of(module):
    if any(module == f or module.startswith(f + ".") for f in FOUNDATION):
        return "foundation"
    if module.startswith("webapp.integrations.close") and module != "webapp.integrations.close.routes":
        return "close"
    if module.startswith("webapp.sync") and module not in ("webapp.sync.views", "webapp.sync.demo_traffic"):
        return "sync"
    if module == "webapp.team.service":
        return "sync"  # a service: below the views, beside the sync rules
    if module.startswith("webapp.whatsapp") and module not in WHATSAPP_VIEWS:
        return "whatsapp"
    return "web"


def sources():
    """{module name: source text} of our code."""
    found = {"config": (ROOT / "config.py").read_text()}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path.read_text()
    return found


def imports(source, known):
    """[(imported module, lazy?)] for every import of one of `known` in a module's source."""
    tree = ast.parse(source)
    lazy_nodes = {id(sub) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for sub in ast.walk(node) if isinstance(sub, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                       for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target:
                found.append((target, id(node) in lazy_nodes))
    return found


def graph(modules):
    return {name: {t for t, _ in imports(src, modules) if t != name} for name, src in modules.items()}


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [c for c in result if c not in ALLOWED_CYCLES]


def breaches(edges):
    rank = {name: i for i, name in enumerate(LAYERS)}
    return sorted((a, b) for a, targets in edges.items() for b in targets
                  if rank[layer_of(b)] > rank[layer_of(a)])


def lazy_imports(modules):
    return sorted((name, target) for name, src in modules.items() for target, lazy in imports(src, modules) if lazy)


def test_no_import_cycles():
    assert cycles(graph(sources())) == []


def test_imports_only_go_down_the_layers():
    assert breaches(graph(sources())) == []


def test_no_function_level_imports_of_our_modules():
    assert lazy_imports(sources()) == []


def _with(modules, name, extra):
    changed = dict(modules)
    changed[name] = modules[name] + "\n\n" + extra + "\n"
    return changed


def test_the_check_catches_the_old_cycles():
    """Re-adding either of the cycles this layout removed fails the checks above."""
    modules = sources()
    # tokens → service (the service imports tokens), hidden in a function as it used to be.
    old = _with(modules, "webapp.integrations.close.tokens",
                "def _refresh_locked(row):\n    from webapp.integrations.close import service\n")
    assert any({"webapp.integrations.close.tokens", "webapp.integrations.close.service"} <= c
               for c in cycles(graph(old)))
    assert lazy_imports(old)
    # the test sync importing its job module (jobs import the sync engine).
    old = _with(modules, "webapp.sync.test_runs", "from jobs.connection import run_job")
    assert any({"webapp.sync.test_runs", "jobs.connection"} <= c for c in cycles(graph(old)))
    assert ("webapp.sync.test_runs", "jobs.connection") in breaches(graph(old))
    # the Close side reaching up into the sync engine.
    old = _with(modules, "webapp.integrations.close.service", "from webapp.sync.actions import release_held")
    assert ("webapp.integrations.close.service", "webapp.sync.actions") in breaches(graph(old))


def test_the_check_keeps_the_whatsapp_feature_above_sync():
    """sync never reaches up into the gateways, and the gateway services never into their views."""
    modules = sources()
    assert layer_of("webapp.whatsapp.inbox") == "whatsapp" and layer_of("webapp.whatsapp.routes") == "web"
    old = _with(modules, "webapp.sync.edits", "from webapp.whatsapp import inbox")
    assert ("webapp.sync.edits", "webapp.whatsapp.inbox") in breaches(graph(old))
    old = _with(modules, "webapp.whatsapp.linking", "from webapp.whatsapp.routes import bp")
    assert ("webapp.whatsapp.linking", "webapp.whatsapp.routes") in breaches(graph(old))
