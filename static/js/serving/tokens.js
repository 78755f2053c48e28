/* The prediction tokens' table: each token's name, its first characters, who issued it,
 * when, its last use, and a button that revokes it. Names come from people: they enter
 * the page as text only. */
import { el } from "../lib/dom.js";
import { table } from "../lib/tables.js";
import { timeTag, ago } from "../lib/format.js";

/** The table of tokens (live first), or a line saying there is none. onRevoke(token) is
 * called when a live token's Revoke button is pressed. */
export function tokensTable(tokens, { onRevoke }) {
  if (!tokens.length) {
    return el("p", { class: "muted empty", id: "no-tokens", text: "No prediction token yet: issue one for each system that calls the API." });
  }
  const head = ["Name", "Key", "Issued by", "Issued", "Last used", "Status"].map((text) => el("th", { scope: "col", text }));
  return table({ class: "tokens-table", id: "tokens-table" }, head, tokens.map((token) => tokenRow(token, onRevoke)));
}

function tokenRow(token, onRevoke) {
  const revoked = Boolean(token.revoked_at);
  let status;
  if (revoked) {
    status = el("span", { class: "pill pill-muted" }, "Revoked ", timeTag(token.revoked_at));
  } else {
    const revoke = el("button", { type: "button", class: "danger revoke", "aria-label": `Revoke ${token.name}` }, "Revoke");
    revoke.addEventListener("click", () => onRevoke(token, revoke));
    // Not revoked, yet refused: its issuer no longer leads the project.
    status = token.ended ? el("span", { class: "token-ended" }, el("span", { class: "pill pill-muted", text: token.ended }), " ", revoke) : revoke;
  }
  return el(
    "tr",
    { class: revoked ? "revoked" : "live", dataset: { tokenId: String(token.id) } },
    el("td", { class: "token-name", text: token.name }),
    el("td", {}, el("code", { text: `${token.prefix}…` })),
    el("td", { text: token.created_by || "—" }),
    el("td", {}, timeTag(token.created_at)),
    el("td", {}, token.last_used_at ? timeTag(token.last_used_at, ago(token.last_used_at)) : el("span", { class: "muted", text: "never" })),
    el("td", {}, status),
  );
}
