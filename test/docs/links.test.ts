/**
 * Every relative link and image in README.md and docs/ resolves: the file exists in the
 * repository, and a `#fragment` names a heading of the file it points into (GitHub's slugs). The
 * repository stands on its own, so nothing may point above its root.
 */
import fs from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/models.js';

const DOCS = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs'), { recursive: true }).map(String)
  .filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];

/** The text outside fenced code blocks. */
function unfenced(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** The text outside code, where links are links. */
function prose(md: string): string {
  return unfenced(md).replace(/`[^`\n]*`/g, '');
}

/** Targets of inline links and images: [text](target "title") and ![alt](target). */
function links(md: string): string[] {
  return [...prose(md).matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

function anchors(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const md = fs.readFileSync(file, 'utf8');
  // A heading's slug is its text as rendered: inline code keeps its content, without the backticks.
  return new Set(unfenced(md).split('\n').filter((l) => /^#{1,6}\s/.test(l)).map((l) => slugger.slug(l.replace(/^#+\s+/, '').replace(/`/g, '').trim())));
}

describe('documentation links', () => {
  it('finds the documents and their links', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md', 'docs/accuracy.md', 'docs/benchmarks.md']));
    expect(links('See [a](docs/a.md#b-c), ![pic](x.png "t") and `[not](code)`; [web](https://e.org).')).toEqual(['docs/a.md#b-c', 'x.png', 'https://e.org']);
  });

  it.each(DOCS)('%s: every relative link resolves', (doc) => {
    const file = path.join(ROOT, doc);
    const broken: string[] = [];
    for (const target of links(fs.readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [rel, fragment] = target.split('#');
      const dest = rel ? path.resolve(path.dirname(file), decodeURIComponent(rel)) : file;
      if (!dest.startsWith(ROOT + path.sep)) broken.push(`${target}: outside the repository`);
      else if (!fs.existsSync(dest)) broken.push(`${target}: no such file`);
      else if (fragment && !(dest.endsWith('.md') && anchors(dest).has(fragment))) broken.push(`${target}: no heading '#${fragment}' in ${path.relative(ROOT, dest)}`);
    }
    expect(broken).toEqual([]);
  });
});
