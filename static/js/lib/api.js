/* The one way the pages talk to the REST API.
 *
 * Requests go with the session's cookie and, for writes, the CSRF token of the page's
 * <meta name="csrf-token">. They never reject: each resolves to {status, ok, body}, body
 * being the parsed JSON answer or null, status 0 when no answer came. The API answers
 * every failure as JSON with a "detail" (and "errors" per field for invalid input);
 * errorMessage() turns that into words.
 *
 * Retrying is the pages' own: they retry what isRefusal() lets through after the waits of
 * retryDelay(), because what they do between tries (a status line, a queue that moved
 * on) differs from page to page.
 */
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function headers(method, { json = false, idempotencyKey = null } = {}) {
  return {
    Accept: "application/json",
    ...(json ? { "Content-Type": "application/json" } : {}),
    ...(method !== "GET" ? { "X-CSRFToken": csrfToken } : {}),
    ...(idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {}),
  };
}

/**
 * A JSON request. body, when given, is sent as JSON. A write sent with an idempotencyKey
 * is applied once however often it is sent again (the server keeps the first answer).
 */
export async function request(method, url, body, { idempotencyKey = null } = {}) {
  const json = body !== undefined;
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: headers(method, { json, idempotencyKey }),
      body: json ? JSON.stringify(body) : undefined,
    });
  } catch {
    return { status: 0, ok: false, body: null };
  }
  let payload = null;
  if (response.status !== 204) {
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
  }
  return { status: response.status, ok: response.ok, body: payload };
}

/**
 * A multipart POST of form (a FormData) through XMLHttpRequest, which reports the upload's
 * progress (fetch does not): onProgress(loaded, total) as the body goes out. Resolves like
 * request(), with the answer's statusText too, and aborted: true when the upload was cut off.
 */
export function upload(url, form, { onProgress } = {}) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers("POST"))) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      let body;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, ok: xhr.status >= 200 && xhr.status < 300, statusText: xhr.statusText, body });
    };
    xhr.onerror = () => resolve({ status: 0, ok: false, body: null });
    xhr.onabort = () => resolve({ status: 0, ok: false, body: null, aborted: true });
    xhr.send(form);
  });
}

const UNREACHABLE = "The server cannot be reached. Check the connection and try again.";

/**
 * Why a request failed, in words: the server's own message (its "detail", else its field
 * errors), else `otherwise` (a text, or a function of the result). Without `otherwise`
 * it says the status in a sentence; `brief` gives the few words that pages put inside a
 * sentence of their own ("HTTP 502", "the server cannot be reached").
 */
export function errorMessage(result, { otherwise = null, brief = false } = {}) {
  const body = result.body;
  if (body && body.detail) return String(body.detail);
  if (body && body.errors) return Object.values(body.errors).flat().join(" ");
  if (otherwise !== null) return typeof otherwise === "function" ? otherwise(result) : otherwise;
  if (brief) return result.status ? `HTTP ${result.status}` : "the server cannot be reached";
  return result.status ? `The server answered HTTP ${result.status}.` : UNREACHABLE;
}

/** Whether the server refused the request (a 4xx), so that sending it again is no use.
 * A timeout (408) and too many requests (429) are not refusals: they pass if retried. */
export function isRefusal(result) {
  return result.status >= 400 && result.status < 500 && result.status !== 408 && result.status !== 429;
}

/** The wait before the attempt-th retry (from 1): first ms, doubling up to max ms. */
export function retryDelay(attempt, { first, max }) {
  return Math.min(first * 2 ** (attempt - 1), max);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A new Idempotency-Key: random, so that no other write of this user (another tab,
 * another device) ever shares it. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A list answer's rows: a paged {results: [...]}, or a bare list. */
export const rows = (body) => (Array.isArray(body) ? body : (body && body.results) || []);
