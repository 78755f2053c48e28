/* The page ahead's images, drawn out of sight before their turn (label/deck.js does the
 * same for the single stage's next image).
 *
 * A thumbnail is decoded at its own size (256 pixels) and a tile draws it smaller; the
 * rasterizer scales the decoded pixels when it first draws them, 24 times over on the
 * key's frame for a page of 24. The deck draws each image of the page ahead in a box of
 * a tile's size, clipped to two pixels and painted under the grid's background, so the
 * browser keeps them scaled and Enter's frame only puts them up. Nothing in it can be seen
 * or read by a screen reader.
 */

const DECK_STYLE = {
  position: "absolute",
  left: "0",
  top: "0",
  zIndex: "-1",
  display: "flex",
  pointerEvents: "none",
};
const BOX_STYLE = { flex: "none", clipPath: "inset(calc(50% - 1px) calc(50% - 1px))" };

/** A deck in area (the grid): put(imgs, size) draws imgs there in boxes of size pixels. */
export function createGridDeck(area) {
  const deck = document.createElement("div");
  deck.setAttribute("aria-hidden", "true");
  Object.assign(deck.style, DECK_STYLE);
  area.prepend(deck);

  function put(imgs, size) {
    if (!size) return; // no tile drawn yet to take the size from
    deck.replaceChildren(
      ...imgs.map((img) => {
        const box = document.createElement("span");
        box.className = "grid-thumb";
        Object.assign(box.style, BOX_STYLE, { width: `${size}px` });
        box.append(img);
        return box;
      }),
    );
  }

  return { put };
}
