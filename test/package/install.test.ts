// The package as a user gets it. `npm pack` of a clean copy of the repository (what git would check
// out, no dist/: npm runs the build itself, as `prepare`), the tarball unpacked into a fresh ESM app
// whose node_modules links only the dependencies the package declares (from this repository's
// node_modules: no network), and the app made read-only. Then, from there, with plain `node` and no
// loader: the CLI, an app using the public API, a browser bundle of the core, and the types.
import { execFile, execFileSync, spawn } from 'node:child_process'
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FerryProcess } from '../e2e/helpers/ferry-cli.js'
import { ErrorCode } from '../../src/errors.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NAME = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string }).name
const HERE = dirname(fileURLToPath(import.meta.url))
const run = promisify(execFile)

/**
 * Root writes through file modes, so as root every command runs in a mount namespace of its own where the
 * app is bind-mounted read-only: a write there fails as it would in a system-wide install. (Running as
 * `nobody` instead would need every folder above the temp folder and the repository to be open to
 * others, which a fresh clone in a private folder is not.) Otherwise the app's modes make it read-only.
 */
const ROOT_USER = process.getuid?.() === 0
const READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
function readOnly (cmd: string, args: string[]): [string, string[]] {
  return ROOT_USER ? ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', READ_ONLY, app, cmd, ...args]] : [cmd, args]
}

/** The first js block under `heading` in docs/embedding.md ('' when there is none). */
function embeddingExample (heading: string): string {
  const doc = readFileSync(join(ROOT, 'docs', 'embedding.md'), 'utf8')
  const at = doc.indexOf(`\n${heading}\n`)
  return at < 0 ? '' : /```js\n([\s\S]*?)```/.exec(doc.slice(at))?.[1] ?? ''
}
const TWO_PHONES = '## Two phones in one process'
const OWN_NODE = '### A complete example: the app\'s own node'

let base: string
let app: string
let work: string
let pkgDir: string
let packed: { filename: string, size: number, unpackedSize: number, files: Array<{ path: string }> }
let installed: string

/** Every path under `dir` (links not followed) with its size and modification time: what a write would change. */
function listing (dir: string): string {
  const out: string[] = []
  const visit = (p: string): void => {
    const st = lstatSync(p)
    out.push(`${relative(dir, p)} ${st.isDirectory() ? 'd' : st.size} ${st.mode.toString(8)} ${st.mtimeMs}`)
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) visit(join(p, n))
  }
  visit(dir)
  return out.join('\n')
}

/** A clean environment: no NODE_OPTIONS, no loader, no npm variables from the test run. */
function env (): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: work, TMPDIR: work, FERRY_MDNS_NETNS_ONLY: '1', NO_COLOR: '1' }
}

/** The installed `ferry` command, as npm links it (node_modules/.bin/ferry, run through its shebang). */
function ferry (args: string[], name = args[0]): FerryProcess {
  const [cmd, argv] = readOnly(join(app, 'node_modules', '.bin', 'ferry'), args)
  const child = spawn(cmd, argv, { cwd: work, env: env(), stdio: ['ignore', 'pipe', 'pipe'] })
  return new FerryProcess(name ?? 'ferry', args, child)
}

async function ferryOut (args: string[]): Promise<string> {
  const p = ferry(args)
  let out = ''
  p.child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  const exit = await p.waitExit(60_000)
  expect(exit.code, p.describe()).toBe(0)
  return out
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'ferry-package-'))
  chmodSync(base, 0o755)

  // A clean copy of the repository: tracked and new files as they are now, nothing gitignored.
  const clone = join(base, 'clone')
  const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
  for (const f of tracked.split('\0').filter(f => f !== '' && existsSync(join(ROOT, f)))) {
    mkdirSync(dirname(join(clone, f)), { recursive: true })
    cpSync(join(ROOT, f), join(clone, f))
  }
  expect(existsSync(join(clone, 'dist'))).toBe(false)
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'))
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', base], { cwd: clone, env: { PATH: process.env.PATH, HOME: process.env.HOME }, maxBuffer: 16 << 20 })
  packed = (JSON.parse(stdout) as typeof packed[])[0]

  // The app: its package.json, its scripts, and node_modules as npm would lay it out.
  app = join(base, 'app')
  pkgDir = join(app, 'node_modules', NAME)
  mkdirSync(pkgDir, { recursive: true })
  execFileSync('tar', ['-xzf', join(base, packed.filename), '-C', pkgDir, '--strip-components=1'])
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, bin: Record<string, string> }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'an-app', private: true, type: 'module', dependencies: { [NAME]: `file:../${packed.filename}` } }))
  // Only what the package declares (a module it uses but does not declare fails here), and the app's
  // own TypeScript and Node types for the type checks.
  for (const dep of [...Object.keys(manifest.dependencies), '@types/node', 'typescript']) {
    mkdirSync(dirname(join(app, 'node_modules', dep)), { recursive: true })
    symlinkSync(realpathSync(join(ROOT, 'node_modules', dep)), join(app, 'node_modules', dep))
  }
  mkdirSync(join(app, 'node_modules', '.bin'))
  for (const [cmd, file] of Object.entries(manifest.bin)) {
    chmodSync(join(pkgDir, file), 0o755) // npm makes bins executable when it installs them
    symlinkSync(join('..', NAME, file), join(app, 'node_modules', '.bin', cmd))
  }
  for (const f of ['app.mjs', 'backup.mjs', 'examples.mjs', 'webrtc-missing.mjs', 'browser.mjs', 'browser-node.mjs', 'types-node.ts', 'types-browser.ts', 'tsconfig.node.json', 'tsconfig.browser.json']) {
    cpSync(join(HERE, 'app', f), join(app, f))
  }

  // The embedding guide's examples, as a reader saves them.
  writeFileSync(join(app, 'embed.mjs'), embeddingExample(TWO_PHONES))
  writeFileSync(join(app, 'own-node.mjs'), embeddingExample(OWN_NODE))
  execFileSync('chmod', ['-R', 'a-w', app])
  installed = listing(app)
  work = join(base, 'work')
  mkdirSync(work)
}, 240_000)

afterAll(() => {
  if (base === undefined) return
  execFileSync('chmod', ['-R', 'u+w', base])
  rmSync(base, { recursive: true, force: true })
})

describe(`the packed package (${NAME})`, () => {
  it('holds the build and what a user needs, and nothing of the repository\'s own', () => {
    const files = packed.files.map(f => f.path)
    console.log(`${packed.filename}: ${files.length} files, ${(packed.size / 1e3).toFixed(0)} kB packed, ${(packed.unpackedSize / 1e6).toFixed(2)} MB unpacked`)
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/ferry.js', 'proto/ferry.proto', 'dist/index.js', 'dist/index.d.ts',
      'dist/node.js', 'dist/node.d.ts', 'dist/cli/ferry.js', 'dist/wire/gen/ferry.js', 'dist/wire/gen/ferry.d.ts',
      'dist/web.js', 'dist/web.d.ts', 'dist/protocol/sha256-browser.js', 'dist/browser-phone/index.html', 'dist/browser-phone/app.js',
      'examples/README.md', 'examples/memory-history.js', 'examples/chat-app/chat.js', 'examples/chat-app/chat-history.js',
      // README's links go to these: an app's developer reads them where npm put the package.
      'docs/embedding.md', 'docs/cli.md', 'docs/errors.md', 'docs/browser-app.md']) {
      expect(files).toContain(f)
    }
    const foreign = files.filter(f => /^(src|test|scripts|node_modules)\/|\.ts$|\.map$/.test(f) && !f.endsWith('.d.ts'))
    expect(foreign).toEqual([])
  })

  it('runs the CLI from the read-only install: --help, seed, and a verified send/receive on loopback', async () => {
    expect(await ferryOut(['--help'])).toMatch(/Usage: ferry <command>/)
    const oldPhone = join(work, 'cli-old-phone')
    const newPhone = join(work, 'cli-new-phone')
    await ferryOut(['seed', '--store', oldPhone, '--profile', 'tiny'])

    const sender = ferry(['send', '--store', oldPhone, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'], 'sender')
    const shown = await sender.waitEvent('code', 30_000)
    const receiver = ferry(['receive', '--store', newPhone, '--qr', String(shown.qr), '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'], 'receiver')
    const [r, s] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(receiver.all('verified')).toHaveLength(1)

    const before = await ferryOut(['export', '--store', oldPhone])
    expect(before.split('\n').filter(l => l.startsWith('{"type":"message"'))).toHaveLength(300)
    expect(await ferryOut(['export', '--store', newPhone])).toBe(before)
  })

  it('moves a history over WebRTC from the read-only install: the bundle\'s WebRTC chunk and its native addon', async () => {
    const oldPhone = join(work, 'rtc-old-phone')
    const newPhone = join(work, 'rtc-new-phone')
    await ferryOut(['seed', '--store', oldPhone, '--profile', 'tiny'])
    const sender = ferry(['send', '--store', oldPhone, '--no-mdns', '--transport', 'webrtc', '--listen', '/ip4/127.0.0.1/udp/0/webrtc-direct', '--json'], 'rtc sender')
    const shown = await sender.waitEvent('code', 30_000)
    const receiver = ferry(['receive', '--store', newPhone, '--qr', String(shown.qr), '--no-mdns', '--transport', 'webrtc', '--json'], 'rtc receiver')
    const [r, s] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(receiver.all('connection').map(e => e.transport)).toContain('webrtc')
    expect(await ferryOut(['export', '--store', newPhone])).toBe(await ferryOut(['export', '--store', oldPhone]))
  })

  it('runs the demo from the install: two ferry processes it starts from there', async () => {
    const demo = ferry(['demo', '--profile', 'tiny', '--loopback'], 'demo')
    const exit = await demo.waitExit(120_000)
    expect(exit.code, demo.describe()).toBe(0)
    expect(demo.stderr).toMatch(/Verified on the new phone: 300 messages/)
  })

  it('serves the built browser phone from the install', async () => {
    const web = ferry(['web', '--port', '0', '--json'], 'web')
    try {
      const url = String((await web.waitEvent('listening', 30_000)).url)
      const page = await fetch(url)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('src="app.js"')
      const script = await fetch(new URL('app.js', url))
      expect(script.status).toBe(200)
      expect((await script.text()).length).toBeGreaterThan(100_000)
    } finally {
      await web.kill9()
    }
  })

  it('runs an app that moves a history through the public API in plain node', async () => {
    const dir = join(work, 'api')
    mkdirSync(dir)
    const { stdout } = await run(...readOnly(process.execPath, [join(app, 'app.mjs'), dir]), { cwd: app, env: env() })
    const result = JSON.parse(stdout) as { events: string[], summary: Array<{ messages: number }>, messages: number, same: boolean, media: boolean, badCode: string }
    expect(result.events).toEqual(expect.arrayContaining(['paired', 'manifest', 'chats-ready', 'verified']))
    expect(result.summary).toEqual([{ id: 'chat-ana', title: 'Ana', messages: 1001 }])
    expect(result).toMatchObject({ messages: 1001, same: true, media: true, badCode: 'BAD_INPUT' })
  })

  it('writes an encrypted backup and restores it through the public API, as ferry backup and restore do', async () => {
    const dir = join(work, 'backup')
    mkdirSync(dir)
    const { stdout } = await run(...readOnly(process.execPath, [join(app, 'backup.mjs'), dir]), { cwd: app, env: env() })
    const result = JSON.parse(stdout) as { fileBytes: number, password: boolean, wrong: unknown, messages: number, same: boolean }
    expect(result).toMatchObject({ password: true, wrong: { code: 'BAD_INPUT' }, messages: 50, same: true })
    expect(result.fileBytes).toBeGreaterThan(0)
  })

  it('leaves WebRTC out unless an app installs it: one that asks for it without is told how, as a FerryError', async () => {
    // @libp2p/webrtc brings React Native (react-native-webrtc): an optional peer dependency, so an app
    // that moves histories over TCP, as the one above did, installs none of it.
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, peerDependencies?: Record<string, string>, peerDependenciesMeta?: Record<string, { optional?: boolean }> }
    expect(Object.keys(manifest.dependencies)).not.toContain('@libp2p/webrtc')
    expect(manifest.peerDependenciesMeta?.['@libp2p/webrtc']?.optional).toBe(true)
    expect(existsSync(join(app, 'node_modules', '@libp2p', 'webrtc'))).toBe(false)
    const dir = join(work, 'no-webrtc')
    mkdirSync(dir)
    const { stdout } = await run(...readOnly(process.execPath, [join(app, 'webrtc-missing.mjs'), dir]), { cwd: app, env: env() })
    const told = JSON.parse(stdout) as { ferryError?: boolean, code?: string, message?: string, details?: unknown }
    expect(told).toMatchObject({ ferryError: true, code: 'BAD_INPUT', details: { missing: '@libp2p/webrtc' } })
    expect(told.message).toContain(`npm install @libp2p/webrtc@${manifest.peerDependencies?.['@libp2p/webrtc']}`)
  })

  it('runs the embedding guide\'s two phones as written', async () => {
    // Saved into the app before it was made read-only (see beforeAll), run by plain node from there.
    expect(embeddingExample(TWO_PHONES), `docs/embedding.md has a js block under ${TWO_PHONES}`).not.toBe('')
    const { stdout } = await run(...readOnly(process.execPath, [join(app, 'embed.mjs')]), { cwd: app, env: env() })
    expect(stdout).toMatch(/^code \d{3}-\d{4}-\d{4}$/m)
    expect(stdout).toContain('2/2 messages')
    expect(stdout).toContain('verified: Ana (2); 2 sent, 0 already here')
  })

  it('runs the embedding guide\'s own-node example as written, with only the libp2p the package pins', async () => {
    // The app's node is made from the modules the package declares, which is what the guide tells an
    // app to install: one copy of each, shared by the app's node and Ferry's service.
    expect(embeddingExample(OWN_NODE), `docs/embedding.md has a js block under ${OWN_NODE}`).not.toBe('')
    const { stdout } = await run(...readOnly(process.execPath, [join(app, 'own-node.mjs')]), { cwd: app, env: env() })
    expect(stdout).toMatch(/^code \d{3}-\d{4}-\d{4}$/m)
    expect(stdout).toContain('verified: Ana (1)')
  })

  it('bundles the core for the browser with no Node built-in, and refuses the Node part there', async () => {
    // No plugin and nothing external: a Node built-in anywhere in the graph fails this build.
    const bundle = await build({ entryPoints: [join(app, 'browser.mjs')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', absWorkingDir: app })
    const inputs = Object.keys(bundle.metafile.inputs)
    expect(inputs).toContain(`node_modules/${NAME}/dist/protocol/sha256-browser.js`)
    expect(inputs.filter(i => /better-sqlite3|\/sha256\.js$|\/dist\/node\.js$|\/store\/sqlite-store\.js$/.test(i))).toEqual([])
    expect(bundle.outputFiles[0].text).not.toMatch(/["']node:/)

    const refused = await build({ entryPoints: [join(app, 'browser-node.mjs')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', absWorkingDir: app })
      .then(() => 'bundled', (err: { errors: Array<{ text: string }> }) => err.errors.map(e => e.text).join('\n'))
    expect(refused).toContain(`Could not resolve "${NAME}/node"`)
  })

  it('keeps chat-ferry/web out of Node, saying the export is not there for it', async () => {
    // IndexedDB and WebRTC are the browser's: a Node app that imports the browser's parts fails at once.
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `import('${NAME}/web').then(() => console.log('loaded'), e => console.log(e.code))`], { cwd: app, env: env() })
    expect(stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED')
  })

  it('runs its examples from the install: the smallest store, and the chat app with its own database', async () => {
    const { stdout } = await run(...readOnly(process.execPath, [join(app, 'examples.mjs')]), { cwd: app, env: env() })
    expect(JSON.parse(stdout)).toEqual({ chats: [['Ana', 2]], texts: ['hi', 'hello'] })
    const chat = join(pkgDir, 'examples', 'chat-app', 'chat.js')
    const phone = join(work, 'chat-app-phone')
    await run(...readOnly(process.execPath, [chat, 'post', phone, 'Team', 'ana', 'Hello from the install']), { cwd: work, env: env() })
    const shown = await run(...readOnly(process.execPath, [chat, 'show', phone]), { cwd: work, env: env() })
    expect(shown.stdout).toContain('Hello from the install')
  })

  it('says in its declarations what each error code means, for an app that branches on them', () => {
    // An installed package has no src/: a comment tsc drops leaves an app with bare names.
    const declared = readFileSync(join(pkgDir, 'dist', 'errors.d.ts'), 'utf8')
    const undocumented = Object.keys(ErrorCode).filter(code => !new RegExp(`\\*/\\s*readonly ${code}:`).test(declared))
    expect(undocumented).toEqual([])
    // And what each field of an error's details means, and which codes set it.
    const details = /type FerryErrorDetails = \{([\s\S]*?)\n\};/.exec(declared)?.[1] ?? ''
    const fields = [...details.matchAll(/^\s*(\w+)\?:/gm)].map(m => m[1])
    expect(fields).toEqual(expect.arrayContaining(['triesLeft', 'state', 'unproved', 'linkDropped', 'notOffering', 'fetchAgain', 'receivingFrom', 'from', 'peerCode']))
    expect(fields.filter(f => !new RegExp(`\\*/\\s*${f}\\?:`).test(details))).toEqual([])
  })

  it('type-checks an app against the package\'s declarations, in Node and in the browser', async () => {
    const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc')
    const check = async (project: string): Promise<string> =>
      await run(process.execPath, [tsc, '-p', join(app, project)], { cwd: app, env: env() }).then(() => '', (err: { stdout: string }) => err.stdout)
    expect(await Promise.all([check('tsconfig.node.json'), check('tsconfig.browser.json')])).toEqual(['', ''])
  })

  it('left the install folder as it was unpacked', () => {
    expect(listing(app)).toBe(installed)
  })
})
