"""Every custom error SwarmStaking declares must be provoked by at least one test.

The check is static: it parses `contracts/ISwarmStaking.sol` (where SwarmStaking's errors are
declared) and `contracts/SwarmStaking.sol` for `error Name(` declarations and
the test modules for `expect_revert(fn, sender, "Name", ...)` /
`expect_revert_at(ts, fn, sender, "Name")` calls. The error argument may be a string literal, a
keyword argument `error="Name"`, or a variable bound by the enclosing test's
`pytest.mark.parametrize` (or a module-level string constant).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from staking.chain.artifacts import load_artifact

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contracts" / "SwarmStaking.sol"
INTERFACE = ROOT / "contracts" / "ISwarmStaking.sol"
TESTS_DIR = ROOT / "tests"

# Position of the error-name argument in each helper's signature.
ERROR_ARG_POSITION = {"expect_revert": 2, "expect_revert_at": 3}

_SOL_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_ERROR_DECL = re.compile(r"\berror\s+([A-Za-z_]\w*)\s*\(")
_CALL_START = re.compile(r"\bexpect_revert(?:_at)?\s*\(")
_STRING = re.compile(r"""(?P<q>["'])(\w+)(?P=q)""")


def declared_errors(source: str) -> set[str]:
    """Names of the custom errors declared in Solidity `source` (comments ignored)."""
    return set(_ERROR_DECL.findall(_SOL_COMMENTS.sub("", source)))


def swarm_staking_errors() -> set[str]:
    """The custom errors SwarmStaking declares itself or inherits from ISwarmStaking."""
    return declared_errors(INTERFACE.read_text()) | declared_errors(CONTRACT.read_text())


# ---------------------------------------------------------------- AST scan


def _str_constants(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _argnames(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [n.strip() for n in node.value.split(",") if n.strip()]
    if isinstance(node, ast.List | ast.Tuple):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _parametrize_values(func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> set[str]:
    """String values `name` takes in `func`'s `@pytest.mark.parametrize` decorators."""
    found: set[str] = set()
    for deco in func.decorator_list:
        if not (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)):
            continue
        if deco.func.attr != "parametrize" or len(deco.args) < 2:
            continue
        names = _argnames(deco.args[0])
        if name not in names:
            continue
        index = names.index(name)
        values = deco.args[1]
        if not isinstance(values, ast.List | ast.Tuple):
            continue
        for row in values.elts:
            if isinstance(row, ast.Call) and getattr(row.func, "attr", None) == "param":
                items: list[ast.expr] = list(row.args)
            elif len(names) > 1 and isinstance(row, ast.Tuple | ast.List):
                items = list(row.elts)
            else:
                items = [row]
            if index < len(items):
                item = items[index]
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    found.add(item.value)
    return found


def _module_constants(tree: ast.Module) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if stmt.value is None:
                continue
            for target in targets:
                if isinstance(target, ast.Name):
                    out.setdefault(target.id, set()).update(_str_constants(stmt.value))
    return out


def _error_argument(call: ast.Call, helper: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == "error":
            return kw.value
    position = ERROR_ARG_POSITION[helper]
    return call.args[position] if len(call.args) > position else None


def errors_expected_in_python(source: str) -> set[str]:
    """Error names passed to expect_revert/expect_revert_at anywhere in Python `source`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return errors_expected_in_text(source)
    constants = _module_constants(tree)
    found: set[str] = set()

    def visit(node: ast.AST, enclosing: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            enclosing = [*enclosing, node]
        if isinstance(node, ast.Call):
            func = node.func
            helper = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if helper in ERROR_ARG_POSITION:
                arg = _error_argument(node, helper)
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
                elif isinstance(arg, ast.Name):
                    for func_def in reversed(enclosing):
                        found.update(_parametrize_values(func_def, arg.id))
                    found.update(constants.get(arg.id, set()))
        for child in ast.iter_child_nodes(node):
            visit(child, enclosing)

    visit(tree, [])
    return found


# ---------------------------------------------------------------- text scan (fallback)


def _balanced_call_args(text: str, open_paren: int) -> str:
    """Text between `text[open_paren] == '('` and its matching ')', skipping string literals."""
    depth, i, quote = 0, open_paren, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[open_paren + 1 : i]
        i += 1
    return text[open_paren + 1 :]


def errors_expected_in_text(source: str) -> set[str]:
    """Regex/bracket based scan for sources the AST cannot parse: the first `"Name"` argument."""
    found = set()
    for match in _CALL_START.finditer(source):
        args = _balanced_call_args(source, match.end() - 1)
        first = _STRING.search(args)
        if first:
            found.add(first.group(2))
    return found


def expected_errors_in_tests(tests_dir: Path = TESTS_DIR) -> dict[str, set[str]]:
    """error name -> test files that expect it."""
    where: dict[str, set[str]] = {}
    for path in sorted(tests_dir.rglob("*.py")):
        for name in errors_expected_in_python(path.read_text()):
            where.setdefault(name, set()).add(path.name)
    return where


# ---------------------------------------------------------------- tests


def test_declared_error_parser_finds_only_errors_present_in_the_contract_abi() -> None:
    declared = swarm_staking_errors()
    abi_errors = {item["name"] for item in load_artifact("SwarmStaking").abi if item["type"] == "error"}
    assert len(declared) >= 30
    # The ABI adds the inherited OpenZeppelin errors; everything declared locally must be in it.
    assert declared <= abi_errors
    assert "AccessControlUnauthorizedAccount" in abi_errors - declared


def test_scanner_finds_error_names_in_single_and_multi_line_and_parametrized_calls() -> None:
    source = """
import pytest

SHARED = "FromConstant"

def test_a(chain):
    chain.expect_revert(chain.staking.jail(v, sig, 0), chain.service, "SingleLine", v.id)
    chain.expect_revert(
        chain.staking.propose_slash(v, sig, f(1, (2))),
        chain.service,
        "MultiLine",
        v.id,
    )
    chain.expect_revert_at(ts, chain.staking.execute_slash(x), chain.stranger, "AtVariant")
    chain.expect_revert(fn, sender, error="Keyword")
    chain.expect_revert(fn, sender, SHARED)

@pytest.mark.parametrize(("amount", "err"), [(1, "ParamA"), pytest.param(2, "ParamB", id="b")])
def test_b(chain, amount, err):
    chain.expect_revert(fn, sender, err)

def test_not_an_expectation(chain):
    chain.tx(fn, "NotAnError")
"""
    expected = {"SingleLine", "MultiLine", "AtVariant", "Keyword", "FromConstant", "ParamA", "ParamB"}
    assert errors_expected_in_python(source) == expected
    assert {"SingleLine", "MultiLine", "AtVariant"} <= errors_expected_in_text(source)


def test_every_declared_custom_error_is_expected_by_some_test() -> None:
    declared = swarm_staking_errors()
    covered = expected_errors_in_tests()
    missing = sorted(declared - set(covered))
    assert not missing, f"custom errors no test provokes via expect_revert/expect_revert_at: {missing}"
