/*
 * `streamscope bench`: WebSocket vs HTTP/SSE at a set RTT and concurrency. The benchmark is
 * bench/ws-vs-sse (runnable on its own); this loads it only when asked for.
 */
export async function benchCommand(args: string[]): Promise<void> {
  const { parseBenchArgs, runWsVsSseBench } = await import('../bench/ws-vs-sse/index');
  await runWsVsSseBench(parseBenchArgs(args));
}
