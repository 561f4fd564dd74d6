"""The rules engine stays pure: no Django, and no floating point in the seat arithmetic."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import tallyroom.rules

PACKAGE = Path(tallyroom.rules.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def test_importing_the_rules_loads_no_django() -> None:
    imports = ", ".join(["tallyroom.rules", *(f"tallyroom.rules.{m}" for m in MODULES)])
    code = (
        f"import sys, {imports}; "
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
        "assert not bad, bad"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    src = str(PACKAGE.parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert {"seats", "openlist", "mayor", "checks", "outcome", "ties", "errors"} <= set(MODULES)


def test_no_float_in_the_rules() -> None:
    """No float literal, float() call or true division of counts in the engine's source."""
    for module in [*MODULES, "__init__"]:
        tree = ast.parse((PACKAGE / f"{module}.py").read_text("utf-8"))
        for node in ast.walk(tree):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
                module,
                node.lineno,
            )
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "float", (module, node.lineno)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                # Only Fraction / int or Fraction / Fraction divisions are allowed; they are
                # written with an explicit Fraction operand on the left.
                assert _fraction_expr(node.left), (module, node.lineno, ast.unparse(node))


def _fraction_expr(node: ast.expr) -> bool:
    return "Fraction" in ast.unparse(node)


def test_no_django_in_sources() -> None:
    for module in MODULES:
        text = (PACKAGE / f"{module}.py").read_text("utf-8")
        assert "import django" not in text
        assert "from django" not in text
