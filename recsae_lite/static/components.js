// recsae-lite's in-page components (no need to read): the steering equalizer, the feature atlas
// and the sortable table, drawn from the numbers a Python output carries (recsae_lite/widgets.py says which and
// why). Plain JavaScript, nothing loaded: it runs in the rendered book, in Jupyter and in Colab.
// Each output carries this file; the first copy on a page defines window.recsaeLite.
window.recsaeLite = window.recsaeLite || (function () {
  "use strict";

  // base64 float16 (little-endian) -> Float64Array
  function halves(text) {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const view = new DataView(bytes.buffer), out = new Float64Array(bytes.length / 2);
    for (let i = 0; i < out.length; i++) {
      const bits = view.getUint16(2 * i, true), sign = bits & 0x8000 ? -1 : 1;
      const exponent = (bits >> 10) & 0x1f, fraction = bits & 0x3ff;
      out[i] = exponent === 0 ? sign * fraction * 2 ** -24
        : exponent === 31 ? (fraction ? NaN : sign * Infinity)
        : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
    }
    return out;
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "style") node.style.cssText = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : String(child));
      }
    }
    return node;
  }

  function table(head, rows, attributes) {
    return element("table", { style: "font-size:0.85em;margin:0.3em 0", ...attributes },
      element("thead", {}, element("tr", {}, head.map((h) => element("th", {}, h)))),
      element("tbody", {}, rows));
  }

  function readData(root) {
    return JSON.parse(root.querySelector("script[type='application/json']").textContent);
  }

  // a number as a reader should see it: at most `digits` decimals, no trailing zeros
  function number(value, digits) {
    return String(Number(value.toFixed(digits)));
  }

  // -- a table whose columns sort on a click on their header ----------------------------------

  function sortable(root) {
    const data = readData(root), body = element("tbody", {}, data.rows.map((cells) =>
      element("tr", {}, cells.map((cell) => element("td", {}, cell)))));
    const value = (row, i) => {
      const text = row.cells[i].textContent, n = parseFloat(text);
      return isNaN(n) ? text : n;
    };
    const ascending = data.columns.map(() => false);
    const head = data.columns.map((name, i) => element("th", { style: "cursor:pointer",
      onclick: () => {
        ascending[i] = !ascending[i];
        const sign = ascending[i] ? 1 : -1, rows = Array.from(body.rows);
        rows.sort((a, b) => (value(a, i) > value(b, i) ? 1 : value(a, i) < value(b, i) ? -1 : 0)
          * sign);
        rows.forEach((row) => body.appendChild(row));
      } }, `${name} ⇅`));
    root.append(element("div", { style: `max-height:${data.max_height}px;overflow:auto` },
      element("table", {}, element("thead", {}, element("tr", {}, head)), body)));
  }

  // -- the equalizer -----------------------------------------------------------------------

  function equalizer(root) {
    const data = readData(root), d = data.d, mix = data.mode === "mix";
    const E = halves(data.embeddings), D = halves(data.decoder), H = halves(data.states);
    const nItems = data.titles.length, concepts = Object.keys(data.concepts);

    // the steered state of row r: "add" with the error term, or paper C's "mix" without it
    function state(r, values, alpha, mixed) {
      const h = new Float64Array(d);
      if (!mix) {
        h.set(H.subarray(r * d, (r + 1) * d));
        for (const [j, v] of values) {
          for (let i = 0; i < d; i++) h[i] += v * data.std[r] * D[j * d + i];
        }
        return h;
      }
      const [features, acts] = data.codes[r], code = new Map();
      const total = acts.reduce((sum, a) => sum + Math.abs(a), 0);
      features.forEach((j, n) => code.set(j, (1 - alpha) * acts[n]));
      for (const j of mixed) code.set(j, (code.get(j) || 0) + alpha * total / mixed.length);
      for (const [j, a] of code) for (let i = 0; i < d; i++) h[i] += a * D[j * d + i];
      for (let i = 0; i < d; i++) h[i] = data.std[r] * (h[i] + data.offset[i]) + data.mean[r];
      return h;
    }

    // the top 10 of scores = h E^T, seen items masked; ties: the lower item first
    function top(r, h) {
      const seen = new Set(data.seen[r]), scored = [];
      for (let item = 0; item < nItems; item++) {
        if (seen.has(item)) continue;
        let s = 0;
        for (let i = 0; i < d; i++) s += h[i] * E[item * d + i];
        scored.push([s, item]);
      }
      scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      return scored.slice(0, 10).map((pair) => pair[1]);
    }

    const user = element("select", { "data-role": "user" },
      data.users.map((u, n) => element("option", { value: n }, `user ${u}`)));
    const shown = element("div", { "data-role": "list" });
    // "add": a slider per genre and the free feature's; "mix": a genre (or the free feature) and
    // alpha. Each control is in `controls`: a change of any redraws the list
    const free = element("input", { type: "number", min: 0, max: data.d_sae - 1, value: 0,
      step: 1, "data-role": "free-feature", style: "width:5em" });
    const concept = element("select", { "data-role": "concept" },
      concepts.map((g) => element("option", { value: g },
        `${g} (features ${data.concepts[g].join(", ")})`)),
      element("option", { value: "" }, "one feature (pick it)"));
    const sliders = {}, controls = [free];
    const range = (min, max, step, attributes) => element("input",
      { type: "range", min, max, step, value: 0, style: "width:14em", ...attributes });

    function row(label, input) {
      const text = element("span", { style: "display:inline-block;width:3em" });
      const show = () => { text.textContent = input.value; };
      input.addEventListener("input", show);
      show();
      controls.push(input);
      return element("div", { style: "display:flex;gap:0.6em;align-items:center" },
        element("span", { style: "display:inline-block;width:20em" }, label), input, text);
    }

    let panel;
    if (!mix) {
      // a feature on several sliders moves with each of them: say so beside it
      const others = (g) => concepts.filter((o) => o !== g
        && data.concepts[o].some((j) => data.concepts[g].includes(j)));
      panel = concepts.map((g) => {
        sliders[g] = range(-1, data.max_strength, 0.25, { "data-genre": g });
        const shared = others(g).length ? `; also ${others(g).join(", ")}` : "";
        return row(`${g} (feature ${data.concepts[g].join(", ")}${shared})`, sliders[g]);
      });
      sliders.free = range(-1, data.max_strength, 0.25, { "data-role": "free-strength" });
      panel.push(row(element("span", {}, "free feature ", free), sliders.free));
    } else {
      sliders.alpha = range(0, 1, 0.05, { "data-role": "alpha" });
      const freeOnly = () => { free.disabled = concept.value !== ""; };  // "one feature" picks it
      concept.addEventListener("input", freeOnly);
      freeOnly();
      controls.push(concept);
      panel = [element("div", {}, "mix in ", concept, " ", free), row("alpha", sliders.alpha)];
    }

    // what the controls ask for: {features: amounts} ("add"), or the alpha and features ("mix")
    function edit() {
      if (mix) {
        const g = concept.value;
        return { alpha: Number(sliders.alpha.value),
          mixed: g ? data.concepts[g] : [Number(free.value)], marked: g ? [g] : [] };
      }
      const values = new Map(), marked = [];
      const add = (j, s) => values.set(j, (values.get(j) || 0) + s * (data.unit[j] ?? 1));
      for (const g of concepts) {
        const s = Number(sliders[g].value);
        if (s) data.concepts[g].forEach((j) => add(j, s));
        if (s > 0) marked.push(g);
      }
      const s = Number(sliders.free.value);
      if (s) add(Number(free.value), s);
      return { values, marked };
    }

    function update() {
      const r = Number(user.value), wanted = edit();
      const items = top(r, state(r, wanted.values || [], wanted.alpha, wanted.mixed));
      const before = new Set(top(r, state(r, [], 0, [])));
      const marked = new Set(wanted.marked.map((g) => data.genre_names.indexOf(g)));
      const rows = items.map((item, n) => {
        const genres = data.genres[item].map((g) => marked.has(g)
          ? element("b", {}, data.genre_names[g]) : data.genre_names[g]);
        const on = data.genres[item].some((g) => marked.has(g));
        return element("tr", { "data-item": item }, element("td", {}, n + 1),
          element("td", {}, data.titles[item]),
          element("td", {}, genres.flatMap((g, k) => (k ? [", ", g] : [g]))),
          element("td", {}, on ? "●" : ""), element("td", {}, before.has(item) ? "" : "new"));
      });
      const head = ["rank", "title", "genres", wanted.marked.join(", ") || "steered genre",
        "not in the unsteered list"];
      shown.replaceChildren(table(head, rows));
    }

    const reset = element("button", { type: "button", onclick: () => {
      controls.filter((c) => c.type === "range").forEach((c) => {
        c.value = 0;
        c.dispatchEvent(new Event("input"));
      });
    } }, "reset");
    [user, ...controls].forEach((c) => c.addEventListener("input", update));
    root.append(element("div", { style: "display:flex;gap:1em;align-items:center" }, user, reset),
      ...panel, shown);
    update();
  }

  // -- the feature atlas -------------------------------------------------------------------

  function bars(labels, values, color, scale) {
    const top = scale || Math.max(1e-9, ...values.map(Math.abs));
    return element("div", { style: "font-size:0.8em" }, labels.map((label, n) =>
      element("div", { style: "display:flex;align-items:center;gap:0.4em" },
        element("span", { style: "width:9em;text-align:right" }, label),
        element("span", { style: `display:inline-block;height:0.8em;background:${color};` +
          `width:${(12 * Math.max(0, values[n]) / top).toFixed(2)}em` }),
        element("span", {}, number(values[n], 3)))));
  }

  // per genre: the genre score of the feature's top positions (input; blank: a genre too small
  // to score) and the genre's share of the films its decoder direction raises most (output)
  function profile(data, f) {
    const bar = (value, color) => element("span", { style: "display:inline-block;height:0.8em;" +
      `background:${color};width:${(6 * Math.max(0, value)).toFixed(2)}em` });
    return table(["genre", "input: genre score", "output: share raised"],
      data.all_genres.map((g, n) => {
        const scored = data.genre_names.indexOf(g);
        const input = scored < 0 ? "" : [bar(f.input[scored], "#EF553B"), " ",
          number(f.input[scored], 2)];
        return element("tr", {}, element("td", {}, g), element("td", {}, input),
          element("td", {}, bar(f.output[n], "#00CC96"), " ", number(f.output[n], 2)));
      }));
  }

  function atlas(root) {
    const data = readData(root), text = (i) => data.strings[i];
    const asTable = ([head, texts, rows], role) => table(head, rows.map((r) => element("tr", {},
      r.map((v, n) => element("td", {}, texts[n] ? text(v) : number(v, 3))))), { "data-role": role });
    const strongest = (values, names) => names[values.indexOf(Math.max(...values))];
    const words = data.features.map((f, j) => [f.label, `feature ${j}`,
      ...f.top_items.map(text), ...f.boosted[2].map((r) => text(r[0]))].join(" | ").toLowerCase());

    function dashboard(j) {
      const f = data.features[j], [low, high] = f.range;
      const edges = f.histogram.map((_, n) => number(low + (n + 0.5) * (high - low) / 20, 2));
      const lift = data.all_genres.map((g, n) => [f.lift[n], g]).sort((a, b) => b[0] - a[0]).slice(0, 8);
      return element("div", { "data-role": "dashboard", "data-feature": j,
        style: "border:1px solid #ccc;padding:0.6em;margin-top:0.6em" },
        element("h4", {}, `Feature ${j}: ${f.label}`),
        element("p", {}, `fires on ${number(100 * f.density, 2)}% of positions` +
          (f.item ? "; an item feature (a few films among its top positions)" : "")),
        element("div", { style: "display:flex;flex-wrap:wrap;gap:2em" },
          element("div", {}, element("b", {}, "activations where it fires (count)"),
            bars(edges, f.histogram, "#3b6ea8")),
          element("div", {}, element("b", {}, "concept profile: input and output"),
            profile(data, f)),
          element("div", {}, element("b", {}, "genre lift of its top positions (1 = base rate)"),
            bars(lift.map((p) => p[1]), lift.map((p) => p[0]), "#AB63FA"),
            element("b", {}, "popularity decile of their items (1 = most popular)"),
            bars(f.deciles.map((_, n) => `decile ${n + 1}`), f.deciles, "#FFA15A", 1))),
        element("b", {}, "top-activating positions"), asTable(f.contexts, "contexts"),
        element("b", {}, "what its decoder direction does to item scores"),
        asTable(f.boosted, "boosted"));
    }

    const search = element("input", { type: "search", "data-role": "search", style: "width:24em",
      placeholder: "a film title, a genre or a label" });
    const count = element("span", {}), list = element("div", { "data-role": "results",
      style: "max-height:320px;overflow:auto" }), shown = element("div", {});

    function update() {
      const query = search.value.trim().toLowerCase();
      const genre = data.genre_names.findIndex((g) => g.toLowerCase() === query);
      const every = data.features.map((_, j) => j);
      // a genre's name: the features associated with it, strongest first; else any text
      const found = genre < 0 ? every.filter((j) => words[j].includes(query))
        : every.filter((j) => data.features[j].input[genre] > 0)
          .sort((a, b) => data.features[b].input[genre] - data.features[a].input[genre] || a - b);
      count.textContent = `${found.length} of ${data.features.length} features`;
      list.replaceChildren(table(["feature", "label", "firing rate", "item feature",
        "input genre", "output genre", "top items"], found.slice(0, 200).map((j) => {
        const f = data.features[j];
        return element("tr", { "data-feature": j, style: "cursor:pointer",
          onclick: () => shown.replaceChildren(dashboard(j)) },
          element("td", {}, j), element("td", {}, f.label), element("td", {}, number(f.density, 4)),
          element("td", {}, f.item ? "yes" : ""),
          element("td", {}, strongest(f.input, data.genre_names)),
          element("td", {}, strongest(f.output, data.all_genres)),
          element("td", {}, f.top_items.slice(0, 3).map(text).join("; ")));
      })));
    }

    search.addEventListener("input", update);
    root.append(element("div", {}, search, " ", count), list, shown);
    update();
    shown.replaceChildren(...data.open.map(dashboard));
  }

  return { halves, sortable, equalizer, atlas };
})();
