/* The next image, drawn out of sight before its turn.
 *
 * img.decode() decodes an image at its own size; the stage shows a photo's display copy
 * (up to 2048 pixels a side) at half that or less, and Chromium's rasterizer scales the
 * decoded pixels to the size drawn only when it first draws them: 6 to 10 ms of a 2-core
 * laptop's time, between the key press and the paint. The deck draws the next image at the size the stage will draw
 * it (a box like #stage-frame's), behind the stage's background and clipped to two
 * pixels, so that the browser keeps it scaled and the key's frame only puts it up. What
 * it holds is nowhere to be seen or read by a screen reader.
 */

// Over the stage's box (.stage-frame), painted under its background, 2 pixels of it kept.
const DECK_STYLE = {
  zIndex: "-1",
  clipPath: "inset(calc(50% - 1px) calc(50% - 1px))",
  pointerEvents: "none",
};

/** A deck in stage (the #stage element): put(img) draws img there instead of what was. */
export function createDeck(stage) {
  const deck = document.createElement("div");
  deck.className = "stage-frame";
  deck.setAttribute("aria-hidden", "true");
  Object.assign(deck.style, DECK_STYLE);
  stage.prepend(deck);

  function put(img) {
    if (!img) {
      deck.replaceChildren();
    } else if (img.parentElement !== deck && !img.isConnected) {
      deck.replaceChildren(img); // one on screen (put back by an undo) stays there
    }
  }

  return { put };
}
