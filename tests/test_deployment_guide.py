"""Every command and snippet in deployment-5.md runs, with the exit code and the output the guide states.

- A ```console block is a sequence of `$ COMMAND   # exit N` lines (no `# exit`: 0). The lines under a
  command, up to the next `$`, are what it prints: each must appear in its stdout or stderr (`...` skips).
- Each block runs in a fresh directory of its own, a "fresh machine": `./bin/trader`, the guide's first
  unnamed ```toml block as `guide.toml`, every ```toml block that starts `# file: NAME` as NAME, and HOME
  set to that directory (so no `~/.trader/config.toml`), and no credentials in the environment. Blocks
  run in parallel, their commands in order.
- Every ```python snippet is executed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
GUIDE = (ROOT / "deployment-5.md").read_text(encoding="utf-8")
CONFIG = re.search(r"```toml\n(?!# file: )(.*?)```", GUIDE, flags=re.S)  # the first one without a name
# further TOML blocks name their file on their first line: `# file: NAME`
FILES = dict(re.findall(r"```toml\n# file: (\S+)\n(.*?)```", GUIDE, flags=re.S))
SNIPPETS = re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)
WORKERS = 4  # blocks at once: most of a block's time is a paper session's real-time seconds
TIMEOUT_S = 60  # one command; the whole guide runs within pytest-timeout's 120 s
CREDENTIAL = re.compile(r"(API_KEY|SECRET|PASSPHRASE|PRIVATE_KEY|PASSWORD)$")  # not on a fresh machine


@dataclass(frozen=True)
class Command:
    block: int
    line: str  # the command, with its `# exit N` comment
    expected: tuple[str, ...]  # lines it prints

    @property
    def exit_code(self) -> int:
        _, _, comment = self.line.partition("  #")
        m = re.search(r"exit (\d)", comment)
        return int(m.group(1)) if m else 0

    @property
    def shell(self) -> str:
        command, _, _ = self.line.partition("  #")
        return command.strip()


def _blocks() -> list[list[Command]]:
    blocks: list[list[Command]] = []
    for i, text in enumerate(re.findall(r"```console\n(.*?)```", GUIDE, flags=re.S)):
        commands: list[Command] = []
        for raw in text.splitlines():
            if raw.startswith("$ "):
                commands.append(Command(i, raw.removeprefix("$ ").strip(), ()))
            elif raw.strip() and raw.strip() != "..." and commands:
                last = commands[-1]
                commands[-1] = Command(i, last.line, (*last.expected, raw.strip()))
        blocks.append(commands)
    return blocks


BLOCKS = _blocks()
COMMANDS = [c for block in BLOCKS for c in block]


@dataclass(frozen=True)
class Result:
    returncode: int
    output: str


def _workdir(base: Path, block: int) -> Path:
    assert CONFIG is not None
    d = base / f"block{block:02d}"
    d.mkdir()
    (d / "bin").symlink_to(ROOT / "bin")
    (d / "guide.toml").write_text(CONFIG.group(1))
    for name, text in FILES.items():
        (d / name).write_text(text)
    return d


def _run_block(base: Path, block: list[Command]) -> dict[str, Result]:
    if not block:
        return {}
    d = _workdir(base, block[0].block)
    env = {k: v for k, v in os.environ.items() if not CREDENTIAL.search(k)} | {"HOME": str(d)}
    results: dict[str, Result] = {}
    for c in block:
        results[c.line] = _run_command(c.shell, d, env)
    return results


def _run_command(shell: str, cwd: Path, env: dict[str, str]) -> Result:
    """One command in its own process group: on a timeout the whole group is killed (a background job
    of the command keeps the output pipes open, and waiting for them would never end)."""
    # the guide's own commands, run as written: that is the test
    proc = subprocess.Popen(
        ["bash", "-c", shell],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Result(-1, f"timed out after {TIMEOUT_S} s")
    return Result(proc.returncode, out)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str], Result]:
    """Every block run once (in parallel); each command's exit code and output."""
    base = tmp_path_factory.mktemp("guide")
    with ThreadPoolExecutor(WORKERS) as pool:
        # the longest blocks first, so that they do not start last
        order = sorted(BLOCKS, key=lambda b: -sum(_seconds(c.shell) for c in b))
        done = list(pool.map(lambda b: _run_block(base, b), order))
    return {(b[0].block, line): r for b, res in zip(order, done, strict=True) if b for line, r in res.items()}


def _seconds(command: str) -> float:
    """A paper session's stated duration (real seconds unless --fast), for scheduling only."""
    if "--fast" in command:
        return 0.5
    return sum(float(s) for s in re.findall(r"--duration=(\d+(?:\.\d+)?)", command)) + 1.0


def test_the_guide_has_commands_snippets_and_outputs() -> None:
    assert len(COMMANDS) >= 40
    assert SNIPPETS
    assert sum(bool(c.expected) for c in COMMANDS) >= 10
    # the plan's operational commands, exactly as it writes them
    for line in (
        "./bin/trader testnet",
        "./bin/trader paper --exchange=ibkr",
        "./bin/trader live --exchange=binance --confirm",
    ):
        assert any(c.shell == line for c in COMMANDS), line
    assert "make release" in GUIDE


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.block}:{c.shell[:60]}" for c in COMMANDS])
def test_command(command: Command, results: dict[tuple[int, str], Result]) -> None:
    r = results[(command.block, command.line)]
    assert r.returncode == command.exit_code, r.output[-2000:]
    for line in command.expected:
        assert line in r.output, f"{line!r} not printed by {command.shell!r}:\n{r.output[-3000:]}"


@pytest.mark.parametrize("code", SNIPPETS)
def test_snippet(code: str) -> None:
    exec(compile(code, "deployment-5.md", "exec"), {})  # noqa: S102 - running our own documentation
