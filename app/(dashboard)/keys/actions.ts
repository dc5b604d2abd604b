'use server';

import { revalidatePath } from 'next/cache';
import { sharedStore } from '@/db/client';
import { createApiKey, revokeApiKey } from '@/lib/api-keys';

export interface CreateKeyState {
  /** The new key, shown this once. */
  key?: string;
  name?: string;
  error?: string;
}

export async function createKeyAction(_previous: CreateKeyState, form: FormData): Promise<CreateKeyState> {
  const name = form.get('name');
  try {
    const { key, info } = await createApiKey(await sharedStore(), typeof name === 'string' ? name : '');
    revalidatePath('/keys');
    return { key, name: info.name };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export async function revokeKeyAction(form: FormData): Promise<void> {
  const id = form.get('id');
  if (typeof id === 'string' && /^\d+$/.test(id)) await revokeApiKey(await sharedStore(), id);
  revalidatePath('/keys');
}
