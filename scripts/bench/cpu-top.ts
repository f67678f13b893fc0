// Summarises V8 .cpuprofile files (node --cpu-prof, or the inspector's Profiler): top functions by self
// time and self time per package / Ferry module. USAGE below says how to run it.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { numberOption, scriptArgsAndPositionals, usageError } from '../lib/script-args.js'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface CpuSummary {
  file: string
  window?: [number, number]
  totalMs: number
  /** Wall time the profile spans minus idle samples. */
  busyMs: number
  top: Array<{ fn: string, where: string, selfMs: number, pct: number }>
  byPackage: Array<{ pkg: string, selfMs: number, pct: number }>
}

function shortUrl (url: string): string {
  if (url === '') return ''
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length)
  const src = url.indexOf('/src/')
  if (src >= 0) return url.slice(src + 1)
  const scripts = url.indexOf('/scripts/')
  if (scripts >= 0) return url.slice(scripts + 1)
  return url.replace(/^file:\/\//, '')
}

function packageOf (f: CallFrame): string {
  if (f.url === '') return f.functionName.startsWith('(') ? f.functionName : '(native)'
  const u = shortUrl(f.url)
  if (f.url.includes('node_modules/')) {
    const parts = u.split('/')
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
  }
  if (u.startsWith('src/')) return `ferry ${u.split('/').slice(0, 2).join('/')}`
  if (f.url.startsWith('node:')) return 'node internals'
  return u
}

/**
 * `window` keeps only the samples between these two offsets (ms) from the profile's start, e.g. a
 * transfer without the process's start-up and module loading.
 */
export function summarise (file: string, topN = 20, window?: [number, number]): CpuSummary {
  const p = readProfile(file)
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const self = new Map<number, number>()
  // timeDeltas[i] is the time before sample i; attribute each delta to the sample it ends.
  let at = 0
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0
    if (window !== undefined && (at < window[0] * 1000 || at > window[1] * 1000)) continue
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  }
  const fns = new Map<string, { fn: string, where: string, us: number }>()
  const pkgs = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, us] of self) {
    const f = (byId.get(id) as ProfileNode).callFrame
    total += us
    if (f.functionName === '(idle)') { idle += us; continue }
    const where = f.url === '' ? '' : `${shortUrl(f.url)}:${f.lineNumber + 1}`
    const key = `${f.functionName}@${where}`
    const e = fns.get(key) ?? { fn: f.functionName === '' ? '(anonymous)' : f.functionName, where, us: 0 }
    e.us += us
    fns.set(key, e)
    const pkg = packageOf(f)
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us)
  }
  const busy = total - idle
  const ms = (us: number): number => Math.round(us / 100) / 10
  const pct = (us: number): number => Math.round(1000 * us / Math.max(1, busy)) / 10
  return {
    file,
    ...(window !== undefined ? { window: [Math.round(window[0]), Math.round(window[1])] as [number, number] } : {}),
    totalMs: ms(total),
    busyMs: ms(busy),
    top: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, topN).map(e => ({ fn: e.fn, where: e.where, selfMs: ms(e.us), pct: pct(e.us) })),
    byPackage: [...pkgs.entries()].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([pkg, us]) => ({ pkg, selfMs: ms(us), pct: pct(us) }))
  }
}

/** Where a function's self time comes from: its heaviest call stacks (innermost caller first). */
export function callers (file: string, fn: string, topN = 5, depth = 8): Array<{ selfMs: number, stack: string }> {
  const p = readProfile(file)
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  const stacks = new Map<string, number>()
  for (const [id, us] of self) {
    if ((byId.get(id) as ProfileNode).callFrame.functionName !== fn) continue
    const chain: string[] = []
    for (let cur = parent.get(id); cur !== undefined && chain.length < depth; cur = parent.get(cur)) {
      const f = (byId.get(cur) as ProfileNode).callFrame
      chain.push(`${f.functionName === '' ? '(anonymous)' : f.functionName}${f.url !== '' ? ` (${shortUrl(f.url)}:${f.lineNumber + 1})` : ''}`)
    }
    const k = chain.join(' < ')
    stacks.set(k, (stacks.get(k) ?? 0) + us)
  }
  return [...stacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([stack, us]) => ({ selfMs: Math.round(us / 100) / 10, stack }))
}

export function formatSummary (s: CpuSummary): string {
  const span = s.window !== undefined ? ` (samples ${s.window[0]}-${s.window[1]} ms after its start)` : ''
  const lines = [`${s.file}${span}: ${s.totalMs} ms profiled, ${s.busyMs} ms busy (not idle)`, '  self ms   %busy  function (where)']
  for (const t of s.top) lines.push(`  ${String(t.selfMs).padStart(7)}  ${String(t.pct).padStart(5)}%  ${t.fn}${t.where !== '' ? ` (${t.where})` : ''}`)
  lines.push('  by package / module:')
  for (const p of s.byPackage) lines.push(`  ${String(p.selfMs).padStart(7)}  ${String(p.pct).padStart(5)}%  ${p.pkg}`)
  return lines.join('\n')
}

/** A .cpuprofile's contents; a file that is none throws an Error that names it and says why. */
function readProfile (file: string): CpuProfile {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new Error(`${file}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'a directory, not a .cpuprofile (the bench writes them inside ferry-send/ and ferry-receive/)' : e.message}`)
  }
  let p: Partial<CpuProfile>
  try {
    p = JSON.parse(text) as Partial<CpuProfile>
  } catch {
    p = {}
  }
  if (!Array.isArray(p.nodes) || !Array.isArray(p.samples) || !Array.isArray(p.timeDeltas)) {
    throw new Error(`${file}: not a V8 CPU profile (node --cpu-prof writes them)`)
  }
  return p as CpuProfile
}

const USAGE = `npx tsx scripts/bench/cpu-top.ts FILE.cpuprofile... [--top N] [--from MS] [--to MS] [--callers NAME]

Summarises V8 CPU profiles (node --cpu-prof; \`npm run bench -- --cpu-prof DIR\` writes one per process):
the functions with the most self time, and self time per package and Ferry module.

  --top N          functions listed (default 20)
  --from MS        only samples from MS after the profile's start (default 0)
  --to MS          only samples up to MS after its start (default: its end)
  --callers NAME   instead: the heaviest stacks above the function NAME

Exit code: 0 printed, 1 a file is no profile, 2 bad usage.`

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = scriptArgsAndPositionals(USAGE, { top: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, callers: { type: 'string' } })
  if (positionals.length === 0) usageError(USAGE, 'name at least one .cpuprofile file')
  const top = numberOption(USAGE, 'top', values.top, 20, 1)
  const window: [number, number] | undefined = values.from !== undefined || values.to !== undefined
    ? [numberOption(USAGE, 'from', values.from, 0, 0, false), numberOption(USAGE, 'to', values.to, Infinity, 0, false)]
    : undefined
  try {
    for (const f of positionals) {
      if (values.callers !== undefined) {
        console.log(`${f}: callers of ${values.callers}`)
        for (const c of callers(f, values.callers)) console.log(`  ${String(c.selfMs).padStart(7)} ms  ${c.stack}`)
        console.log()
      } else {
        console.log(formatSummary(summarise(f, top, window)) + '\n')
      }
    }
  } catch (err) {
    process.stderr.write(`cpu-top: ${(err as Error).message}\n`)
    process.exit(1)
  }
}
