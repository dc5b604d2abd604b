/*
 * What a prepare-pool thread does with a task: an export request body in, its prepared
 * batch (rows, rejections) out. Only what the request itself got wrong comes back as a
 * RequestError; anything else is reported as the bug it is.
 */
import { prepareBatch } from './batch';
import { RequestError } from './errors';
import { toWire, type PrepareReply, type PrepareTask } from './prepare-pool';

export function answer({ id, body, encoding }: PrepareTask): PrepareReply {
  try {
    return { id, batch: toWire(prepareBatch(body, encoding)) };
  } catch (error) {
    return error instanceof RequestError
      ? { id, requestError: { status: error.status, message: error.message } }
      : { id, failure: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}
