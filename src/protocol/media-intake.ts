import { logger } from '@libp2p/logger'
import { bytesToHex } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError } from '../errors.js'
import type { HistorySink, ReceivedMedia, StoredMedia } from '../store/history.js'
import type { Journal } from '../journal/journal.js'
import type { ferry } from '../wire/codec.js'
import { bitmapBytes, getBit, setBit } from './bitmap.js'
import type { ManifestMedia } from './manifest-media.js'
import { recordOf } from './media-records.js'
import { createSha256, type Sha256 } from './sha256.js'

const log = logger('ferry:media-intake')

/** Progress counters the intake keeps (the receiver's). */
interface MediaProgress {
  mediaBytes: number
  mediaFiles: number
  mediaFilesReceived: number
  mediaBytesReceived: number
  mediaFilesHeld: number
  mediaFilesDamaged: number
  mediaFilesMissing: number
}

/** Files handed to the store and not yet durably there, at most. */
const MAX_PENDING = 4096
/** Where earlier versions recorded each part's committed length, one journal write per chunk. */
const OLD_LENGTH_RECORDS = 'p/'

/**
 * A file resumed from a part this phone kept that does not match its sha256 once whole. Its first bytes
 * came from this phone's disk and the rest from the old phone's, and either copy may be the bad one (a
 * part damaged here, or the old phone's file changed, damaged or deleted since the part came): neither
 * the sender nor the history it sent is to blame, and nothing is taken back. The part is gone; the session
 * ends as a dropped link does (TRUNCATED, so a receive reconnects by itself and the old phone waits for
 * it), and the next one fetches the file whole: whole and good, it is kept; whole and bad, the old
 * phone's copy is damaged and it is left out as such (damagedAtSource). The protocol has no way to ask
 * for a file again within a session.
 */
function fetchWhole (sha256: string, actual: string): FerryError {
  log.error('media %s resumed from a kept part has sha256 %s: the part goes, and the file is fetched whole', sha256, actual)
  return new FerryError(ErrorCode.TRUNCATED,
    `media file ${sha256} did not match its checksum once complete: its first bytes were the part this phone kept from an earlier attempt, ` +
    'and either that part or the old phone\'s copy has changed since. Nothing that arrived is taken back: the transfer reconnects to fetch ' +
    'the file whole, and leaves it out if the old phone\'s copy is damaged', { sha256, fetchAgain: true })
}

/**
 * A file this phone lacks that a message here shows, whose record went while the transfer ran, with
 * another message showing it that the person deleted before this one came (verifyPresent). Counted as
 * deleted, the message would stay without its photo and the file out of every later transfer. No one
 * is at fault: the session ends as a dropped link does, nothing taken back, and the next one fetches
 * the file (its record, kept for the message, says it is wanted).
 */
function fetchShown (sha256: string): FerryError {
  log.error('media %s went here with a deleted message, and a message that came since shows it: fetched in the next session', sha256)
  return new FerryError(ErrorCode.TRUNCATED,
    `media file ${sha256} was removed from this phone with a message deleted during the transfer, and a message that arrived since shows it. ` +
    'Nothing that arrived is taken back: the transfer reconnects to fetch the file', { sha256, fetchAgain: true })
}

/**
 * The receiver's media side: which of the manifest's files this phone already has (Resume), the chunks
 * of the rest written into the journal's partial files, each finished file checked against its sha256
 * and handed to the store. A part's length is what it has committed (PartFiles.size), so a chunk costs
 * one write and no record. Chunk writes land while the next chunks are decrypted and hashed (as many at
 * once as the part files take): a file's end and Done wait for them. Hand-offs are not awaited one by
 * one either: a store makes a file durable before it resolves, and it groups those flushes (one per
 * photo would make a photo-heavy transfer wait on the disk), so many are in flight and Done waits for
 * them all.
 */
export class MediaIntake {
  /** Media indexes still to receive, in order. */
  private readonly want: number[] = []
  private wantPos = 0
  /** Committed length of the file being received; -1 until it starts. */
  private offset = -1
  private readonly resumeAt = new Map<number, number>()
  private hash?: { sha: string, h: Sha256 }
  /** Writes of the file being received that may still be landing, oldest first. */
  private readonly landing: Array<Promise<void>> = []
  private readonly pending = new Set<Promise<void>>()
  private failure?: unknown
  /** Files that came whole and did not match their sha256: the old phone's copy is not the file. */
  private readonly damaged = new Set<number>()
  /**
   * Files left deleted (resume()): in the base, with no record here. Each stays in `want`, but may be
   * passed over: it comes only if a message that arrives refers to it.
   */
  private leftDeleted?: Uint8Array
  /** Of those, the ones whose record this transfer stored (a message or a chunk of it arrived). */
  private claimed?: Uint8Array
  /**
   * Files left deleted that came with no message written here referring to them: the sender sent a
   * message that names one, and this phone kept that message deleted (or an older sender sends them all).
   */
  private unasked?: number[]
  /** Bytes of the files this phone held when the session began (resume()). */
  heldBytes = 0
  /**
   * Awaited between verifyPresent's put-back and the removal after it: tests kill a receive there, the
   * records gone put back and not yet removed.
   */
  afterPutBack?: () => Promise<void>
  /** Bytes of the parts earlier sessions left, which this one carries on from (resume()). */
  resumedBytes = 0
  /**
   * Files held here whole at another size than the old phone's entry says (resume()), by index: their
   * size here. A sha256 determines its file's size, so such an entry is damaged at the source (a record
   * there gone wrong, or a lie), and this phone's record, true to the file, stays as it is.
   */
  private readonly misstated = new Map<number, number>()
  /** What the files held here at another size than their entries say add to the entries' bytes (resume()). */
  misstatedBytes = 0

  /**
   * `storeRecord`: stores the record of left-deleted files that come after all, logged to be undone
   * (the receiver's, as the manifest's other records). `logAdded`: logs records about to be put back
   * for a moment (verifyPresent), to be undone, and that their removal is to come; `logRemoved`: logs
   * that removal done (a session after a crash between the two finishes it: TransferLog.finishPutBack).
   */
  constructor (
    private readonly sink: HistorySink,
    private readonly journal: Journal,
    private readonly media: ManifestMedia,
    private readonly progress: MediaProgress,
    private readonly storeRecord: (index: number) => Promise<void> = async () => {},
    private readonly logAdded: (sha256s: string[]) => Promise<void> = async () => {},
    private readonly logRemoved: () => Promise<void> = async () => {}
  ) {}

  /**
   * What this phone already holds of the manifest's media, for the Resume frame. `noneStored`: the store
   * held no media record before the manifest's were stored (a new phone), so it holds none of these
   * files, and reading its records back (every one of them the manifest's) would only confirm that.
   * `wasHere(i)`: this phone held entry i's record (records-held-here.ts); such a file with no record
   * now was removed here, and is left deleted.
   */
  async resume (noneStored = false, wasHere?: (i: number) => boolean): Promise<{ mediaHave: Uint8Array, partial: ferry.PartialMedia.$Properties[], leftDeleted?: Uint8Array }> {
    const m = this.media
    const have = new Uint8Array(bitmapBytes(m.length))
    const partial: ferry.PartialMedia.$Properties[] = []
    const { stored, recorded } = noneStored ? { stored: new Uint8Array(bitmapBytes(m.length)), recorded: new Uint8Array(bitmapBytes(m.length)) } : await this.storedBits(true)
    const onDisk = new Set(await this.journal.parts.list())
    const anyParts = onDisk.size > 0
    await this.dropOldLengthRecords()
    const left = wasHere === undefined ? undefined : new Uint8Array(bitmapBytes(m.length))
    let anyLeft = false
    // Parts this session resumes; every other one goes below (`unlisted`).
    const resumed = new Set<string>()
    for (let i = 0; i < m.length; i++) {
      if (m.missing(i)) {
        // The old phone has the record and not the file: its message comes without it (unless it is here).
        if (!getBit(stored, i)) this.progress.mediaFilesMissing++
        continue
      }
      const size = m.size(i)
      if (getBit(stored, i)) {
        setBit(have, i)
        const here = this.sizeHere(i)
        this.misstatedBytes += here - size
        this.held(here)
        continue
      }
      // No record here of a file this phone held: the app removed it with the messages that named it
      // (a record a message refers to stays), so its owner deleted it.
      if (left !== undefined && !getBit(recorded, i) && wasHere?.(i) === true) {
        setBit(left, i)
        anyLeft = true
        this.want.push(i)
        continue
      }
      // With no partial file left by an earlier session, every file not stored is wanted whole.
      if (!anyParts) {
        this.want.push(i)
        continue
      }
      const sha = m.sha256(i)
      const committed = onDisk.has(sha) ? await this.journal.parts.size(sha) : 0
      if (committed > 0 && committed === size && await this.partHash(sha, committed) === sha) {
        // Complete and verified before an interruption: only its hand-off was lost.
        await this.sink.putMedia(this.journal.parts.handOff(sha, size, m.get(i).mime))
        await this.forget(sha)
        onDisk.delete(sha)
        setBit(have, i)
        this.held(size)
        continue
      }
      this.want.push(i)
      if (committed >= size) {
        // Whole yet not this file, or longer than it: no prefix of it to keep.
        await this.forget(sha)
        onDisk.delete(sha)
      } else if (committed > 0) {
        resumed.add(sha)
        partial.push({ index: i, offset: committed })
        this.resumeAt.set(i, committed)
        this.progress.mediaBytes += committed
        this.resumedBytes += committed
      }
    }
    await this.dropUnlisted(onDisk, resumed)
    if (!anyLeft) return { mediaHave: have, partial }
    this.leftDeleted = left
    this.claimed = new Uint8Array(bitmapBytes(m.length))
    return { mediaHave: have, partial, leftDeleted: left }
  }

  /** Whether any file is left deleted: only then do messages' media need looking at (claim()). */
  get leavesDeleted (): boolean {
    return this.leftDeleted !== undefined
  }

  /**
   * A message referring to media entry i is about to be stored: true when that file was left deleted
   * and its record must now be stored with the message (the file is then wanted like any other: a
   * message here must not point at nothing, and a session cut before the file came finds its record).
   */
  claim (i: number): boolean {
    if (this.leftDeleted === undefined || i < 0 || !getBit(this.leftDeleted, i) || getBit(this.claimed as Uint8Array, i)) return false
    setBit(this.claimed as Uint8Array, i)
    return true
  }

  private isLeftDeleted (i: number): boolean {
    return this.leftDeleted !== undefined && getBit(this.leftDeleted, i)
  }

  /** Passes over the left-deleted files before `index` (or all that remain) that the sender did not send. */
  private passOver (index?: number): void {
    if (this.offset >= 0) return
    for (;;) {
      const i = this.want[this.wantPos]
      if (i === undefined || i === index || !this.isLeftDeleted(i) || (index !== undefined && i > index)) return
      this.wantPos++
    }
  }

  /** Media bytes still to arrive (known after resume): the wanted files less what their parts hold. */
  get bytesToCome (): number {
    let n = 0
    for (let k = this.wantPos; k < this.want.length; k++) {
      const i = this.want[k]
      if (this.isLeftDeleted(i)) continue
      n += this.media.size(i) - (this.resumeAt.get(i) ?? 0)
    }
    return n
  }

  /**
   * Whether entry i states another size than the file this phone holds whole under its sha256: its
   * record here is not to be replaced by the old phone's (media-records.ts).
   */
  misstates (i: number): boolean {
    return this.misstated.has(i)
  }

  /** The size of entry i's file on this phone: the entry's, but where it misstates a file held here. */
  private sizeHere (i: number): number {
    return this.misstated.get(i) ?? this.media.size(i)
  }

  private held (size: number): void {
    this.heldBytes += size
    this.progress.mediaBytes += size
    this.progress.mediaFiles++
    this.progress.mediaFilesHeld++
  }

  /**
   * Which of the manifest's media the store holds the files of: bit i for entry i. A bitmap, not a set
   * of hashes: at the end of a large transfer a set of 100k+ hex strings was the receiver's peak RSS.
   * `whole`: a file counts only if the store finds it whole (wholeMedia), as what is held is not
   * fetched, and one whose entry states another size is noted (misstated); the files this transfer
   * brought were checked as they came, so verification lists names. `untrue`: the held files whose
   * record here is not their size (the size they were found whole at, or came at).
   */
  private async storedBits (whole = false): Promise<{ stored: Uint8Array, recorded: Uint8Array, untrue: StoredMedia[] }> {
    const out = new Uint8Array(bitmapBytes(this.media.length))
    const recorded = new Uint8Array(bitmapBytes(this.media.length))
    const untrue: StoredMedia[] = []
    if (this.media.length === 0) return { stored: out, recorded, untrue }
    const check = whole ? this.sink.wholeMedia?.bind(this.sink) : undefined
    // Found whole at the record's size: a store without wholeMedia has its listing trusted.
    const wholeAt = (i: number, r: StoredMedia): void => {
      setBit(out, i)
      if (r.size === this.media.size(i)) return
      this.misstated.set(i, r.size)
      log.error('media %s is here whole at %d bytes, where the old phone\'s entry says %d: damaged there, this phone\'s record stays', r.sha256, r.size, this.media.size(i))
    }
    let after: string | undefined
    const page = 4096
    for (;;) {
      const rows = await this.sink.media(after, page)
      const held: StoredMedia[] = []
      const heldAt: number[] = []
      for (const r of rows) {
        const i = this.media.indexOf(r.sha256)
        if (i < 0) continue
        setBit(recorded, i)
        if (!r.stored) continue
        if (!whole) {
          setBit(out, i)
          if (r.size !== this.sizeHere(i)) untrue.push(r)
          continue
        }
        if (check === undefined) { wholeAt(i, r); continue }
        held.push(r)
        heldAt.push(i)
      }
      if (check !== undefined && held.length > 0) {
        const ok = await check(held)
        for (let k = 0; k < held.length; k++) {
          if (ok[k]) wholeAt(heldAt[k], held[k])
          else log.error('media %s on this phone is not whole (its size is not its record\'s %d bytes): fetched again', held[k].sha256, held[k].size)
        }
      }
      if (rows.length < page) return { stored: out, recorded, untrue }
      after = rows[rows.length - 1].sha256
    }
  }

  private async partHash (sha: string, length: number): Promise<string> {
    const h = createSha256()
    for await (const piece of this.journal.parts.read(sha, length)) h.update(piece)
    return bytesToHex(h.digest())
  }

  /**
   * Drops the partial files this session does not resume: of a file the old phone no longer lists (deleted
   * there, or out of the selection now), missing there, held here whole, or left deleted here. Nothing
   * else can resume them: opening this transfer undid every other one left unverified (TransferLog.open),
   * and one store takes one transfer at a time; left, a cut video's part would hold its bytes for good.
   * A part an earlier session of this process handed to the store is the store's until it is taken.
   */
  private async dropUnlisted (onDisk: Set<string>, resumed: Set<string>): Promise<void> {
    for (const sha of onDisk) {
      if (resumed.has(sha) || this.journal.parts.beingTaken(sha)) continue
      log('partial media %s is not resumed by this transfer: removed', sha)
      await this.forget(sha)
    }
  }

  private async forget (sha: string): Promise<void> {
    await this.journal.parts.remove(sha)
  }

  /** Earlier versions' records go at once (one write, none read): a part's own length is its commit. */
  private async dropOldLengthRecords (): Promise<void> {
    await this.journal.write([{ prefix: OLD_LENGTH_RECORDS }])
  }

  /**
   * Takes a chunk. Its bytes must stay as they are until the next chunk has been taken (or settled()
   * has returned): its write may be landing until then.
   */
  async chunk (index: number, offset: number, data: Uint8Array): Promise<void> {
    const parts = this.journal.parts
    while (this.landing.length >= (parts.writesAtOnce ?? 1)) await this.landing.shift()
    if (this.failure !== undefined) throw this.failure
    if (this.leftDeleted !== undefined) await this.leftDeletedChunk(index)
    const wantIndex = this.want[this.wantPos]
    if (index !== wantIndex) {
      throw new FerryError(ErrorCode.ORDER, wantIndex === undefined
        ? `media chunk for ${index}, but no more media is expected`
        : `media chunk for ${index} while media ${wantIndex} is incomplete`)
    }
    const m = this.media.get(index)
    // Where the file resumes was read (and any uncommitted tail cut) when the Resume was built.
    if (this.offset < 0) this.offset = this.resumeAt.get(index) ?? 0
    if (offset !== this.offset) throw new FerryError(ErrorCode.ORDER, `media ${m.sha256} chunk at ${offset}, expected ${this.offset}`)
    if (offset + data.byteLength > m.size || (data.byteLength === 0 && m.size > 0)) {
      throw new FerryError(ErrorCode.SIZE_MISMATCH, `media ${m.sha256} chunk ${offset}+${data.byteLength} does not fit its declared ${m.size} bytes`)
    }
    if (offset === 0 && data.byteLength === m.size) {
      // The whole file in one chunk (most photos): hashed while its write lands.
      const written = parts.write(m.sha256, 0, data)
      const h = createSha256()
      h.update(data)
      const digest = h.digest()
      await written
      this.progress.mediaBytes += m.size
      this.progress.mediaBytesReceived += m.size
      if (!this.media.hashIs(index, digest)) {
        await this.damagedAtSource(index, bytesToHex(digest))
        return
      }
      this.fileDone()
      await this.hand(parts.handOff(m.sha256, m.size, m.mime))
      return
    }
    if (offset === 0 || this.hash?.sha !== m.sha256) {
      this.hash = offset === 0 ? { sha: m.sha256, h: createSha256() } : undefined
    }
    // A file's last chunk is rarely whole blocks: the part files would copy it to keep it behind the
    // direct writes still landing. Waiting for those first costs nothing, since the file's end waits.
    if (offset + data.byteLength === m.size) await this.landed()
    const length = data.byteLength
    // On this phone once it has landed: a phone killed before then keeps the part without it.
    const written = parts.write(m.sha256, offset, data).then(() => { this.progress.mediaBytes += length })
    this.hash?.h.update(data)
    this.offset = offset + length
    this.resumeAt.delete(index)
    this.progress.mediaBytesReceived += length
    // Heard at a later chunk, the file's end or settled(); a failure must not go unhandled meanwhile.
    written.catch(() => {})
    this.landing.push(written)
    if (this.offset < m.size) return
    await this.landed()
    const resumed = this.hash === undefined
    const actual = resumed ? await this.partHash(m.sha256, m.size) : bytesToHex((this.hash as { h: Sha256 }).h.digest())
    this.hash = undefined
    if (actual !== m.sha256) {
      if (!resumed) {
        await this.damagedAtSource(index, actual)
        return
      }
      this.progress.mediaBytes -= m.size
      await this.forget(m.sha256)
      throw fetchWhole(m.sha256, actual)
    }
    this.fileDone()
    await this.hand(parts.handOff(m.sha256, m.size, m.mime))
  }

  /**
   * A chunk while some files are left deleted: those the sender passed over before it are, and a file
   * left deleted that comes all the same (a message that came refers to it, or an older sender sends
   * every file) is taken, its record stored first; one no message written here claimed is dropped once
   * the transfer verifies (verifyPresent).
   */
  private async leftDeletedChunk (index: number): Promise<void> {
    this.passOver(index)
    if (this.offset >= 0 || this.want[this.wantPos] !== index || !this.isLeftDeleted(index)) return
    if (!this.claim(index)) return
    await this.storeRecord(index)
    ;(this.unasked ??= []).push(index)
  }

  /**
   * A file that came whole, all of it from the old phone, and is not the file its sha256 names: the old
   * phone's copy is damaged (a bad sector, a file cut short and padded), and every attempt would bring
   * it so. It is left out, as a file the old phone lacks is, and counted: refusing the whole transfer
   * for it would keep the rest of the history off the new phone for good. A lying sender gains nothing
   * by it: it can as well announce the file missing. The file stays wanted: a later transfer tries again.
   */
  private async damagedAtSource (index: number, actual: string): Promise<void> {
    const m = this.media.get(index)
    await this.forget(m.sha256)
    this.damaged.add(index)
    this.progress.mediaFilesDamaged++
    // Settled, for progress (its bytes counted as they came): the bar reaches its end, and the damage
    // is reported beside it.
    this.nextFile()
    log.error('media %s arrived whole with sha256 %s: the old phone\'s copy is damaged, left out', m.sha256, actual)
  }

  private fileDone (): void {
    this.progress.mediaFilesReceived++
    this.nextFile()
  }

  /** The file being received is done with, taken or left out: on to the next wanted. */
  private nextFile (): void {
    this.progress.mediaFiles++
    this.wantPos++
    this.offset = -1
  }

  /** Hands a checked file to the store, keeping up to MAX_PENDING in flight. */
  private async hand (file: ReceivedMedia): Promise<void> {
    if (this.pending.size >= MAX_PENDING) await Promise.race(this.pending)
    if (this.failure !== undefined) throw this.failure
    const p: Promise<void> = this.sink.putMedia(file)
      .then(async () => { await this.forget(file.sha256) })
      .catch(err => { this.failure ??= err })
      .finally(() => { this.pending.delete(p) })
    this.pending.add(p)
  }

  /** Done arrived: every wanted file must have come. */
  finishing (): void {
    this.passOver()
    if (this.wantPos < this.want.length) {
      const sha256 = this.media.sha256(this.want[this.wantPos])
      throw new FerryError(ErrorCode.TRUNCATED, `Done before media ${sha256} (${this.want.length - this.wantPos} files missing)`)
    }
  }

  /** Waits for the writes landing; throws the first one's failure. */
  private async landed (): Promise<void> {
    while (this.landing.length > 0) await this.landing.shift()
  }

  /** Waits for the chunk writes landing and every hand-off; throws the first failure. */
  async settled (): Promise<void> {
    await this.landed()
    while (this.pending.size > 0) await Promise.all([...this.pending])
    if (this.failure !== undefined) throw this.failure
  }

  /**
   * Every file of the manifest that the sender holds is in the store, but for those deleted here, which
   * have no record here and no message here refers to. The transfer stored the record of every other
   * file, the sender sent each file (finishing()) or this phone held it, and the store keeps a record a
   * message refers to: a record gone since was removed here with the last message that showed the file,
   * which is the person's to delete, as the message was. But a message written after that removal may
   * show the same file (the old phone forwarded it, or changed the message deleted here, which then
   * comes back): the file is then wanted, not deleted. So the records gone are put back and removed
   * again, and the store keeps those a message refers to: their file comes in a session of its own
   * (fetchShown), as the protocol cannot ask for a file again within one. With them go the records this
   * transfer added once messages came, of files left deleted here (`late`, by entry, as its earlier
   * sessions' log names them, and those the sender sent here with no message to show them): those no
   * message refers to stay deleted, with their files. Returns how many stay deleted. A record here with
   * no file is this store's loss, or a sender's that kept out a file a message needs, and is refused; a
   * record here must be true to its file: its size the one the file was found whole at, or came at.
   */
  async verifyPresent (late: Iterable<number> = []): Promise<number> {
    const { stored, recorded, untrue } = await this.storedBits()
    if (untrue.length > 0) {
      const r = untrue[0]
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `the record of media ${r.sha256} on this phone says ${r.size} bytes, where its file is ${this.sizeHere(this.media.indexOf(r.sha256))} bytes`)
    }
    const gone: number[] = []
    for (let i = 0; i < this.media.length; i++) {
      if (this.media.missing(i) || getBit(stored, i) || this.damaged.has(i)) continue
      if (!getBit(recorded, i)) {
        gone.push(i)
        continue
      }
      throw new FerryError(ErrorCode.COUNT_MISMATCH, this.isLeftDeleted(i)
        ? `media ${this.media.sha256(i)}, which a message sent in this transfer refers to, is not on this phone: the sender left it out as deleted here`
        : `media ${this.media.sha256(i)} is not on this phone`)
    }
    // Recorded now, so none of them is among those gone.
    const added = new Set([...(this.unasked ?? []), ...late].filter(i => i >= 0 && getBit(recorded, i)))
    if (gone.length + added.size === 0) return 0
    const back = gone.map(i => { const { sha256, size, mime } = this.media.get(i); return { sha256, size, mime } })
    if (back.length > 0) {
      await this.logAdded(back.map(r => r.sha256))
      await this.sink.commit({ media: back })
      await this.afterPutBack?.()
    }
    // A file that arrived after its record went (putMedia took it with no record to name it) goes with
    // the record, unless a message shows it, so the space the person freed stays free.
    await this.sink.commit({ remove: { media: [...gone, ...added].map(i => this.media.sha256(i)) } })
    if (back.length > 0) await this.logRemoved()
    // What the store kept, looked up one by one: they are few, the whole listing is not.
    let left = 0
    let wanted: number | undefined
    for (const i of [...gone, ...added]) {
      const r = await recordOf(this.sink, this.media.sha256(i))
      if (r?.stored === true) continue
      if (r === undefined) left++
      else wanted ??= i
    }
    if (wanted !== undefined) throw fetchShown(this.media.sha256(wanted))
    return left
  }

  /**
   * The sha256s (32 bytes each) of the files this transfer verified as the old phone's: every one it
   * holds, but for those damaged there (never here, so not deleted here). The next base.
   */
  * carried (): Iterable<Uint8Array> {
    for (let i = 0; i < this.media.length; i++) if (!this.media.missing(i) && !this.damaged.has(i)) yield this.media.hashAt(i)
  }

  /**
   * A refused session: the file being received goes (its bytes may be a liar's), and the files handed to
   * the store are in before the undo begins, which takes back those whose records the transfer added:
   * one landing after it would stay, with no record to name it.
   */
  async abandon (): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
    await this.landed().catch(() => {})
    const index = this.want[this.wantPos]
    if (index === undefined || this.offset <= 0) return
    await this.forget(this.media.sha256(index))
  }
}
