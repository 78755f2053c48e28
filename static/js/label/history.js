/* The annotator's earlier labels and skips, from earlier sessions too, for going back. */
import { request } from "../lib/api.js";

/** The history the server keeps ({image_id, kind, label_ids, file_url...}, newest first), or
 * null when it cannot be had: going back then only reaches this session's images. */
export async function fetchHistory(url) {
  const result = await request("GET", url);
  return result.ok ? result.body : null;
}

/**
 * Image addresses work for an hour at most (the server's LABELER_FILE_LINK_SECONDS): an
 * earlier image looked at long after the page opened is asked for again, at a new one.
 * Without one, the image stays missing until the page is reloaded.
 */
export async function renewAddress(url, entry, item) {
  const history = await fetchHistory(url);
  const fresh = history && history.find((e) => e.image_id === entry.image_id);
  if (!fresh || fresh.display_url === entry.display_url) return;
  Object.assign(entry, { file_url: fresh.file_url, display_url: fresh.display_url });
  Object.assign(item.image, { file_url: fresh.file_url, display_url: fresh.display_url });
  item.img.src = fresh.display_url;
}

/** The image of a history entry from the server, as the queue gives images. */
export function imageOf(entry) {
  return {
    id: entry.image_id,
    original_name: entry.image_name,
    width: entry.width,
    height: entry.height,
    file_url: entry.file_url,
    display_url: entry.display_url,
  };
}
