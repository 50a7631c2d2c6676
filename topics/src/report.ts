import Table from 'cli-table3';
import type { ApplyResult } from './apply.ts';
import { declaredConfig, type TopicDeclaration } from './declarations.ts';
import { effectiveReplication } from './plan.ts';

// No ANSI colours: the output is read in logs and CI as often as in a terminal.
const plain = { head: [] as string[], border: [] as string[] };

/** Human report of an apply or dry run: the replication caps, the drift table, and the outcome. */
export function formatApplyReport(r: ApplyResult): string {
  const lines: string[] = [];
  lines.push(
    `cluster: ${r.brokers} broker${r.brokers === 1 ? '' : 's'}${r.dryRun ? ' (dry run: nothing changed)' : ''}`,
  );
  if (r.caps.length > 0) {
    const groups = new Map<string, string[]>();
    for (const c of r.caps) {
      const key = `replication factor ${c.desiredReplicationFactor} → ${c.replicationFactor}, min.insync.replicas ${c.desiredMinInsyncReplicas} → ${c.minInsyncReplicas}`;
      groups.set(key, [...(groups.get(key) ?? []), c.topic]);
    }
    for (const [key, topics] of groups) {
      lines.push(`capped to the broker count: ${key} for ${topics.length} topic${topics.length === 1 ? '' : 's'}`);
    }
  }
  if (r.drift.length === 0) {
    lines.push('no drift');
  } else {
    const table = new Table({
      head: ['topic', 'drift', 'detail', r.dryRun ? 'would' : 'done'],
      wordWrap: true,
      style: plain,
    });
    for (const d of r.drift) table.push([d.topic, d.kind, d.detail, d.fix]);
    lines.push(table.toString());
  }
  if (r.noChanges) lines.push('no changes');
  else if (r.dryRun) lines.push(`plan: ${summary(r.actions)}`);
  else lines.push(`applied: ${summary(r.applied)}`);
  return lines.join('\n');
}

function summary(actions: ApplyResult['actions']): string {
  const counts = new Map<string, number>();
  for (const a of actions) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'nothing';
}

/** Table of the declared topics, with replication as it would be on `brokers` brokers when given. */
export function formatTopicList(topics: TopicDeclaration[], brokers?: number): string {
  const table = new Table({
    head: ['topic', 'partitions', 'RF', 'min ISR', 'cleanup', 'retention.ms', 'value', 'producer', 'consumers → DLQ'],
    style: plain,
  });
  for (const t of topics) {
    const rep = brokers === undefined ? undefined : effectiveReplication(t, brokers);
    const cfg = declaredConfig(t);
    table.push([
      t.name,
      t.partitions,
      rep && rep.replicationFactor !== t.replicationFactor
        ? `${rep.replicationFactor} (${t.replicationFactor})`
        : t.replicationFactor,
      rep && rep.minInsyncReplicas !== t.minInsyncReplicas
        ? `${rep.minInsyncReplicas} (${t.minInsyncReplicas})`
        : t.minInsyncReplicas,
      cfg['cleanup.policy']!,
      cfg['retention.ms']!,
      t.value ? `${t.value.subject} (${t.value.record})` : '(stage-owned)',
      t.producer,
      t.consumers.map((c) => `${c} → ${t.deadLetter[c] ?? '-'}`).join('\n') || '-',
    ]);
  }
  return table.toString();
}
