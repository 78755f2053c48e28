/* The page walk's checks (tests/browser/test_page_walk.py), run once on each page by
 * Playwright's page.evaluate: a function of the names, proper words and counted nouns
 * the walk knows, returning what it found as lines of text. */
({names, proper, nouns}) => {
  const found = [];
  const doc = document.documentElement;
  const width = doc.clientWidth;
  const styles = new Map();
  const cs = (el) => { let s = styles.get(el); if (!s) { s = getComputedStyle(el); styles.set(el, s); } return s; };
  const describe = (el) => {
    let d = el.tagName.toLowerCase();
    if (el.id) d += "#" + el.id;
    const classes = [...el.classList].slice(0, 3);
    if (classes.length) d += "." + classes.join(".");
    return d;
  };
  const short = (text) => { const t = text.replace(/\s+/g, " ").trim(); return t.length > 70 ? t.slice(0, 67) + "..." : t; };
  const unseen = new Map();
  // Meant to stack or not seen: hidden, transparent, fixed to the window, tooltips,
  // visually hidden (clipped to a pixel), or off the page (the skip link).
  const stacked = (el) => {
    if (unseen.has(el)) return unseen.get(el);
    let answer;
    if (!el || el === document.body || el === doc) answer = false;
    else if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true, checkOpacity: true, checkVisibilityCSS: true})) answer = true;
    else {
      const s = cs(el);
      const r = el.getBoundingClientRect();
      answer = s.position === "fixed" || el.getAttribute("role") === "tooltip"
        || (s.position === "absolute" && (r.right <= 0 || r.bottom <= 0 || (r.width <= 1 && r.height <= 1)))
        || (s.clip && s.clip !== "auto") || s.clipPath === "inset(50%)"
        || stacked(el.parentElement);
    }
    unseen.set(el, answer);
    return answer;
  };

  // 1. The document scrolls sideways: name what sticks out, outside any container that
  // scrolls or clips it (an absolutely placed box escapes those between it and the box it
  // is placed in: a visually hidden header cell in a scrolling table can widen the page).
  const container = (el) => {
    const position = cs(el).position;
    if (position === "fixed") return null;
    let a = el.parentElement;
    if (position === "absolute") while (a && a !== document.body && cs(a).position === "static" && cs(a).transform === "none") a = a.parentElement;
    return a;
  };
  if (doc.scrollWidth > width + 1) {
    const out = [];
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.right <= width + 1 || r.width === 0 || !el.checkVisibility()) continue;
      let held = false;
      for (let a = container(el); a && a !== document.body; a = container(a)) {
        if (cs(a).overflowX !== "visible") { held = true; break; }
      }
      const parent = el.parentElement;
      if (!held && !(parent && parent !== document.body && parent.getBoundingClientRect().right > width + 1 && cs(el).position !== "absolute")) {
        out.push(`${describe(el)} reaches ${Math.round(r.right)} px "${short(el.innerText || el.textContent || "")}"`);
      }
    }
    found.push(`scrolls sideways: ${doc.scrollWidth} px wide in ${width} px; ` + out.slice(0, 5).join("; "));
  }

  // 2-4. Each visible text: clipped, past its box, over another.
  const lines = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "OPTION", "TEXTAREA", "TITLE"]);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.trim()) continue;
    const el = node.parentElement;
    if (!el || skip.has(el.tagName) || el.closest("svg") && el.tagName !== "text" && el.tagName !== "tspan" && !el.closest("text")) continue;
    if (stacked(el)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0.5 && r.height > 0.5);
    if (!rects.length) continue;
    const box = {
      left: Math.min(...rects.map((r) => r.left)), right: Math.max(...rects.map((r) => r.right)),
      top: Math.min(...rects.map((r) => r.top)), bottom: Math.max(...rects.map((r) => r.bottom)),
    };
    const text = short(node.data);
    // Clipped: the part a scrolling ancestor shows must fit each ancestor that hides overflow.
    let seen = {...box};
    let clipped = null;
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const s = cs(a);
      const r = a.getBoundingClientRect();
      for (const [axis, lo, hi, start, end] of [["x", "left", "right", r.left, r.right], ["y", "top", "bottom", r.top, r.bottom]]) {
        const overflow = axis === "x" ? s.overflowX : s.overflowY;
        if (overflow === "auto" || overflow === "scroll") {
          seen[lo] = Math.max(seen[lo], start); seen[hi] = Math.min(seen[hi], end);
        } else if ((overflow === "hidden" || overflow === "clip") && seen[lo] < seen[hi]
                   && (seen[hi] > end + 1 || seen[lo] < start - 1)) {
          clipped = clipped || {a, s, axis};
        }
      }
      if (clipped) break;
    }
    if (clipped) {
      const {a, s} = clipped;
      const cut = s.textOverflow === "ellipsis" || (s.webkitLineClamp && s.webkitLineClamp !== "none");
      const whole = a.textContent.replace(/\s+/g, " ").trim();
      const titled = [a, ...a.querySelectorAll("[title]")].some((t) => (t.getAttribute("title") || "").replace(/\s+/g, " ").includes(node.data.replace(/\s+/g, " ").trim()))
        || (a.closest("[title]") && a.closest("[title]").getAttribute("title").replace(/\s+/g, " ").includes(whole));
      if (!(cut && titled)) {
        found.push(`text clipped${cut ? " by an ellipsis with no title holding it" : ""} by ${describe(a)} (${clipped.axis}): "${text}"`);
      }
      continue;
    }
    // Past its box: the nearest box that lays the text out, where it shows its overflow.
    let block = el;
    while (block !== document.body && ["inline", "contents"].includes(cs(block).display)) block = block.parentElement;
    const b = block.getBoundingClientRect();
    const bs = cs(block);
    if (bs.overflowX === "visible" && (box.right > b.right + 1 || box.left < b.left - 1)) {
      found.push(`text runs past its box ${describe(block)} by ${Math.round(Math.max(box.right - b.right, b.left - box.left))} px: "${text}"`);
    }
    // What a scrolling container has scrolled out of sight is not seen: only the part of
    // each line that it shows can overlap another.
    for (const r of rects) {
      const shown = {left: Math.max(r.left, seen.left), right: Math.min(r.right, seen.right), top: Math.max(r.top, seen.top), bottom: Math.min(r.bottom, seen.bottom)};
      if (shown.right - shown.left > 0.5 && shown.bottom - shown.top > 0.5) lines.push({node, el, r: {...shown, height: r.height}, text});
    }
  }
  lines.sort((p, q) => p.r.top - q.r.top);
  const overlaps = new Set();
  for (let i = 0; i < lines.length; i++) {
    const p = lines[i];
    for (let j = i + 1; j < lines.length && lines[j].r.top < p.r.bottom; j++) {
      const q = lines[j];
      if (q.node === p.node) continue;
      const across = Math.min(p.r.right, q.r.right) - Math.max(p.r.left, q.r.left);
      const down = Math.min(p.r.bottom, q.r.bottom) - Math.max(p.r.top, q.r.top);
      if (across > 2 && down > Math.min(p.r.height, q.r.height) / 3) {
        const key = `${p.text} / ${q.text}`;
        if (!overlaps.has(key)) {
          overlaps.add(key);
          found.push(`text overlaps: "${p.text}" (${describe(p.el)}) and "${q.text}" (${describe(q.el)})`);
        }
      }
    }
  }

  // 5. Counts and their nouns, in what is shown and what is said of it.
  const said = [document.body.innerText];
  for (const el of document.querySelectorAll("[title], [aria-label], [placeholder]")) {
    for (const name of ["title", "aria-label", "placeholder"]) if (el.hasAttribute(name)) said.push(el.getAttribute(name));
  }
  const singulars = Object.keys(nouns), plurals = Object.values(nouns);
  const one = new RegExp(String.raw`(?<![\d.,:\w-])1[ \u00a0]+(${plurals.join("|")})(?![\w-])`, "gi");
  const many = new RegExp(String.raw`(?<![\d.,:\w-])(0|[2-9]|[1-9]\d+)[ \u00a0]+(${singulars.join("|")})(?![\w'-])`, "gi");
  const allOne = /\b(all|both|each of)[ \u00a0]+1\b/gi;
  for (const text of said) {
    for (const pattern of [one, many, allOne]) {
      for (const m of text.matchAll(pattern)) {
        const around = text.slice(Math.max(0, m.index - 25), m.index + m[0].length + 25).replace(/\s+/g, " ");
        found.push(`count disagrees with its noun: "${m[0]}" in "...${around}..."`);
      }
    }
  }

  // 6. Headings and the title in sentence case.
  const named = new Set([...names.map((n) => n.replace(/ /g, "_")), ...proper]);
  const sentenceCase = (heading, where) => {
    // Names the test made may hold spaces: read each as one word.
    for (const name of names) if (name.includes(" ")) heading = heading.split(name).join(name.replace(/ /g, "_"));
    const words = heading.replace(/[“”"()\[\]]/g, " ").split(/\s+/).filter((w) => /[A-Za-z]/.test(w));
    words.slice(1).forEach((word, i) => {
      const bare = word.replace(/[.,:;!?…]+$/, "");
      if (!/^[A-Z]/.test(bare) || named.has(bare) || named.has(bare.replace(/'s$/, ""))) return;
      if (/[.:!?]$/.test(words[i])) return;  // a new sentence
      found.push(`${where} not in sentence case: "${bare}" in "${short(heading)}"`);
    });
  };
  for (const part of document.title.split(" · ")) sentenceCase(part, "title");
  for (const h of document.querySelectorAll("h1, h2, h3, h4")) {
    if (stacked(h) || cs(h).textTransform !== "none") continue;
    const copy = h.cloneNode(true);
    copy.querySelectorAll("code, kbd, [hidden], .sr-only, .visually-hidden").forEach((c) => c.remove());
    sentenceCase(copy.textContent.replace(/\s+/g, " ").trim(), h.tagName.toLowerCase());
  }
  return found;
}
