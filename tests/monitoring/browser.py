"""A real headless browser for the report test: Debian's `chromium`, driven over the DevTools protocol
(websockets' sync client): open a page, collect console errors and uncaught exceptions, find the plotly
charts and screenshot each one."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions, failed loads
    charts: list[dict[str, Any]] = field(default_factory=list)  # id, points, x, y, width, height


class Browser:
    def __init__(self, binary: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="trader-chromium-")
        self._log = Path(self._profile.name) / "stderr.log"
        self._stderr = self._log.open("w")  # a file, not a pipe: chromium never blocks on it
        self.proc = subprocess.Popen(
            [
                binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--remote-debugging-port=0", "--remote-allow-origins=*",
                f"--user-data-dir={self._profile.name}", "--window-size=1280,900", "about:blank",
            ],
            stdout=subprocess.DEVNULL, stderr=self._stderr,
            start_new_session=True,  # its helper processes in one group, which `close` ends whole
        )  # fmt: skip
        url = None
        deadline = 200  # x 50 ms: chromium prints its DevTools address first thing
        while url is None and deadline and self.proc.poll() is None:
            if (m := _LISTENING.search(self._log.read_text(errors="replace"))) is not None:
                url = m.group(1)
            else:
                time.sleep(0.05)
                deadline -= 1
        if url is None:
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint")
        port = url.split(":")[2].split("/")[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self.ws: ClientConnection = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 2**20)
        self._id = 0
        self._events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            self._events.append(msg)

    def _wait_event(self, method: str) -> None:
        if any(e.get("method") == method for e in self._events):
            return
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            self._events.append(msg)
            if msg.get("method") == method:
                return

    def open(self, path: Path) -> Page:
        """Load a file, wait until every plotly chart is drawn, and report what went wrong and where the
        charts are (document coordinates)."""
        self._events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self._wait_event("Page.loadEventFired")
        probe = """new Promise(done => {
            const t0 = Date.now();
            const look = () => {
                const plots = [...document.querySelectorAll('.js-plotly-plot')];
                const drawn = plots.every(p => p.querySelector('.main-svg'));
                if (drawn || Date.now() - t0 > 10000) {  // scripts ran by load: every chart div exists
                    done(JSON.stringify(plots.map(p => {
                        const r = p.getBoundingClientRect();
                        const points = (p.data || []).reduce((n, t) => n + ((t.x || []).length), 0);
                        return {id: p.id, points, x: r.left + scrollX, y: r.top + scrollY,
                                width: r.width, height: r.height};
                    })));
                } else { setTimeout(look, 50); }
            };
            look();
        })"""
        res = self.call("Runtime.evaluate", expression=probe, awaitPromise=True, returnByValue=True)
        page = Page(charts=json.loads(res["result"]["value"]))
        for e in self._events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                page.errors.append(str(p["exceptionDetails"].get("exception", {}).get("description", p)))
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                page.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
                page.errors.append(p["entry"]["text"])
        return page

    def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        """A PNG of the whole page, or of `clip` (x, y, width, height in document coordinates)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # chromium's helpers (renderer, crash handler) may outlive it, still writing into the profile:
        # the group goes, then the profile (a helper's last write can race the removal: tried again)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._stderr.close()
        for _ in range(50):
            try:
                self._profile.cleanup()
                return
            except OSError:
                time.sleep(0.05)
        self._profile.cleanup()
