/* Building the page from data.
 *
 * Every string from data goes into the page as text (textContent or an attribute), never
 * as markup: el() and svg() have no way to set innerHTML. Styles are set through the
 * CSSOM, which the Content-Security-Policy allows, never as a style attribute, which it
 * refuses.
 */
const SVG = "http://www.w3.org/2000/svg";

export const $ = (id) => document.getElementById(id);

/** A new element: props are attributes (plus text, class, style, dataset), then children. */
export function el(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

export function svg(tag, props = {}, ...children) {
  return build(document.createElementNS(SVG, tag), props, children);
}

/** Replace a node's children, skipping the null ones (replaceChildren would print "null"). */
export function fill(node, ...children) {
  node.replaceChildren(...present(children));
}

// Children may come as nested lists, and a condition that does not hold gives null or false.
const present = (children) => children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);

function build(node, props, children) {
  setProps(node, props);
  node.append(...present(children));
  return node;
}

function setProps(node, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.setAttribute("class", value);
    else if (key === "style") setStyle(node, value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

// Custom properties (--label-color) are not style fields: only setProperty sets them.
function setStyle(node, style) {
  for (const [name, value] of Object.entries(style)) {
    if (name.startsWith("--")) node.style.setProperty(name, value);
    else node.style[name] = value;
  }
}

/** A function that reads a text out to screen readers (a polite live region). */
export function createAnnouncer(className) {
  const live = el("div", { class: className, "aria-live": "polite" });
  document.body.append(live);
  return (text) => {
    live.textContent = text;
  };
}

/** A line in #failures, which stays on screen: what could not be saved, and why. */
export function reportFailure(text) {
  const failures = $("failures");
  failures.hidden = false;
  failures.append(el("p", { text }));
}

/** The JSON a template put in the page with json_script. */
export const pageData = (id) => JSON.parse($(id).textContent);
