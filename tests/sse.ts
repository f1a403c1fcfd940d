/**
 * Reading a Server-Sent Events stream in the tests and benches: the
 * overlay's `/events` and `/totals`.
 */

/** One SSE message: its `id`, when it has one, and its `data` as JSON. */
export interface SseEvent<T> {
  id?: string;
  data: T;
}

/**
 * Reads `url` until `done` says enough (or the stream ends), and returns the
 * messages. After `timeout` ms it gives up: with `quiet`, it returns what
 * came; otherwise the read's abort error is thrown.
 */
export async function readSse<T>(
  url: string,
  done: (events: SseEvent<T>[]) => boolean,
  options: { headers?: Record<string, string>; timeout?: number; quiet?: boolean } = {},
): Promise<SseEvent<T>[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeout ?? 10_000);
  const events: SseEvent<T>[] = [];
  let reader: ReadableStreamDefaultReader<string> | undefined;
  try {
    const response = await fetch(url, {
      signal: controller.signal,
      headers: options.headers ?? {},
    });
    const type = response.headers.get("content-type");
    if (type !== "text/event-stream; charset=utf-8") {
      throw new Error(`not an event stream: ${type}`);
    }
    reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (!done(events)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data !== undefined) events.push({ ...(id ? { id } : {}), data: JSON.parse(data) });
      }
    }
  } catch (error) {
    if (!(options.quiet && controller.signal.aborted)) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
    await reader?.cancel().catch(() => {});
  }
  return events;
}

/** The overlay's boot id (the first half of its SSE ids), from the first line of a fresh `/events`. */
export async function bootOf(base: string): Promise<string> {
  const events = await readSse(`${base}events`, (events) => events.some((event) => event.id));
  return events.find((event) => event.id)!.id!.split(".")[0]!;
}
