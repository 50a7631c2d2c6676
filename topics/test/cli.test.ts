import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { registerTopicCommands } from '../src/cli.ts';

describe('topics CLI', () => {
  it('adds apply (--dry-run --force --json --prefix) and list', () => {
    const topics = registerTopicCommands(new Command());
    expect(topics.commands.map((c) => c.name()).sort()).toEqual(['apply', 'list']);
    const apply = topics.commands.find((c) => c.name() === 'apply')!;
    expect(apply.options.map((o) => o.long)).toEqual(['--dry-run', '--force', '--json', '--prefix']);
  });

  it('lists the declarations, capped for a given broker count', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
    try {
      const program = new Command();
      registerTopicCommands(program);
      await program.parseAsync(['node', 'feedlog', 'topics', 'list', '--brokers', '1', '--prefix', 'x-']);
      await program.parseAsync(['node', 'feedlog', 'topics', 'list', '--json']);
    } finally {
      log.mockRestore();
    }
    expect(lines[0]).toContain('x-raw-headlines');
    expect(lines[0]).toContain('1 (3)'); // RF 1 on one broker, 3 declared
    expect(lines[0]).toContain('x-classify.dlq');
    const json = JSON.parse(lines[1]!) as { topics: { name: string }[]; stages: { name: string }[] };
    expect(json.topics.map((t) => t.name)).toContain('feedlog.cluster.changelog');
    expect(json.stages).toHaveLength(6);
  });
});
