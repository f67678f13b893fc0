import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cannotRun } from '../helpers/cannot-run.js'
import { FERRY, ROOT } from '../helpers/ferry-sync.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// An export this user may not read (a file copied from another account, a folder whose rights were
// taken away) is refused naming the file or folder and why, not "permission denied" alone (the input,
// or the store?) nor "not a recognised chat export". Root reads everything: run as root, the imports
// run as root without the two capabilities that let it (setpriv), so the rights of a file of mode 000
// apply to it as to its owner; run as another user, as that user. Not as another uid: the clone may
// sit in a folder only root may enter (mktemp's 0700).

const asRoot = process.getuid?.() === 0
/** Root without what lets it read and search past a file's rights. */
const WITHOUT_DAC = ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search']
let dir = ''
/** What the test took its user's rights to. */
const locked: string[] = []

function lock (path: string): void {
  chmodSync(path, 0)
  locked.push(path)
}

/** Runs `ferry import PATH --store STORE` as the user the test reads as. */
function importAs (path: string, store: string): { status: number | null, stderr: string } {
  const command = [process.execPath, FERRY, 'import', path, '--store', store]
  const r = spawnSync(asRoot ? 'setpriv' : command[0], asRoot ? [...WITHOUT_DAC, ...command] : command.slice(1), {
    encoding: 'utf8', cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']
  })
  return { status: r.status, stderr: r.stderr }
}

/** Why this machine cannot make a file this test's user cannot read (undefined: it can). */
function noUnreadableFile (): string | undefined {
  dir = tempDir()
  const probe = join(dir, 'probe')
  writeFileSync(probe, 'x')
  lock(probe)
  if (asRoot) {
    const r = spawnSync('setpriv', [...WITHOUT_DAC, process.execPath, '-e', `require('fs').readFileSync(${JSON.stringify(probe)})`], { encoding: 'utf8' })
    if (r.error !== undefined) return `cannot run setpriv (util-linux) to drop root's capabilities: ${r.error.message}`
    if (!r.stderr.includes('EACCES')) return `root without CAP_DAC_OVERRIDE reads a file of mode 000 (${r.status}: ${r.stderr.trim().slice(0, 200)})`
    return undefined
  }
  try {
    readFileSync(probe)
    return 'neither root (to run as another user) nor a user that a file of mode 000 keeps out'
  } catch {
    return undefined
  }
}

const sha = (b: string): string => createHash('sha256').update(b).digest('hex')

/** A folder for one case, that the import's user may write its store beside. */
function caseDir (name: string): string {
  const d = join(dir, name)
  mkdirSync(d, { mode: 0o755 })
  return d
}

beforeAll(() => {
  cannotRun('the unreadable export test', noUnreadableFile())
})

afterAll(() => {
  // Given back, so that a user other than root can remove them.
  for (const p of locked) chmodSync(p, 0o700)
  cleanupTempDirs()
})

describe('ferry import of an export this user cannot read', () => {
  it('names the NDJSON file, and makes no store', () => {
    const d = caseDir('file')
    const file = join(d, 'old-phone.ndjson')
    writeFileSync(file, readFileSync(join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')))
    lock(file)
    const r = importAs(file, join(d, 'store'))
    expect(r).toEqual({ status: 2, stderr: `ferry: ${file}: this user cannot read it [BAD_INPUT]\n` })
    expect(existsSync(join(d, 'store'))).toBe(false)
  })

  it('names the folder it cannot list, rather than calling it no chat export', () => {
    const d = caseDir('folder')
    const folder = join(d, 'ChatExport_2024-01-01')
    mkdirSync(folder)
    writeFileSync(join(folder, 'result.json'), '{"name": "Ann", "type": "personal_chat", "id": 1, "messages": []}\n')
    lock(folder)
    expect(importAs(folder, join(d, 'store'))).toEqual({ status: 2, stderr: `ferry: ${folder}: this user cannot read it [BAD_INPUT]\n` })
  })

  it('names the chat inside a folder it can list', () => {
    const d = caseDir('chat')
    const folder = join(d, 'WhatsApp Chat - Ann')
    mkdirSync(folder, { mode: 0o755 })
    const chat = join(folder, 'WhatsApp Chat with Ann.txt')
    writeFileSync(chat, '12/31/23, 10:00 - Ann: hi\n')
    lock(chat)
    expect(importAs(folder, join(d, 'store'))).toEqual({ status: 2, stderr: `ferry: ${chat}: this user cannot read it [BAD_INPUT]\n` })
  })

  it('names a media file it cannot read, with its line, not the NDJSON file', () => {
    const d = caseDir('media')
    const photo = join(d, 'photo.jpg')
    writeFileSync(photo, 'a photo')
    lock(photo)
    const file = join(d, 'old-phone.ndjson')
    writeFileSync(file, [
      { type: 'conversation', id: 'c1', kind: 'direct', title: 'Ann', members: ['me', 'u1'] },
      { type: 'media', sha256: sha('a photo'), size: 7, mime: 'image/jpeg', path: 'photo.jpg' },
      { type: 'message', conversation: 'c1', id: 'm1', sender: 'u1', ts: 1_700_000_000_000, kind: 'image', media: sha('a photo') }
    ].map(l => JSON.stringify(l)).join('\n') + '\n', { mode: 0o644 })
    expect(importAs(file, join(d, 'store'))).toEqual({ status: 2, stderr: `ferry: line 2: media file ${photo}: this user cannot read it [BAD_INPUT]\n` })
    expect(existsSync(join(d, 'store'))).toBe(false)
  })
})
