/** Rejects with `error()` when `promise` has not settled within `ms`; the promise itself runs on. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error = () => new Error(`no answer within ${ms} ms`)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
