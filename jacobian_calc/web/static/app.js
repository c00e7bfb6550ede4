/* The page of `jac serve`: the form, its state in the URL, the results typeset by KaTeX.
 *
 * Everything shown comes from the server's answer (the `jac` command's JSON document and
 * its LaTeX); text is always set with textContent, maths with katex.render (which builds
 * DOM nodes, no HTML strings), so nothing the user typed is ever read as markup. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const FIELDS = ["expr", "wrt", "onehot", "at"];
  const OK_VERDICTS = new Set(["proved", "agrees", "symmetric", "verified"]);

  /* ---- the form and the URL ---- */

  function shapesFromText(text) {
    const shapes = {};
    for (const item of text.split(/[\s;,]+/).filter(Boolean)) {
      const at = item.indexOf("=");
      if (at < 0) shapes[item] = "";
      else shapes[item.slice(0, at).trim()] = item.slice(at + 1).trim();
    }
    return shapes;
  }

  function formBody() {
    const body = { expr: $("expr").value };
    for (const name of FIELDS.slice(1)) {
      const value = $(name).value.trim();
      if (value) body[name] = value;
    }
    const shapes = shapesFromText($("shapes").value);
    if (Object.keys(shapes).length) body.shapes = shapes;
    const claims = $("claims").value.split(";").map((c) => c.trim()).filter(Boolean);
    if (features.claims && claims.length) body.claims = claims;
    if (features.compact && $("compact").checked) body.compact = true;
    body.mode = $("mode").value;
    if (body.mode === "jacobian" && $("layout").value !== "numerator") body.layout = $("layout").value;
    return body;
  }

  function queryOf(body) {
    const params = new URLSearchParams();
    params.append("expr", body.expr);
    for (const name of FIELDS.slice(1)) if (body[name]) params.append(name, body[name]);
    for (const [name, dims] of Object.entries(body.shapes || {})) params.append("shape", name + "=" + dims);
    if (body.mode && body.mode !== "jacobian") params.append("mode", body.mode);
    if (body.layout) params.append("layout", body.layout);
    if (body.compact) params.append("compact", "1");
    for (const claim of body.claims || []) params.append("claim", claim);
    return params.toString();
  }

  function fillForm(params) {
    for (const name of FIELDS) $(name).value = params.get(name) || "";
    $("shapes").value = params.getAll("shape").join(" ");
    const mode = params.get("mode") || "jacobian";
    $("mode").value = ["jacobian", "backprop", "hessian"].includes(mode) ? mode : "jacobian";
    $("layout").value = params.get("layout") === "denominator" ? "denominator" : "numerator";
    $("compact").checked = params.get("compact") === "1";
    $("claims").value = params.getAll("claim").join("; ");
    modeChanged();
  }

  function modeChanged() {
    const mode = $("mode").value;
    $("layout").disabled = mode !== "jacobian";
    $("onehot").disabled = mode === "jacobian";
    $("compact").disabled = mode !== "jacobian";
  }

  /* Optional fields of this jac (compact Jacobians, claims): shown when it has them. */
  let features = { compact: false, claims: false };

  async function loadFeatures() {
    try {
      const response = await fetch("/api/features");
      if (response.ok) features = await response.json();
    } catch (error) { /* the three modes still work */ }
    $("compact-field").hidden = !features.compact;
    $("claims-field").hidden = !features.claims;
  }

  /* ---- maths ---- */

  function typeset(element, tex, display) {
    try {
      katex.render(tex, element, { displayMode: display, throwOnError: false, strict: "ignore",
                                   trust: false, maxExpand: 10000 });
    } catch (error) {
      element.textContent = tex;
    }
  }

  /* A paragraph of the LaTeX renderer's prose: text, $inline maths$, \textbf{...}. */
  function inline(container, text) {
    const parts = text.split(/(\$[^$]*\$)/);
    for (const part of parts) {
      if (!part) continue;
      if (part.length > 1 && part.startsWith("$") && part.endsWith("$")) {
        const span = document.createElement("span");
        typeset(span, part.slice(1, -1), false);
        container.appendChild(span);
      } else {
        container.appendChild(document.createTextNode(part.replace(/\\(nopagebreak|smallskip|medskip|par)\b/g, "").replace(/~/g, "\u00a0")));
      }
    }
  }

  function paragraph(container, text) {
    text = text.trim();
    if (!text) return;
    const display = text.match(/^\\\[([\s\S]*)\\\]$/);
    if (display) {
      const div = document.createElement("div");
      div.className = "display";
      typeset(div, display[1], true);
      container.appendChild(div);
      return;
    }
    const p = document.createElement("p");
    let rest = text;
    while (rest.startsWith("\\textbf{")) {
      let depth = 0, end = -1;
      for (let i = 7; i < rest.length; i++) {
        if (rest[i] === "{") depth++;
        else if (rest[i] === "}" && --depth === 0) { end = i; break; }
      }
      if (end < 0) break;
      const strong = document.createElement("strong");
      inline(strong, rest.slice(8, end));
      p.appendChild(strong);
      rest = rest.slice(end + 1);
    }
    inline(p, rest);
    container.appendChild(p);
  }

  function paragraphs(tex) {
    return tex.split(/\n\s*\n/).map((s) => s.trim()).filter(Boolean);
  }

  function prose(container, list) {
    for (const text of list) paragraph(container, text);
  }

  /* The derivation of a backward pass: its opening, one group per step, its close. */
  function splitSteps(tex) {
    const opening = [], steps = [], closing = [];
    for (const text of paragraphs(tex)) {
      if (text.startsWith("\\textbf{Backward step")) steps.push([text]);
      else if (steps.length && (text.startsWith("The gradients") || closing.length)) closing.push(text);
      else if (steps.length) steps[steps.length - 1].push(text);
      else opening.push(text);
    }
    return { opening, steps, closing };
  }

  function compactRule(group) {
    const at = group.findIndex((text) => text.startsWith("The compact rule"));
    const display = at >= 0 && group[at + 1] ? group[at + 1].match(/^\\\[([\s\S]*)\\\]$/) : null;
    return display ? display[1] : null;
  }

  /* ---- the views ---- */

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function verdict(word, how) {
    const span = element("span", "verdict " + (OK_VERDICTS.has(word) ? "ok" : "bad"), word);
    if (how) span.title = how;
    return span;
  }

  function showError(message, caret) {
    $("results").hidden = true;
    $("error").hidden = false;
    $("error-text").textContent = "Error: " + message + (caret ? "\n" + caret : "");
  }

  function title(documentJSON) {
    const kind = documentJSON.kind || (documentJSON.blocks ? "hessian" : "jacobian");
    if (kind === "backprop") return "Backward pass of " + (documentJSON.output || "the output");
    if (kind === "hessian") return "Hessian";
    return "Jacobian";
  }

  function summary(doc) {
    if (doc.summary) return doc.summary;
    if (doc.jacobians) {
      return doc.jacobians.map((j) => "∂/∂(" + j.wrt.join(", ") + "): " + doc.layout +
                               " layout, shape " + j.shape.join(" × ")).join("; ");
    }
    if (doc.blocks) {
      return "blocks " + doc.blocks.map((b) => b.rows + "," + b.cols + " (" + b.shape.join(" × ") + ")").join(", ") +
             (doc.nonzeros !== undefined ? "; " + doc.nonzeros + " non-zero entries" : "");
    }
    return "";
  }

  function renderSteps(doc, derivation) {
    const container = $("steps");
    container.replaceChildren();
    const split = derivation ? splitSteps(derivation) : { opening: [], steps: [], closing: [] };
    const matched = split.steps.length === doc.backward.length;
    doc.backward.forEach((step, i) => {
      const details = element("details", "step");
      details.dataset.name = step.name;
      const head = element("summary");
      head.appendChild(element("span", "step-name", step.name));
      const rule = element("span", "rule");
      const tex = matched ? compactRule(split.steps[i]) : null;
      if (tex) typeset(rule, tex, false);
      else rule.appendChild(element("code", "", step.name + " = " + step.compact));
      head.appendChild(rule);
      head.appendChild(verdict(step.verdict, step.how));
      details.appendChild(head);
      const body = element("div", "prose");
      if (matched) prose(body, split.steps[i]);
      else body.appendChild(element("pre", "", step.contraction));
      details.appendChild(body);
      container.appendChild(details);
    });
    const line = $("end-to-end");
    line.replaceChildren();
    if (doc.end_to_end) {
      line.appendChild(document.createTextNode("End to end, against the whole expression's derivative: "));
      line.appendChild(verdict(doc.end_to_end.verdict, doc.end_to_end.points + " points"));
    }
    $("steps-card").hidden = false;
    return split;
  }

  function renderGradients(doc) {
    const body = $("gradients").tBodies[0];
    body.replaceChildren();
    for (const g of doc.gradients) {
      const row = element("tr");
      row.appendChild(element("td", "", g.label || g.name));
      row.appendChild(element("td", "", g.shape.length ? g.shape.join(" × ") : "scalar"));
      const compact = element("td");
      compact.appendChild(element("code", "", g.name + " = " + g.compact));
      row.appendChild(compact);
      const inlined = element("td");
      inlined.appendChild(element("code", "", g.inline || ""));
      row.appendChild(inlined);
      body.appendChild(row);
    }
    $("gradients-card").hidden = !doc.gradients.length;
  }

  function renderChecks(doc) {
    const list = $("checks");
    list.replaceChildren();
    const add = (label, word, how) => {
      const item = element("li");
      item.appendChild(element("span", "", label + ": "));
      item.appendChild(verdict(word, how));
      if (how) item.appendChild(element("span", "muted", " " + how));
      list.appendChild(item);
    };
    if (doc.symmetry) add("Symmetry", doc.symmetry.verdict, doc.symmetry.how);
    for (const j of doc.jacobians || []) {
      if (j.compact && j.compact.verdict) {
        add("Compact Jacobian " + j.compact.label + " = " + j.compact.compact, j.compact.verdict, j.compact.how);
      }
    }
    if (doc.compact && doc.compact.verdict) add("Compact form", doc.compact.verdict, doc.compact.how);
    if (doc.chain && doc.chain.verdict) add("Chain rule", doc.chain.verdict, doc.chain.how);
    for (const claim of Array.isArray(doc.claims) ? doc.claims : []) {
      add("Claim " + (claim.claim || claim.text || ""), claim.verdict, claim.reason || claim.how);
    }
    $("checks-card").hidden = !list.children.length;
  }

  function setDownloads(query, mode) {
    for (const kind of ["latex", "standalone", "json", "numpy", "torch"]) {
      $("dl-" + kind).href = "/api/download?" + query + "&as=" + kind;
    }
    $("dl-code").hidden = mode === "jacobian";
  }

  function render(view, body, query) {
    const doc = view.document;
    $("error").hidden = true;
    $("results").hidden = false;
    $("title").textContent = title(doc);
    $("summary").textContent = summary(doc);
    const maths = $("maths");
    maths.replaceChildren();
    if (view.latex) typeset(maths, view.latex, true);
    else maths.appendChild(element("pre", "", JSON.stringify(doc, null, 2)));
    const warnings = $("warnings");
    warnings.replaceChildren();
    for (const note of view.warnings || []) warnings.appendChild(element("li", "", "Warning: " + note));

    const derivation = $("derivation");
    derivation.replaceChildren();
    let rest = view.derivation ? paragraphs(view.derivation) : [];
    if (doc.kind === "backprop" && doc.backward) {
      const split = renderSteps(doc, view.derivation);
      if (split.steps.length === doc.backward.length) rest = split.opening.concat(split.closing);
      renderGradients(doc);
    } else {
      $("steps-card").hidden = true;
      $("gradients-card").hidden = true;
    }
    renderChecks(doc);
    prose(derivation, rest);
    $("derivation-card").hidden = !rest.length;
    $("spy-card").hidden = !view.spy;
    if (view.spy) $("spy").src = "data:image/png;base64," + view.spy;
    $("command").textContent = view.command;
    setDownloads(query, body.mode);
  }

  /* ---- running ---- */

  let current = null;

  async function run(push) {
    const body = formBody();
    if (!body.expr.trim()) { $("expr").focus(); return; }
    const query = queryOf(body);
    if (push && location.search.slice(1) !== query) history.pushState(null, "", "/?" + query);
    if (current) current.abort();
    const controller = new AbortController();
    current = controller;
    $("busy").hidden = false;
    $("run").disabled = true;
    document.body.dataset.state = "running";
    try {
      const response = await fetch("/api/page", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body), signal: controller.signal });
      const answer = await response.json();
      if (!response.ok) showError(answer.error || ("status " + response.status), answer.caret);
      else render(answer, body, query);
      document.body.dataset.state = response.ok ? "done" : "error";
    } catch (error) {
      if (error.name === "AbortError") return;
      showError("the server did not answer (" + error.message + ")");
      document.body.dataset.state = "error";
    } finally {
      if (current === controller) {
        current = null;
        $("busy").hidden = true;
        $("run").disabled = false;
      }
    }
  }

  function copyCommand() {
    const text = $("command").textContent;
    const done = () => { $("copy").textContent = "Copied"; setTimeout(() => { $("copy").textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => selectCommand());
    } else {
      selectCommand();
      done();
    }
  }

  function selectCommand() {
    const range = document.createRange();
    range.selectNodeContents($("command"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { document.execCommand("copy"); } catch (error) { /* selected: the user copies */ }
  }

  function setLarge(on) {
    document.body.classList.toggle("large", on);
    $("large").setAttribute("aria-pressed", String(on));
    try { localStorage.setItem("jac-large", on ? "1" : ""); } catch (error) { /* private mode */ }
  }

  async function start() {
    $("form").addEventListener("submit", (event) => { event.preventDefault(); run(true); });
    $("mode").addEventListener("change", modeChanged);
    $("copy").addEventListener("click", copyCommand);
    $("large").addEventListener("click", () => setLarge(!document.body.classList.contains("large")));
    let large = false;
    try { large = localStorage.getItem("jac-large") === "1"; } catch (error) { /* private mode */ }
    const params = new URLSearchParams(location.search);
    setLarge(large || params.get("large") === "1");
    window.addEventListener("popstate", () => {
      fillForm(new URLSearchParams(location.search));
      if ($("expr").value) run(false);
    });
    await loadFeatures();
    fillForm(params);
    if ($("expr").value) run(false);
    else $("expr").focus();
    document.body.dataset.ready = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
