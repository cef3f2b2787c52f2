"""`make lint`'s size check (issue 12, STYLE 11): no source file over 800 lines, no Python function over 80.

Rust and Python files under rust/, python/, tests/, benches/ and scripts/ count, tests included. A function's
length is its lines from `def` to its last statement, docstring included. Prints one line per offender and
exits 1 when there is any.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 80
ROOTS = ("rust", "python", "tests", "benches", "scripts")


def offenders(root: Path) -> list[str]:
    out: list[str] = []
    for top in ROOTS:
        for path in sorted((root / top).rglob("*")):
            if path.suffix not in (".py", ".rs") or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            rel = path.relative_to(root)
            n = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
            if n > MAX_FILE_LINES:
                out.append(f"{rel}: {n} lines (max {MAX_FILE_LINES})")
            if path.suffix == ".py":
                out += _long_functions(rel, text)
    return out


def _long_functions(rel: Path, text: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(text, filename=str(rel))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                out.append(
                    f"{rel}:{node.lineno}: function {node.name} is {length} lines (max {MAX_FUNCTION_LINES})"
                )
    return out


def main() -> int:
    found = offenders(Path(__file__).resolve().parent.parent)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
