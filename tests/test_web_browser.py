"""The page of ``jac serve`` in a real headless browser (Debian's chromium, driven by Playwright).

Skips without Playwright or chromium (``.ci/run`` installs both). Every request the page
makes is watched: anything not on 127.0.0.1 is blocked and recorded, and the tests assert
that nothing was (the page works with the network unplugged). ``JAC_WEB_SCREENSHOTS=1``
also writes each view's screenshot to ``docs/`` (the README shows one).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sympy

from web_support import ROOT, running_server

if os.environ.get("JAC_REQUIRE_CHROMIUM"):
    import playwright.sync_api as sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                         else None)
#: .ci/run installs chromium and sets JAC_REQUIRE_CHROMIUM: there, these tests never skip.
REQUIRED = bool(os.environ.get("JAC_REQUIRE_CHROMIUM"))
pytestmark = pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="chromium is not installed")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
MLP = "-mean(T*log(softmax(tanh(X@W1+b1)@W2+b2)))"
MLP_SHAPES = "X=4x3 W1=3x5 b1=5 W2=5x2 b2=2 T=4x2"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server():
    with running_server("--workers", "2") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        assert CHROMIUM, "chromium is required (JAC_REQUIRE_CHROMIUM) but not installed"
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Watched:
    """A page whose requests to anything but 127.0.0.1 are blocked and recorded."""

    def __init__(self, browser, server, **context_options) -> None:
        self.context = browser.new_context(**context_options)
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.problems: list[str] = []  # console errors (CSP violations among them)
        self.dialogs: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.server = server

    def _route(self, route) -> None:
        url = route.request.url
        host = urlparse(url).hostname
        if url.startswith("data:") or host == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _console(self, message) -> None:
        expected = "the server responded with a status of 400"  # the refused XSS payload
        if message.type == "error" and expected not in message.text:
            self.problems.append(message.text)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, query: str = "") -> None:
        self.page.goto(f"{self.server.url}/{query}")
        self.page.wait_for_selector("body[data-ready='1']")

    def run_form(self, expr: str, wrt: str = "", shapes: str = "", mode: str = "jacobian",
                 onehot: str = "") -> None:
        page = self.page
        page.fill("#expr", expr)
        page.fill("#wrt", wrt)
        page.fill("#shapes", shapes)
        page.select_option("#mode", mode)
        if onehot:
            page.fill("#onehot", onehot)
        page.focus("#expr")
        page.keyboard.press("Enter")  # Enter runs
        self.wait()

    def wait(self) -> None:
        self.page.wait_for_selector("body[data-state='done'], body[data-state='error']",
                                    timeout=120_000)

    def screenshot(self, tmp_path: Path, name: str) -> None:
        path = tmp_path / name
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        if os.environ.get("JAC_WEB_SCREENSHOTS"):
            shutil.copy(path, ROOT / "docs" / name)

    def close(self) -> None:
        self.context.close()
        assert not self.blocked, f"the page asked for other origins: {self.blocked}"
        assert not self.failed, f"requests failed: {self.failed}"
        assert not self.problems, f"errors in the page: {self.problems}"
        assert not self.dialogs, f"the page opened dialogs: {self.dialogs}"


@pytest.fixture
def watched(browser, server):
    page = Watched(browser, server, viewport={"width": 1280, "height": 900})
    yield page
    page.close()


def tex_of(page, selector: str) -> str:
    """The TeX source KaTeX typeset in ``selector`` (its MathML annotation)."""
    return page.eval_on_selector(f"{selector} annotation", "a => a.textContent")


def matrix_cells(tex: str) -> list[list[str]]:
    body = re.search(r"\\begin\{pmatrix\}(.*)\\end\{pmatrix\}", tex, re.S).group(1)
    return [[cell.strip() for cell in row.split("&")] for row in body.split("\\\\")]


def test_card_example_typeset(watched, tmp_path):
    watched.open()
    watched.run_form("sin(x1-x2), cos(x1-x2)", wrt="x1,x2")
    page = watched.page
    page.wait_for_selector("#maths .katex-display")
    x1, x2 = sympy.symbols("x1 x2", real=True)
    expected = [[sympy.latex(sympy.cos(x1 - x2)), sympy.latex(-sympy.cos(x1 - x2))],
                [sympy.latex(-sympy.sin(x1 - x2)), sympy.latex(sympy.sin(x1 - x2))]]
    assert matrix_cells(tex_of(page, "#maths")) == expected  # the derivatives known by hand
    shown = page.inner_text("#maths .katex-html")
    assert shown.count("cos") == 2 and shown.count("sin") == 2
    assert page.text_content("#command") == "jac 'sin(x1-x2), cos(x1-x2)' --wrt x1,x2"
    assert "expr=sin%28x1-x2%29" in page.url and "wrt=x1%2Cx2" in page.url  # a link to it
    assert not page.is_hidden("#spy-card")
    watched.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                      origin=watched.server.url)
    page.click("#copy")
    page.wait_for_selector("#copy:text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == page.text_content("#command")
    watched.screenshot(tmp_path, "web-jacobian.png")


def test_link_reproduces_a_result(watched):
    watched.open("?expr=A%40x&wrt=A&shape=A%3D2x3&shape=x%3D3")
    watched.wait()
    page = watched.page
    assert page.input_value("#expr") == "A@x" and page.input_value("#shapes") == "A=2x3 x=3"
    tex = tex_of(watched.page, "#maths")
    assert tex.count(r"\begin{pmatrix}") == 3  # a 3-D Jacobian: two blocks in a block matrix
    href = page.get_attribute("#dl-standalone", "href")
    status, headers, body = watched.server.request(href)
    assert status == 200 and body.startswith(b"\\documentclass")


def test_mlp_backprop_seven_proved_steps(watched, tmp_path):
    watched.open()
    watched.run_form(MLP, wrt="W1,b1,W2,b2", shapes=MLP_SHAPES, mode="backprop", onehot="T")
    page = watched.page
    steps = page.query_selector_all("#steps details.step")
    names = [s.get_attribute("data-name") for s in steps]
    assert names == ["dZ2", "dW2", "db2", "dY1", "dZ1", "dW1", "db1"]
    assert [s.inner_text() for s in page.query_selector_all("#steps .verdict")] == ["proved"] * 7
    assert all(s.get_attribute("open") is None for s in steps)  # collapsed
    steps[1].query_selector("summary").click()  # expandable: the explicit contraction of dW2
    contraction = tex_of(page, "#steps details[data-name='dW2'] .display")
    assert r"\sum_{ij}" in contraction and r"\frac{\partial {Z_{2}}_{ij}}" in contraction
    assert page.is_visible("#steps details[data-name='dW2'] .display .katex")
    rows = page.query_selector_all("#gradients tbody tr")
    assert [r.query_selector("td").inner_text() for r in rows] == [
        "∂L/∂W1", "∂L/∂b1", "∂L/∂W2", "∂L/∂b2"]
    assert "agrees" in page.inner_text("#end-to-end")
    assert "--backprop" in page.text_content("#command")
    for kind in ("numpy", "torch"):
        status, _, code = watched.server.request(page.get_attribute(f"#dl-{kind}", "href"))
        assert status == 200 and b"def " in code
    watched.screenshot(tmp_path, "web-backprop.png")


def test_hessian_view(watched, tmp_path):
    watched.open("?expr=x.T%40A%40x&wrt=x&shape=x%3D3&shape=A%3D3x3&mode=hessian")
    watched.wait()
    page = watched.page
    assert page.input_value("#mode") == "hessian"
    assert r"A + A^{\top}" in tex_of(page, "#maths")
    checks = page.inner_text("#checks")
    assert "symmetric" in checks and "proved" in checks
    watched.screenshot(tmp_path, "web-hessian.png")


def test_xss_payload_shown_as_text(watched, tmp_path):
    watched.open()
    watched.run_form(XSS)
    page = watched.page
    assert page.evaluate("document.body.dataset.state") == "error"
    text = page.text_content("#error-text")
    assert text.startswith("Error: invalid syntax at '<' (column 1)")
    assert XSS in text  # shown as text, under the column marker
    assert text.splitlines()[-1].strip() == "^"
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    watched.screenshot(tmp_path, "web-error.png")
    watched.open("?expr=" + "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")  # from a link too
    watched.wait()
    assert XSS in page.text_content("#error-text")
    assert page.input_value("#expr") == XSS


def test_phone_and_projector(browser, server, tmp_path):
    phone = Watched(browser, server, viewport={"width": 390, "height": 844},
                    device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        phone.open("?expr=sin(x1-x2)%2C%20cos(x1-x2)&wrt=x1%2Cx2")
        phone.wait()
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # no sideways scrolling of the page itself
        phone.screenshot(tmp_path, "web-phone.png")
    finally:
        phone.close()
    projector = Watched(browser, server, viewport={"width": 1280, "height": 800})
    try:
        projector.open("?expr=X%40W&wrt=W&shape=X%3D2x2&shape=W%3D2x2")
        projector.wait()
        small = projector.page.evaluate("getComputedStyle(document.body).fontSize")
        projector.page.click("#large")
        large = projector.page.evaluate("getComputedStyle(document.body).fontSize")
        assert float(large[:-2]) > float(small[:-2])
        projector.screenshot(tmp_path, "web-large.png")
    finally:
        projector.close()


def test_compact_jacobian_and_claims(watched, tmp_path):
    features = json.loads(watched.server.request("/api/features")[2])
    if not (features["compact"] and features["claims"]):
        pytest.skip("this jac has no --compact or --claim")
    watched.open()
    page = watched.page
    assert page.is_visible("#compact") and page.is_visible("#claims")
    page.check("#compact")
    page.fill("#claims", "J = diag(p) - outer(p, p); J = diag(p)")
    watched.run_form("softmax(l)", wrt="l", shapes="l=3")
    assert "compact=1" in page.url and "claim=J" in page.url
    checks = [item.inner_text() for item in page.query_selector_all("#checks li")]
    assert checks[0].startswith("Compact Jacobian J = diag(p) - outer(p, p): proved")
    assert checks[1].startswith("Claim J = diag(p) - outer(p, p): proved")
    assert checks[2].startswith("Claim J = diag(p): refuted") and "differs at J[1,1]" in checks[2]
    assert r"\operatorname{diag}\left(p\right) - p p^{\top}" in tex_of(page, "#maths")
    assert page.text_content("#command") == (
        "jac 'softmax(l)' --wrt l --shape l=3 --compact --claim 'J = diag(p) - outer(p, p)' "
        "--claim 'J = diag(p)'")
    watched.screenshot(tmp_path, "web-claims.png")
