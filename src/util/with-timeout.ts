/**
 * `p`, or a rejection with `error()` once `ms` have passed, whichever comes first; the timer is
 * always cleared. The work itself is not cancelled (the caller decides what a late answer means).
 */
export function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
