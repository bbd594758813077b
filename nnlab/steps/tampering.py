"""Reading the code a student wrote for what a TA should look at.

`scan` reads the graded answer cells and the cells the student added and lists file, network and
process operations, patches of modules or builtins, reflection that reaches into the interpreter,
and redefined provided names. It changes no score. The tests run in the judge's process (see
`nnlab.judge`), out of reach of all of this; what the scan still protects is the evidence the
tests read from the kernel (the trained models, the student's own functions), which code that
reaches into the interpreter could bend: such findings flag the notebook and hold its points for a
TA's review (see `review`); the rest (files, network, processes, which the sandbox contains) only
flag it.
"""
import ast

from ..notebooks import parse_cell

# What a graded function of this lab never needs, with why a TA should look. Reasons marked in
# TAMPERING reach into the interpreter that runs the student's functions for the tests (its shell,
# namespaces, modules, frames, history): the grader cannot vouch for the points of such a notebook, so they are held for review.
# The rest (files, network, processes) the sandbox contains: flagged, scored as earned.
TAMPERING = {"dynamic code", "dynamic import", "namespace access", "patching", "patching builtins",
             "patching functions", "interpreter internals", "interpreter history", "sys.modules",
             "patching a module or a provided helper", "redefining a provided name"}
SUSPICIOUS_CALLS = {
    "open": "file access", "exec": "dynamic code", "eval": "dynamic code",
    "compile": "dynamic code", "__import__": "dynamic import", "globals": "namespace access",
    "vars": "namespace access", "locals": "namespace access",
    "setattr": "patching", "delattr": "patching", "get_ipython": "interpreter internals",
}
SUSPICIOUS_MODULES = {
    "os": "operating-system access", "shutil": "file access", "pathlib": "file access",
    "glob": "file access", "io": "file access", "socket": "network access", "urllib": "network access",
    "http": "network access", "requests": "network access", "subprocess": "process control",
    "multiprocessing": "process control", "threading": "process control", "signal": "signal handling",
    "ctypes": "interpreter internals", "gc": "interpreter internals", "inspect": "interpreter internals",
    "builtins": "patching builtins", "importlib": "dynamic import", "resource": "process control",
    "sqlite3": "file access", "pickle": "file access", "__main__": "namespace access",
    "IPython": "interpreter internals", "ipykernel": "interpreter internals",
}
SUSPICIOUS_ATTRIBUTES = {
    "modules": "sys.modules", "_getframe": "interpreter internals",
    "__builtins__": "patching builtins", "__code__": "patching functions",
    "__globals__": "interpreter internals", "__dict__": "patching",
    "__subclasses__": "interpreter internals", "__closure__": "interpreter internals",
    "f_back": "interpreter internals", "f_globals": "interpreter internals",
    "f_locals": "interpreter internals", "tb_frame": "interpreter internals",
    "gi_frame": "interpreter internals", "user_ns": "namespace access",
    "user_global_ns": "namespace access", "run_cell": "interpreter internals",
    "run_cell_async": "interpreter internals", "ast_transformers": "interpreter internals",
    "input_transformers_post": "interpreter internals", "user_expressions": "interpreter internals",
}
# IPython's input and output history: a function that reads it can print the test that calls it.
HISTORY = {"In", "Out", "_ih", "_oh", "_i", "_ii", "_iii", "_dh"}


def scan(source, provided_names, label):
    """Findings in one student cell, each {"text": "label line N: what (why)", "hold": whether it
    tampers with the interpreter}. `provided_names` are the names the provided cells bind
    (helpers the tests rely on): rebinding them is reported."""
    tree = parse_cell(source)
    if tree is None:
        return []
    findings = []
    modules = {}  # local alias -> module name, from the cell's imports
    for node in ast.walk(tree):
        what = _judge(node, modules, provided_names)
        if what:
            findings.append(f"{label} line {node.lineno}: {what}")

    rebound = {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    for statement in tree.body:
        if isinstance(statement, ast.Import):  # `import numpy as np` binds the same module again
            continue
        for name in sorted((_statement_names(statement) | rebound) & provided_names):
            findings.append(f"{label} line {statement.lineno}: redefines {name}, which the "
                            f"course provides and the tests use (redefining a provided name)")
    return [{"text": text, "hold": _reason(text) in TAMPERING} for text in dict.fromkeys(findings)]


def _reason(text):
    """The reason in parentheses at the end of a finding."""
    return text.rsplit("(", 1)[-1].rstrip(")") if text.endswith(")") else ""


def top_level_names(source):
    """Names a cell binds at its top level (assignments, loops, imports, defs, classes)."""
    tree = parse_cell(source)
    return {name for statement in tree.body for name in _statement_names(statement)} if tree else set()


def _statement_names(statement):
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
        return {statement.name}
    targets = [t.optional_vars for t in statement.items] if isinstance(statement, ast.With) \
        else [statement.target] if isinstance(statement, (ast.For, ast.AugAssign, ast.AnnAssign)) \
        else statement.targets if isinstance(statement, ast.Assign) else []
    return {node.id for target in targets if target is not None for node in _flatten(target)
            if isinstance(node, ast.Name)}


def _judge(node, modules, provided_names):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for alias in node.names:
            modules[alias.asname or alias.name.split(".")[0]] = (
                alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}")
        top = {name.split(".")[0] for name in names}
        # a reason that holds the points comes first
        hits = sorted((SUSPICIOUS_MODULES[t] for t in top if t in SUSPICIOUS_MODULES),
                      key=lambda reason: (reason not in TAMPERING, reason))
        return f"imports {', '.join(sorted(top & set(SUSPICIOUS_MODULES)))} ({hits[0]})" if hits else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SUSPICIOUS_CALLS:
        return f"calls {node.func.id}() ({SUSPICIOUS_CALLS[node.func.id]})"
    if isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_ATTRIBUTES:
        return f"uses .{node.attr} ({SUSPICIOUS_ATTRIBUTES[node.attr]})"
    if isinstance(node, ast.Name) and node.id == "__builtins__":
        return "uses __builtins__ (patching builtins)"
    if isinstance(node, ast.Name) and node.id in HISTORY:
        return f"uses {node.id} (interpreter history)"
    if isinstance(node, (ast.Name, ast.Attribute)) and \
            (getattr(node, "id", None) or getattr(node, "attr", "")).startswith("_nnlab"):
        return "reaches for the grader's channel (interpreter internals)"
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) > 1 and not isinstance(node.args[1], ast.Constant)):
        return "calls getattr() with a computed name (interpreter internals)"
    for target in _assigned(node):
        if isinstance(target, ast.Attribute) and isinstance(_root(target), ast.Name) \
                and _root(target).id in set(modules) | provided_names | {"np", "numpy"}:
            return f"assigns {ast.unparse(target)} (patching a module or a provided helper)"
    return None


def _assigned(node):
    """Names and attributes a statement binds (assignments, defs, global rebinding)."""
    if isinstance(node, ast.Assign):
        return [t for target in node.targets for t in _flatten(target)]
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [ast.Name(id=node.name)]
    return []


def _flatten(target):
    return [t for e in target.elts for t in _flatten(e)] if isinstance(target, (ast.Tuple, ast.List)) else [target]


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node
