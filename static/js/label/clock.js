/* The time spent on an image, sent with its label: only while the page is in sight. */

/** isRunning() says whether an image is on screen, so that coming back starts the clock. */
export function createClock({ isRunning }) {
  let shownAt = 0;
  let activeMs = 0;

  function start() {
    shownAt = document.hidden ? 0 : performance.now();
  }

  function pause() {
    if (shownAt) activeMs += performance.now() - shownAt;
    shownAt = 0;
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) pause();
    else if (isRunning()) start();
  });

  return {
    pause,
    /** Go on from ms already spent (an image shown again), counting from now. */
    restart(ms) {
      pause();
      activeMs = ms;
      start();
    },
    elapsed: () => activeMs,
  };
}
