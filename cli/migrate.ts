import { openStore } from '../db/client';
import { migrateStore } from '../db/migrate';

export async function migrateCommand(): Promise<void> {
  const store = await openStore();
  try {
    console.log(`• migrating ${store.driver} at ${store.location}`);
    await migrateStore(store);
    console.log('• database is up to date');
  } finally {
    await store.close();
  }
}
