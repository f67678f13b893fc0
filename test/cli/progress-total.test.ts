import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { terminalProgress } from '../../src/cli/progress.js'
import { barRenders } from '../helpers/terminal.js'

// A bar told of its work before the totals are known (a restore's first step holds only the hello)
// must follow the totals once they come, or it sits at 100% through a multi-gigabyte restore, and a
// person unplugs early. Drawn to a stream that says it is a terminal: every render is kept.

function screen (): { stream: NodeJS.WriteStream, output: () => string } {
  const pass = new PassThrough()
  let output = ''
  pass.on('data', (d: Buffer) => { output += d.toString() })
  const stream = Object.assign(pass, { isTTY: true, columns: 200 }) as unknown as NodeJS.WriteStream
  return { stream, output: () => output }
}

describe('terminalProgress', () => {
  it.each([false, true])('follows the totals once they are known (phases: %s)', async phases => {
    const { stream, output } = screen()
    const view = terminalProgress('restoring', stream, { phases })
    view.update({ messages: 0, totalMessages: 0, mediaBytes: 0, totalMediaBytes: 0 })
    view.update({ messages: 10, totalMessages: 1000, mediaBytes: 0, totalMediaBytes: 0 })
    view.stop()
    await new Promise(resolve => setImmediate(resolve))
    const last = barRenders(output(), 'restoring').at(-1)
    expect(last).toContain('| 10/1000 msgs |')
    expect(last).toMatch(/ 1% \|/)
  })
})
