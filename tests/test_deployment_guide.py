"""Every command and snippet in deployment-5.md runs, with the exit code the guide states."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
GUIDE = (ROOT / "deployment-5.md").read_text()
CONFIG = re.search(r"```toml\n(.*?)```", GUIDE, flags=re.S)
# further TOML blocks name their file on their first line: `# file: NAME`
FILES = dict(re.findall(r"```toml\n# file: (\S+)\n(.*?)```", GUIDE, flags=re.S))
COMMANDS = [
    line.removeprefix("$ ").strip()
    for block in re.findall(r"```console\n(.*?)```", GUIDE, flags=re.S)
    for line in block.splitlines()
    if line.startswith("$ ")
]
SNIPPETS = re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory like the project's: `./bin/trader` and the guide's `guide.toml`."""
    assert CONFIG is not None
    d = tmp_path_factory.mktemp("guide")
    (d / "bin").symlink_to(ROOT / "bin")
    (d / "guide.toml").write_text(CONFIG.group(1))
    for name, text in FILES.items():
        (d / name).write_text(text)
    return d


def test_the_guide_has_commands_and_snippets() -> None:
    assert len(COMMANDS) >= 5
    assert SNIPPETS


@pytest.mark.parametrize("line", COMMANDS)
def test_command(line: str, workdir: Path) -> None:
    command, _, comment = line.partition("#")
    m = re.search(r"exit (\d)", comment)
    expected = int(m.group(1)) if m else 0
    out = subprocess.run(["bash", "-c", command], cwd=workdir, capture_output=True, text=True, timeout=120)
    assert out.returncode == expected, out.stderr


@pytest.mark.parametrize("code", SNIPPETS)
def test_snippet(code: str) -> None:
    exec(compile(code, "deployment-5.md", "exec"), {})  # noqa: S102 - running our own documentation
