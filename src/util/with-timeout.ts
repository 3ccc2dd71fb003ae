// One helper to bound a promise in time: the caller says what a timeout means (a value or a thrown error).

/**
 * Settles like `p`, unless `ms` pass first: then settles with `onTimeout()` (return a value, or throw to reject).
 * The timer is unref()ed and always cleared.
 */
export function withTimeout<T, F>(p: Promise<T>, ms: number, onTimeout: () => F): Promise<T | F> {
  return new Promise<T | F>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    }, ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
