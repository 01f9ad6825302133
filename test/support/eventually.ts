/** Polls `f` until it returns true; throws (naming `what`) when `ms` pass first. Errors from `f` propagate. */
export async function eventually(f: () => Promise<boolean>, ms = 3000, what = 'the condition', pollMs = 10): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`${what}: not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
