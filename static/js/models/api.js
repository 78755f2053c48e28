/* Requests to the REST API from the model pages, and their errors in words. */

const csrf = document.querySelector('meta[name="csrf-token"]').content;

/** A JSON request; resolves to {status, ok, body} (status 0 when the server is not reached). */
export async function request(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(method !== "GET" ? { "X-CSRFToken": csrf } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (_) {
    return { status: 0, ok: false, body: null };
  }
  let payload = null;
  if (response.status !== 204) {
    try {
      payload = await response.json();
    } catch (_) {
      payload = null;
    }
  }
  return { status: response.status, ok: response.ok, body: payload };
}

/** Why a request failed: the server's message (with the fields it names), else its status. */
export function failure(result) {
  if (!result.status) return "The server cannot be reached. Check the connection and try again.";
  const body = result.body || {};
  if (body.detail) return String(body.detail);
  if (body.errors) return Object.values(body.errors).flat().join(" ");
  return `The server answered HTTP ${result.status}.`;
}

/** A paged list's rows: {results: [...]} or a bare list. */
export const rows = (body) => (Array.isArray(body) ? body : (body && body.results) || []);
