/* Tables of figures: built from cells, sortable by their columns, matrices shaded by share. */
import { el } from "./dom.js";

/** A table with one header row of headCells (cells or lists of cells), then the body's rows. */
export function table(props, headCells, rows) {
  return el("table", props, el("thead", {}, el("tr", {}, ...headCells)), el("tbody", {}, rows));
}

/** Column headers that sort the table's rows by each cell's data-sort value. */
export function makeSortable(table) {
  const headers = [...table.tHead.rows[0].cells];
  headers.forEach((th, column) => {
    if (!th.dataset.sortable) return;
    const button = el("button", { type: "button", class: "sort" }, ...th.childNodes);
    th.replaceChildren(button);
    button.addEventListener("click", () => {
      const descending = th.getAttribute("aria-sort") !== "descending";
      headers.forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      sortRows(table, column, descending, th.dataset.sortable === "text");
    });
  });
}

// Cells without a value go last whichever way the column is sorted.
function sortRows(table, column, descending, asText) {
  const body = table.tBodies[0];
  const key = (row) => row.cells[column].dataset.sort;
  const rows = [...body.rows].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    if (x === "" || x === undefined) return y === "" || y === undefined ? 0 : 1;
    if (y === "" || y === undefined) return -1;
    const order = asText ? x.localeCompare(y) : Number(x) - Number(y);
    return descending ? -order : order;
  });
  body.append(...rows);
}

/** A confusion-matrix cell shaded by its share of the row: blue on the diagonal, orange off it. */
export function shareCell(count, total, diagonal, title) {
  const share = total ? count / total : 0;
  // The power lifts small shares into sight; the floor keeps a single count visible.
  const alpha = share ? Math.max(0.08, share ** 0.6) : 0;
  const base = diagonal ? "36, 88, 214" : "217, 72, 15";
  return el(
    "td",
    {
      class: diagonal ? "cell diagonal" : "cell",
      title,
      style: {
        background: alpha ? `rgba(${base}, ${alpha.toFixed(3)})` : "",
        color: alpha > 0.55 ? "#fff" : "",
      },
      dataset: { count: String(count) },
    },
    count ? String(count) : "",
  );
}
