import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { createFerryNode } from '../../src/net/node.js'
import { ferry } from '../../src/net/ferry-service.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// One open journal at a time on a folder, as one store: two write the same partial files and transfer
// log. An app that made its journal inline and made its node again, or a second process given the
// same folder, is told STORE_BUSY, naming who has it, rather than given a second journal.

const opened: NodeJournal[] = []
function open (dir: string): NodeJournal {
  const j = NodeJournal.open(dir)
  opened.push(j)
  return j
}
afterEach(async () => {
  for (const j of opened.splice(0)) await j.close()
  cleanupTempDirs()
})

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const SRC = (path: string): string => JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)))

/** The error `NodeJournal.open(dir)` throws, failing the test when it opens. */
function refusal (dir: string): { code: string, message: string, details?: Record<string, unknown> } {
  let j: NodeJournal | undefined
  try {
    j = open(dir)
  } catch (err) {
    if (!isFerryError(err)) throw err
    return err as never
  }
  throw new Error(`a second journal opened on ${j.dir}`)
}

describe('the journal lock', () => {
  it('a second open in this process is STORE_BUSY naming it; the first goes on, and once closed the folder opens again', async () => {
    const dir = tempDir('journal-lock-')
    const first = open(dir)
    await first.write([{ key: 'a', value: bytes('one') }])
    const err = refusal(dir)
    expect(err.code).toBe(ErrorCode.STORE_BUSY)
    expect(err.message).toBe(`the journal in ${join(dir, 'journal')} is open already in this process (${process.pid}): one journal at a time may use a folder; ` +
      'go on with the one open, or close() it (once the node that uses it stopped) before opening it again')
    expect(err.details).toMatchObject({ pid: process.pid })
    await first.write([{ key: 'b', value: bytes('two') }])
    // A reader (ferry inspect, backup) takes no lock: it reads beside the phone that holds it.
    const reader = NodeJournal.existing(dir) as NodeJournal
    expect(await reader.get('b')).toEqual(bytes('two'))
    await reader.close()
    await first.close()
    const again = open(dir)
    expect(await again.get('a')).toEqual(bytes('one'))
  })

  it('held by another process: STORE_BUSY naming that process, and free the moment it is killed', async () => {
    const dir = tempDir('journal-lock-')
    const script = join(tempDir(), 'hold.mts')
    writeFileSync(script, `
      import { NodeJournal } from ${SRC('journal/node-journal.ts')}
      NodeJournal.open(${JSON.stringify(dir)})
      console.log('held')
      setInterval(() => {}, 60_000)
    `)
    const holder = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      const [line] = await once(createInterface({ input: holder.stdout }), 'line') as [string]
      expect(line).toBe('held')
      const err = refusal(dir)
      expect(err.code).toBe(ErrorCode.STORE_BUSY)
      expect(err.message).toBe(`the journal in ${join(dir, 'journal')} is in use by process ${holder.pid} (node hold.mts): ` +
        'one Ferry process at a time may use a journal; wait for it to finish, or stop it')
      expect(err.details).toMatchObject({ pid: holder.pid, command: 'node hold.mts' })
    } finally {
      holder.kill('SIGKILL')
      await once(holder, 'exit')
    }
    // An OS lock: nothing of it outlives its process, however it ended.
    await open(dir).close()
  })

  it('held here, another process is refused with this one named, and the journal it holds is untouched', async () => {
    const dir = tempDir('journal-lock-')
    const mine = open(dir)
    await mine.write([{ key: 'k', value: bytes('mine') }])
    const script = join(tempDir(), 'second.mts')
    writeFileSync(script, `
      import { NodeJournal } from ${SRC('journal/node-journal.ts')}
      try {
        NodeJournal.open(${JSON.stringify(dir)})
        console.log(JSON.stringify({ opened: true }))
      } catch (err) {
        console.log(JSON.stringify({ code: err.code, message: err.message }))
      }
    `)
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    const said = JSON.parse(r.stdout.trim()) as { code?: string, message?: string }
    expect(said.code).toBe(ErrorCode.STORE_BUSY)
    expect(said.message).toMatch(new RegExp(`^the journal in .* is in use by process ${process.pid} \\(`))
    expect(await mine.get('k')).toEqual(bytes('mine'))
    await mine.write([{ key: 'k', value: bytes('still mine') }])
  })

  it('the embedding guide\'s own-database composition, made and stopped again and again in one process, holds one journal', async () => {
    const dir = tempDir('own-database-')
    const history = SqliteChatStore.open(join(dir, 'app-db'), { create: true })
    try {
      for (let i = 0; i < 3; i++) {
        // As docs/embedding.md writes it: the app holds its journal, and closes it once its node stopped.
        const journal = NodeJournal.open(dir)
        const node = await createFerryNode({ dir, listen: ['/ip4/127.0.0.1/tcp/0'], services: { ferry: ferry({ history, journal }) } })
        await node.stop()
        await journal.close()
      }
      // A journal made inline is never closed: the next node's is refused, not a second one on the folder.
      const lost = await createFerryNode({ dir, listen: ['/ip4/127.0.0.1/tcp/0'], services: { ferry: ferry({ history, journal: open(dir) }) } })
      await lost.stop()
      expect(refusal(dir).code).toBe(ErrorCode.STORE_BUSY)
    } finally {
      history.close()
    }
  })
})
