import { formatBytes } from '../format-bytes.js'
import { Pace } from '../pace.js'
import { describeStats } from '../net/describe-stats.js'
import type { ConversationSummary, TransferStats } from '../net/transfer-events.js'
import type { Contact, MediaRecord, Message } from '../store/model.js'
import type { IdbHistoryStore, StoreStats } from './idb-history.js'
import type { PairInput } from './pair-input.js'
import { formatDuration, progressLine, type WebProgress } from './progress-line.js'

// The page's DOM: the pairing form, the progress bar with its ETA, the verified summary, the
// conversations list and a conversation's messages. Plain DOM, redrawn on a timer from what the store
// reads back for the screen (the chats, and the newest messages of the open one): the page never holds
// the history itself.

/** Messages of the open chat on screen, newest last. */
const SHOWN = 300

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`the page has no #${id}`)
  return el as T
}


export class View {
  private selected?: string
  private drawing = false
  private drawnVersion = -1
  private drawnSelected?: string
  private drawnAt = 0
  private drawnConversation = ''
  /** Object URLs of the media on screen (revoked when they leave it). */
  private readonly urls = new Map<string, string>()
  /** The pace of the session under way: a new one for each session. */
  private pace = new Pace()

  constructor (private readonly store: IdbHistoryStore) {
    $('chats').addEventListener('click', evt => {
      const li = (evt.target as HTMLElement).closest('li[data-id]')
      if (li === null) return
      this.selected = (li as HTMLElement).dataset.id
      this.draw()
    })
  }

  onSubmit (handler: (input: PairInput) => void): void {
    $('pair-form').addEventListener('submit', evt => {
      evt.preventDefault()
      handler({ addr: $<HTMLInputElement>('addr').value.trim(), code: $<HTMLInputElement>('code').value.trim() })
    })
  }

  onStartOver (handler: () => void): void {
    $('start-over').addEventListener('click', handler)
    const dialog = $<HTMLDialogElement>('start-over-dialog')
    $('start-over-cancel').addEventListener('click', () => { dialog.close('keep') })
    $('start-over-confirm').addEventListener('click', () => { dialog.close('forget') })
  }

  /** Shows the "Forget this browser's history" button, or hides it while forgetting is not possible. */
  offerStartOver (show: boolean): void {
    $('start-over').hidden = !show
  }

  /**
   * Asks the person, in the page's own dialog, whether to forget what `question` says: true once they
   * chose to forget; false when they cancelled (the button, Escape, or the dialog closed otherwise).
   */
  async confirmStartOver (question: string): Promise<boolean> {
    const dialog = $<HTMLDialogElement>('start-over-dialog')
    $('start-over-question').textContent = question
    dialog.returnValue = ''
    const answered = new Promise<boolean>(resolve => {
      dialog.addEventListener('close', () => { resolve(dialog.returnValue === 'forget') }, { once: true })
    })
    dialog.showModal()
    // Keeping everything is the answer a stray Enter gives.
    $('start-over-cancel').focus()
    return await answered
  }

  prefill (input: Partial<PairInput>): void {
    if (input.addr !== undefined) $<HTMLInputElement>('addr').value = input.addr
    if (input.code !== undefined) $<HTMLInputElement>('code').value = input.code
  }

  showForm (show: boolean): void {
    $('pair').hidden = !show
    $<HTMLButtonElement>('start').disabled = !show
  }

  status (text: string): void {
    $('status-text').textContent = text
  }

  error (text: string | undefined): void {
    const el = $('error')
    el.textContent = text ?? ''
    el.hidden = text === undefined
  }

  progress (p: WebProgress): void {
    $('progress').hidden = false
    const { fraction, text } = progressLine(p, this.pace.update({ ...p, sessionBytes: p.bytesReceived }))
    const bar = $<HTMLProgressElement>('bar')
    bar.max = 1000
    bar.value = Math.round(fraction * 1000)
    $('progress-text').textContent = text
  }

  resetRate (): void {
    this.pace = new Pace()
  }

  summary (summary: ConversationSummary[], p: WebProgress, stats: TransferStats, seconds: number, held?: StoreStats): void {
    $('progress').hidden = true
    const el = $('summary')
    el.hidden = false
    const total = summary.reduce((n, c) => n + c.messages, 0)
    const damaged = stats.mediaFilesDamaged ?? 0
    $('summary-title').textContent = `✓ Verified: ${total.toLocaleString('en')} messages in ${summary.length} chats, ` +
      `${stats.mediaFilesSent + stats.mediaFilesHeld} media files (${formatBytes(p.totalMediaBytes)})`
    // A message or name this phone kept as its owner changed it, or a message its owner deleted that stays
    // deleted, is not the old phone's: say so, not "matches".
    const kept = (stats.messagesKept ?? 0) + (stats.namesKept ?? 0) + (stats.messagesLeftDeleted ?? 0) + (stats.mediaLeftDeleted ?? 0) > 0
    $('summary-detail').textContent = 'Every conversation was read back from this browser\'s storage and matches the old phone' +
      (kept ? ', but for what this phone kept as its own (below)' : '') +
      (seconds > 0 ? ` · this session took ${formatDuration(seconds)}` : '') +
      (damaged > 0 ? ` · ${damaged === 1 ? '1 media file was' : `${damaged} media files were`} damaged on the old phone and did not come` : '')
    // What this session moved and what it kept of this phone's own changes, as `ferry receive` says it.
    $('summary-moved').textContent = `This time: ${describeStats(stats, formatBytes)}.`
    // The transfer's own figures say what the old phone holds; a browser that held a history before
    // holds more, merged, and says so.
    const all = $('summary-held')
    all.hidden = held === undefined
    all.textContent = held === undefined
      ? ''
      : `This browser now holds ${held.messages.toLocaleString('en')} messages in ${held.conversations} chats and ${held.mediaFiles.toLocaleString('en')} media files, from every transfer it received.`
    const list = $('summary-list')
    list.replaceChildren(...summary.map(c => {
      const li = document.createElement('li')
      li.textContent = `${c.title} — ${c.messages.toLocaleString('en')}`
      return li
    }))
  }

  /**
   * Redraws the chats and the open conversation when this page changed the store since the last draw,
   * and every few seconds anyway (another tab may be the one receiving).
   */
  draw (): void {
    const stale = performance.now() - this.drawnAt > 2000
    if (this.drawing || (!stale && this.store.version === this.drawnVersion && this.selected === this.drawnSelected)) return
    this.drawing = true
    const version = this.store.version
    const selected = this.selected
    this.redraw().then(() => {
      this.drawnVersion = version
      this.drawnSelected = selected
      this.drawnAt = performance.now()
    }, err => {
      this.error(`Cannot show the history: ${(err as Error)?.message ?? String(err)}`)
    }).finally(() => { this.drawing = false })
  }

  private async redraw (): Promise<void> {
    const infos = await this.store.conversations()
    $('chats-empty').hidden = infos.length > 0
    $('chats').replaceChildren(...infos.map(({ conversation: c, messages }) => {
      const li = document.createElement('li')
      li.dataset.id = c.id
      if (c.id === this.selected) li.className = 'selected'
      const title = document.createElement('span')
      title.className = 'title'
      title.textContent = c.title === '' ? c.id : c.title
      const n = document.createElement('span')
      n.className = 'count'
      n.textContent = messages.toLocaleString('en')
      li.append(title, n)
      return li
    }))
    const info = infos.find(i => i.conversation.id === this.selected)
    await this.drawConversation(info?.conversation.title, info?.messages ?? 0)
  }

  private async drawConversation (title: string | undefined, total: number): Promise<void> {
    const box = $('messages')
    const selected = this.selected
    if (selected === undefined) {
      this.drawnConversation = ''
      box.replaceChildren(hint('Pick a chat on the left. Chats are readable as soon as their messages arrive; photos and videos follow.'))
      return
    }
    $('conversation-title').textContent = title ?? selected
    const shown = await this.store.latest(selected, SHOWN)
    const shas = [...new Set(shown.flatMap(m => m.media === undefined ? [] : [m.media]))]
    const senders = [...new Set(shown.map(m => m.sender).filter(s => s !== 'me'))]
    const [held, records, people] = await Promise.all([this.store.mediaHeld(shas), this.store.mediaRecords(shas), this.store.contactsById(senders)])
    for (const [sha, url] of this.urls) {
      if (held.has(sha) && shas.includes(sha)) continue
      if (url !== '') URL.revokeObjectURL(url)
      this.urls.delete(sha)
    }
    // Redraw only when this chat changed (new messages, a picture arrived), so reading it while its
    // media streams in does not jump; a newly opened chat starts at its newest message.
    const ready = [...this.urls.values()].filter(u => u !== '').length
    const signature = `${selected}:${total}:${shown[shown.length - 1]?.id ?? ''}:${held.size}:${ready}`
    if (signature === this.drawnConversation) return
    const opened = !this.drawnConversation.startsWith(`${selected}:`)
    this.drawnConversation = signature
    const items = shown.map(m => this.messageItem(m, held, records, people))
    if (total > shown.length) items.unshift(hint(`${(total - shown.length).toLocaleString('en')} earlier messages not shown`))
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40
    box.replaceChildren(...items)
    if (opened || atBottom) box.scrollTop = box.scrollHeight
  }

  private messageItem (m: Message, held: Set<string>, records: Map<string, MediaRecord>, people: Map<string, Contact>): HTMLElement {
    const div = document.createElement('div')
    div.className = `msg ${m.sender === 'me' ? 'mine' : ''}`
    div.dataset.kind = m.kind
    const head = document.createElement('div')
    head.className = 'meta'
    head.textContent = `${m.sender === 'me' ? 'me' : people.get(m.sender)?.name ?? m.sender} · ${new Date(m.ts).toISOString().slice(0, 16).replace('T', ' ')}`
    div.append(head)
    if (m.media !== undefined) div.append(this.mediaItem(m, m.media, held.has(m.media), records.get(m.media)))
    if (m.location !== undefined) div.append(text(`📍 ${m.location.label ?? ''} (${m.location.lat}, ${m.location.lon})`))
    if (m.text !== undefined && m.text !== '') div.append(text(m.text))
    return div
  }

  private mediaItem (m: Message, sha: string, held: boolean, rec: MediaRecord | undefined): HTMLElement {
    const label = `${m.kind}${rec !== undefined ? ` · ${formatBytes(rec.size)}` : ''}`
    if (!held) return text(`⏳ ${label} — arriving`, 'pending')
    const url = this.urls.get(sha)
    if (url === undefined) {
      // Read from IndexedDB once, then redraw with the object URL.
      this.urls.set(sha, '')
      void this.store.mediaBlob(sha, rec?.mime ?? 'application/octet-stream').then(blob => {
        this.urls.set(sha, URL.createObjectURL(blob))
        this.drawnVersion = -1
        this.draw()
      }, () => { this.urls.delete(sha) })
    }
    if (url === undefined || url === '') return text(`${label} — loading`, 'pending')
    if (rec?.mime.startsWith('image/') === true) {
      const img = document.createElement('img')
      img.src = url
      img.alt = label
      img.onerror = () => img.replaceWith(text(`🖼 ${label} (not a picture this browser can show)`, 'media'))
      return img
    }
    const a = document.createElement('a')
    a.href = url
    a.download = sha
    a.textContent = `${m.kind === 'video' ? '🎬' : m.kind === 'voice' ? '🎤' : '📎'} ${label}`
    a.className = 'media'
    return a
  }
}

function text (s: string, className?: string): HTMLElement {
  const p = document.createElement('p')
  p.textContent = s
  if (className !== undefined) p.className = className
  return p
}

function hint (s: string): HTMLElement {
  return text(s, 'hint')
}
