"""Catching submissions that try to earn points without solving the exercise.

Two complementary checks:

- `scan` reads the code a student wrote (graded answer cells and cells the student added) and
  lists what a TA should look at: file, network and process operations, patches of modules or
  builtins, reflection that reaches into the interpreter, and redefined provided names. It changes
  no score; it flags, and findings that tamper with the interpreter hold the notebook's points
  for a TA's review (see `review`).
- `GUARD` is installed in the kernel before any student code runs. It remembers numpy, the
  builtins and the course's support modules as they were, and the names each provided cell and
  test cell defined. Before every test cell it puts back whatever student code replaced (so the
  test judges with the genuine helpers); after it, it checks again, and a change made while the
  test ran voids that test. Either way, what was replaced is reported, and the points are held.
  An in-kernel guard can be outwitted by a determined attacker: holding the points is what makes
  its findings safe to act on.
"""
import ast

from IPython.core.inputtransformer2 import TransformerManager

# What a graded function of this lab never needs, with why a TA should look. Reasons marked in
# TAMPERING reach into the interpreter that runs the tests (its shell, namespaces, modules, frames,
# history): the grader cannot vouch for the points of such a notebook, so they are held for review.
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


def parse(source):
    """A cell's syntax tree, IPython magics turned into the Python they run; None if invalid."""
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def scan(source, provided_names, label):
    """Findings in one student cell, each {"text": "label line N: what (why)", "hold": whether it
    tampers with the interpreter}. `provided_names` are the names the provided cells bind
    (helpers the tests rely on): rebinding them is reported."""
    tree = parse(source)
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
    tree = parse(source)
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


def function_definitions(source):
    """The top-level function definitions of a cell, as source: what the guard defines again to
    check that the cell's own functions are still the ones it defined."""
    tree = parse(source)
    return "\n\n".join(ast.unparse(node) for node in tree.body
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))) if tree else ""


def bound_names(source):
    """Every name a cell's code may bind (assignments, loops, imports, defs), nested or not."""
    tree = parse(source)
    names = set()
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


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
        return "reaches for the grader's guard (interpreter internals)"
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


def guard_code(name):
    """The guard's code, installing it in the kernel under `name` (a new one for every notebook,
    so student code cannot name it in advance)."""
    return GUARD.replace("_nnlab_guard", name)


# Runs in the kernel (see the module docstring). Kept free of names a notebook might use.
GUARD = r"""
def _nnlab_guard_factory():
    import sys, types

    families = ("numpy", "labkit", "builtins", "math")
    # Builtins that IPython itself swaps around every execution.
    volatile = {"input", "get_ipython", "display", "exit", "quit", "__IPYTHON__", "_", "__", "___"}
    originals = {}  # module name -> {attribute: fingerprint}
    protected = {}  # global name -> fingerprint

    def fingerprint(value):
        return value, getattr(value, "__code__", None)

    def same(a, b):
        return a[0] is b[0] and getattr(a[0], "__code__", None) is b[1]

    def put_back(print_):
        value, code = print_
        if code is not None and value.__code__ is not code:
            value.__code__ = code
        return value

    def remember_modules():
        for name, module in list(sys.modules.items()):
            if name not in originals and name.split(".")[0] in families \
                    and isinstance(module, types.ModuleType):
                originals[name] = {k: fingerprint(v) for k, v in vars(module).items()
                                   if not (name == "builtins" and k in volatile)}

    def check(namespace, restore=True, exclude=()):
        found = []
        for name, attributes in originals.items():
            module = sys.modules.get(name)
            for attribute, print_ in attributes.items() if module else ():
                if not same(fingerprint(getattr(module, attribute, None)), print_):
                    found.append(f"{name}.{attribute}")
                    if restore:
                        setattr(module, attribute, put_back(print_))
        for name, print_ in protected.items():
            if name not in exclude and not same(fingerprint(namespace.get(name)), print_):
                found.append(name)
                if restore:
                    namespace[name] = put_back(print_)
        return sorted(set(found + check_shell(restore)))

    def verify(namespace, definitions):
        # a course cell's own functions as the cell defined them: student code called later in
        # that cell may have replaced them after their definition, before protect() adopts them
        genuine = {}
        exec(definitions, namespace, genuine)
        found = []
        for name, function in genuine.items():
            code = getattr(namespace.get(name), "__code__", None)
            if code is None or (code.co_code, code.co_names) != (function.__code__.co_code,
                                                                 function.__code__.co_names):
                found.append(name)
                namespace[name] = function
        return found

    shell = get_ipython()  # noqa: F821 (the kernel's)
    hooks = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
    # the shell's and the kernel's methods that run a cell, evaluate the grader's checks or
    # report errors: replaced, wrapped or given new code, they could hide a failing test
    methods = {"shell": ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell",
                         "user_expressions", "showtraceback", "_showtraceback", "showsyntaxerror"),
               "kernel": ("do_execute", "execute_request")}
    owners = {"shell": shell, "kernel": getattr(shell, "kernel", None)}
    shell_state = {}

    def method_state():
        # the bound method, its class's function and that function's code: a wrapper on the
        # instance, a new function on the class or new code in the old function all show
        state = {}
        for owner, names in methods.items():
            obj = owners[owner]
            for name in names if obj is not None else ():
                bound = getattr(obj, name, None)
                function = getattr(bound, "__func__", None)
                state[(owner, name)] = (bound, function, getattr(function, "__code__", None),
                                        name in vars(obj))
        return state

    def remember_hooks():
        # the course's own cells may add hooks until student code first runs (matplotlib's
        # inline backend registers its callbacks in the imports cell); after that, never
        if not shell_state.get("locked"):
            shell_state.update(hooks={h: list(getattr(shell, h)) for h in hooks},
                               events={e: list(c) for e, c in shell.events.callbacks.items()})

    def lock():
        shell_state["locked"] = True

    def check_shell(restore):
        # how the shell that runs the tests was altered: code transformers, event hooks, its
        # run and traceback methods (and the kernel's), a trace function
        found = []
        for name, original in shell_state["hooks"].items() if shell_state.get("locked") else ():
            if list(map(id, getattr(shell, name))) != list(map(id, original)):
                found.append(f"IPython {name}")
                if restore:
                    getattr(shell, name)[:] = original
        for name, original in shell_state["events"].items() if shell_state.get("locked") else ():
            if list(map(id, shell.events.callbacks[name])) != list(map(id, original)):
                found.append(f"IPython event {name}")
                if restore:
                    shell.events.callbacks[name][:] = original
        now = method_state()
        for (owner, name), (bound, function, code, shadowed) in shell_state["methods"].items():
            current = now.get((owner, name), (None,) * 4)
            if current[0] != bound or current[1] is not function or current[2] is not code \
                    or current[3] != shadowed:
                found.append(f"IPython {owner}.{name}")
                if restore:
                    if function is not None and function.__code__ is not code:
                        function.__code__ = code
                    if current[3] and not shadowed:
                        delattr(owners[owner], name)
                    if getattr(type(owners[owner]), name, None) is not function and function:
                        setattr(type(owners[owner]), name, function)
        if type(shell) is not shell_state["shell_class"]:
            found.append("IPython shell class")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append("sys.settrace/setprofile")
            if restore:
                sys.settrace(None)
                sys.setprofile(None)
        return found

    def snapshot(namespace):
        return {k: id(v) for k, v in namespace.items()}

    def protect(namespace, before):
        # after a provided or test cell: what it set up (modules, names, hooks until student
        # code first ran) is the course's own
        remember_modules()
        remember_hooks()
        for name, value in namespace.items():
            if not name.startswith("_") and before.get(name) != id(value):
                protected[name] = fingerprint(value)

    remember_modules()
    remember_hooks()
    shell_state.update(methods=method_state(), shell_class=type(shell))  # never change
    return types.SimpleNamespace(check=check, verify=verify, snapshot=snapshot, protect=protect,
                                 lock=lock)

_nnlab_guard = _nnlab_guard_factory()
del _nnlab_guard_factory
"""
