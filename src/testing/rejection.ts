/**
 * The error a promise rejects with; fails the test when it resolves instead. Attach it before
 * awaiting anything else, so a rejection is never left unhandled in between.
 */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
