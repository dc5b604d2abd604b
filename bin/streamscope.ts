/*
 * The streamscope command. Each subcommand lives in cli/ and is loaded only when used, so
 * `migrate` does not pay for loading Next.js.
 */
const USAGE = `usage: streamscope <command>

  start     collector (OTLP/HTTP on :4318) and dashboard (:3000) in one process
  demo      start, plus a mock model server and load generator filling the dashboard
            [--rtt <ms>] [--rate <responses/s>] [--users <n>]
  bench     WebSocket vs HTTP/SSE at a set RTT and concurrency, figures as the Compare view shows them
            [--rtt <ms>] [--concurrency <n>] [--seconds <s>] [--warmup <s>] [--keep-alive] [--keep] [--smoke]
  collector the collector alone (for several replicas on one PostgreSQL)
  migrate   apply database migrations and exit
  alerts    apply <rules.json> [--prune] | list: alert rules as code
  keys      create <name> | list | revoke <id|prefix>: ingest API keys

Database: DATABASE_URL=postgres://… uses that server; unset, an embedded PGlite
database lives in STREAMSCOPE_DATA_DIR (default ./data/pglite).`;

type Command = (args: string[]) => Promise<void>;

const commands: Record<string, () => Promise<Command>> = {
  start: async () => (await import('../cli/start')).startCommand,
  demo: async () => (await import('../cli/demo')).demoCommand,
  bench: async () => (await import('../cli/bench')).benchCommand,
  collector: async () => (await import('../cli/collector')).collectorCommand,
  migrate: async () => (await import('../cli/migrate')).migrateCommand,
  alerts: async () => (await import('../cli/alerts')).alertsCommand,
  keys: async () => (await import('../cli/keys')).keysCommand,
};

async function main(): Promise<void> {
  const [name = 'help', ...args] = process.argv.slice(2);
  const load = commands[name];
  if (!load) {
    console.log(USAGE);
    process.exitCode = name === 'help' || name === '--help' ? 0 : 2;
    return;
  }
  const command = await load();
  await command(args);
}

main().catch((error: unknown) => {
  console.error(`streamscope: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
