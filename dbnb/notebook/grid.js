// dbnb's explore grid (dbnb/notebook/grid.py): the page the kernel holds, drawn, and the
// user's clicks sent back as the view's state (page, sort, filters, search). The kernel
// asks the database for each answer; nothing here sorts, filters or counts.

function node(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") element.textContent = value;
    else element.setAttribute(name, value);
  }
  for (const child of children) element.append(child);
  return element;
}

function render({ model, el }) {
  const root = node("div", { class: "dbnb-grid" });
  const bar = node("div", { class: "dbnb-bar" });
  const first = node("button", { class: "dbnb-first", title: "first page", text: "«" });
  const previous = node("button", { class: "dbnb-previous", title: "previous page", text: "◀" });
  const next = node("button", { class: "dbnb-next", title: "next page", text: "▶" });
  const position = node("span", { class: "dbnb-position" });
  const size = node("select", { class: "dbnb-page-size", title: "rows a page" });
  for (const rows of [10, 25, 50, 100, 500]) size.append(node("option", { value: rows, text: `${rows} rows` }));
  const search = node("input", { class: "dbnb-search", type: "search", placeholder: "search text columns" });
  const copy = node("button", { class: "dbnb-copy", title: "copy the view as SQL", text: "copy SQL" });
  const csv = node("button", { class: "dbnb-export", title: "write the view to a CSV file", text: "CSV" });
  const parquet = node("button", { class: "dbnb-export", title: "write the view to a Parquet file", text: "Parquet" });
  const count = node("span", { class: "dbnb-count" });
  bar.append(first, previous, position, next, size, search, count, copy, csv, parquet);
  const status = node("div", { class: "dbnb-status" });
  const table = node("table", { class: "dbnb-table" });
  const summary = node("div", { class: "dbnb-summary" });
  root.append(node("div", { class: "dbnb-title", text: model.get("title") }), bar, status, table, summary);
  el.append(root);

  const setAndSave = (changes) => {
    for (const [name, value] of Object.entries(changes)) model.set(name, value);
    model.save_changes();
  };
  const pages = () => {
    const counted = model.get("count");
    return counted === null ? null : Math.max(1, Math.ceil(counted / model.get("page_size")));
  };

  first.onclick = () => setAndSave({ page: 0 });
  previous.onclick = () => setAndSave({ page: Math.max(0, model.get("page") - 1) });
  next.onclick = () => setAndSave({ page: model.get("page") + 1 });
  size.onchange = () => setAndSave({ page_size: Number(size.value), page: 0 });
  search.onkeydown = (event) => {
    if (event.key === "Enter") setAndSave({ search: search.value, page: 0 });
  };
  search.onsearch = () => setAndSave({ search: search.value, page: 0 });  // the clear (x) button
  copy.onclick = async () => {
    try {
      await navigator.clipboard.writeText(model.get("sql"));
      status.textContent = "The view's SQL is on the clipboard.";
    } catch {
      status.textContent = model.get("sql");  // no clipboard here: shown to copy by hand
    }
  };
  csv.onclick = () => model.send({ export: "csv" });
  parquet.onclick = () => model.send({ export: "parquet" });

  function header() {
    const columns = model.get("columns");
    const kinds = model.get("kinds");
    const [sorted, descending] = model.get("sort");
    const filters = model.get("filters");
    const names = node("tr", { class: "dbnb-names" });
    const inputs = node("tr", { class: "dbnb-filters" });
    columns.forEach((column, index) => {
      const mark = column === sorted ? (descending ? " ▼" : " ▲") : "";
      const name = node("th", { "data-column": column, class: `dbnb-${kinds[index]}`, title: "sort" });
      name.append(node("span", { class: "dbnb-name", text: column + mark }));
      const about = node("button", { class: "dbnb-about", title: "summary of this column", text: "Σ" });
      about.onclick = (event) => {
        event.stopPropagation();
        summary.textContent = `Summarising ${column}…`;
        model.send({ summary: column });
      };
      name.append(about);
      // One click sorts ascending, a second descending, a third not at all.
      name.onclick = () => {
        const sort = column !== sorted ? [column, false] : descending ? [] : [column, true];
        setAndSave({ sort, page: 0 });
      };
      names.append(name);
      const filter = node("input", {
        class: "dbnb-filter",
        "data-column": column,
        placeholder: kinds[index] === "text" ? "contains, = x, in a, b" : "= 1, > 2, is null",
      });
      filter.value = filters[column] ?? "";
      filter.onkeydown = (event) => {
        if (event.key !== "Enter") return;
        const changed = { ...model.get("filters") };
        if (filter.value.trim()) changed[column] = filter.value;
        else delete changed[column];
        setAndSave({ filters: changed, page: 0 });
      };
      inputs.append(node("th", {}, [filter]));
    });
    return node("thead", {}, [names, inputs]);
  }

  function body() {
    const kinds = model.get("kinds");
    const rows = model.get("rows").map((row) =>
      node("tr", {}, row.map((cell, index) =>
        cell === null
          ? node("td", { class: "dbnb-null", text: "NULL" })
          : node("td", { class: `dbnb-${kinds[index]}`, text: cell }),
      )),
    );
    return node("tbody", {}, rows);
  }

  // The header is drawn anew only when its columns, sort or filters change, so a filter
  // being typed keeps its text when a page or a count arrives.
  const head = node("thead");
  const rows = node("tbody");
  table.append(head, rows);
  function redrawHeader() {
    const fresh = header();
    table.replaceChild(fresh, table.querySelector("thead"));
  }
  function redrawRows() {
    table.replaceChild(body(), table.querySelector("tbody"));
  }

  function draw() {
    const page = model.get("page");
    const counted = model.get("count");
    const last = pages();
    position.textContent = last === null ? `page ${page + 1}` : `page ${page + 1} of ${last.toLocaleString()}`;
    count.textContent = counted === null ? "counting…" : `${counted.toLocaleString()} rows`;
    first.disabled = previous.disabled = page === 0;
    next.disabled = last !== null ? page + 1 >= last : model.get("rows").length < model.get("page_size");
    size.value = String(model.get("page_size"));
    if (document.activeElement !== search) search.value = model.get("search");
    root.classList.toggle("dbnb-loading", model.get("loading"));
    status.textContent = model.get("error") || model.get("message");
    status.classList.toggle("dbnb-error", Boolean(model.get("error")));
  }

  function about() {
    const found = model.get("summary");
    if (!found.column) return;
    const parts = ["rows", "nulls", "distinct", "min", "max", "mean", "top", "top_count"]
      .filter((name) => found[name] !== null && found[name] !== undefined)
      .map((name) => {
        const value = found[name];
        const shown = typeof value === "number" && !Number.isInteger(value) ? Number(value.toPrecision(6)) : value;
        return `${name.replace("_", " ")}: ${shown}`;
      });
    summary.textContent = `${found.column}: ${parts.join(" · ")}`;
  }

  for (const name of ["rows", "page", "page_size", "count", "search", "loading", "error", "message"]) {
    model.on(`change:${name}`, draw);
  }
  for (const name of ["columns", "kinds", "sort", "filters"]) model.on(`change:${name}`, redrawHeader);
  model.on("change:rows", redrawRows);
  model.on("change:summary", about);
  redrawHeader();
  redrawRows();
  draw();
  about();
}

export default { render };
