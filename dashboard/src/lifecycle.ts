// What a page stops (timers, polls) when the user leaves it.

let stops: (() => void)[] = [];

export function onLeave(stop: () => void): void {
  stops.push(stop);
}

export function leave(): void {
  for (const stop of stops) stop();
  stops = [];
}

/** Calls ``tick`` every ``ms`` until the page is left or ``tick`` returns false. */
export function every(ms: number, tick: () => Promise<boolean>): void {
  let timer: number | undefined;
  let stopped = false;
  const run = async () => {
    if (stopped) return;
    let more = false;
    try {
      more = await tick();
    } catch {
      more = true; // a failed poll is tried again
    }
    if (more && !stopped) timer = window.setTimeout(run, ms);
  };
  onLeave(() => {
    stopped = true;
    window.clearTimeout(timer);
  });
  timer = window.setTimeout(run, ms);
}
