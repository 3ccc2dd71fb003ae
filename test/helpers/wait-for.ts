// The one polling wait of the test suite, for state that has no event to wait on (an event is better where one exists).
// Always bounded: it rejects with what it waited for once `timeoutMs` has passed.

/** Resolves once `cond()` is true, checking every `everyMs`; rejects after `timeoutMs` naming `what`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = 'condition',
  everyMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
