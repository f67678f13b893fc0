import { afterEach, describe, expect, it } from 'vitest'
import { jsonProgress } from '../../src/cli/progress.js'
import { jsonEvent } from '../../src/cli/json-lines.js'

// --json progress is paced (at most one event per interval). What the pace held back last is the
// work's end: an app whose bar stopped at the last event shown would end short of it.

const progress = (messages: number): Parameters<ReturnType<typeof jsonProgress>['update']>[0] =>
  ({ messages, totalMessages: 100, mediaBytes: 0, totalMediaBytes: 0, sessionBytes: messages * 10 })

describe('jsonProgress', () => {
  const write = process.stdout.write
  afterEach(() => { process.stdout.write = write })

  function captured (): Array<Record<string, unknown>> {
    const events: Array<Record<string, unknown>> = []
    process.stdout.write = ((chunk: string) => { events.push(JSON.parse(chunk)); return true }) as typeof process.stdout.write
    return events
  }

  it('says the progress it held back when it stops, once', () => {
    const events = captured()
    let t = 0
    const view = jsonProgress(500, () => t)
    view.update(progress(10))
    t = 100
    view.update(progress(60))
    t = 200
    view.update(progress(100))
    expect(events.map(e => e.messages)).toEqual([10])
    view.stop()
    view.stop()
    expect(events.map(e => e.event)).toEqual(['progress', 'progress'])
    expect(events.map(e => e.messages)).toEqual([10, 100])
  })

  it('says nothing at stop once another event came after the held one: the command\'s last event stays last', () => {
    const events = captured()
    let t = 0
    const view = jsonProgress(500, () => t)
    view.update(progress(10))
    t = 100
    view.update(progress(100))
    jsonEvent('verified', { messages: 100 })
    view.stop()
    expect(events.map(e => e.event)).toEqual(['progress', 'verified'])
  })

  it('says nothing more at stop when the last progress was said', () => {
    const events = captured()
    let t = 0
    const view = jsonProgress(500, () => t)
    view.update(progress(10))
    t = 600
    view.update(progress(100))
    view.stop()
    expect(events.map(e => e.messages)).toEqual([10, 100])
  })
})
