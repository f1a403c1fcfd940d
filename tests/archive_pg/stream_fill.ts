/**
 * Fills the cluster's `DOUYU` stream with messages as collectors publish
 * them (the subject, the headers, a chat's id as `Nats-Msg-Id`), for the
 * archive's stream tests and bench.
 */
import type { CorpusItem } from "../archive/corpus.ts";
import { type Cluster, messageHeaders, subjectOf } from "../../src/nats/cluster.ts";
import { chatId } from "../../src/nats/collector.ts";
import { StreamPublisher } from "../../src/nats/publisher.ts";
import { formatJson } from "../../src/output/format.ts";

/**
 * Publishes `items` (in order) under the collector name `collector`; returns
 * how many the stream stored (a chat published twice is stored once).
 */
export async function fillStream(
  cluster: Cluster,
  items: Iterable<CorpusItem>,
  collector: (item: CorpusItem, index: number) => string = () => "a",
): Promise<number> {
  const publisher = new StreamPublisher(cluster.connection, { maxBuffered: 20_000 });
  const encoder = new TextEncoder();
  let index = 0;
  for (const item of items) {
    await publisher.publish(
      subjectOf(item.room, item.message.type),
      encoder.encode(formatJson(item.message)),
      messageHeaders(item.room, item.t, collector(item, index++)),
      chatId(item.room, item.message),
    );
  }
  const left = await publisher.flush(60_000);
  publisher.close();
  if (left !== 0) throw new Error(`${left} messages not acknowledged by the stream`);
  return publisher.counters.published - publisher.counters.duplicates;
}
