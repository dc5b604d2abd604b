import { runAlertsCli } from '../alerts/index';
import { openStore } from '../db/client';
import { migrateStore } from '../db/migrate';

/** `streamscope alerts apply rules.json [--prune]` | `streamscope alerts list`: rules as code. */
export async function alertsCommand(args: string[]): Promise<void> {
  const store = await openStore();
  try {
    await migrateStore(store);
    process.exitCode = await runAlertsCli(args, {
      store,
      out: (line) => console.log(line),
      err: (line) => console.error(line),
    });
  } finally {
    await store.close();
  }
}
