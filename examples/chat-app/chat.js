#!/usr/bin/env node
// @ts-check
// A tiny command line for the chat app: write posts, show them, and move the whole history to another
// phone with Ferry. Run from the repository (after `npm install`, which builds the package):
//
//   node examples/chat-app/chat.js post old-phone "Team" ana "Hello from the old phone"
//   node examples/chat-app/chat.js send old-phone                  (prints a pairing link)
//   node examples/chat-app/chat.js receive new-phone 'ferry://pair?v=2&code=...'
//   node examples/chat-app/chat.js show new-phone
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { buildQrPayload, generateCode, generateQrKey, isFerryError, parseQrPayload } from 'chat-ferry'
import { ChatDb } from './chat-db.js'
import { startFerry } from './ferry-phone.js'

const USAGE = `Usage:
  chat.js post DIR CHAT AUTHOR TEXT [--file PATH --mime TYPE]   write a post (CHAT is a title; a new title starts a chat)
  chat.js show DIR                                             print every chat and its posts
  chat.js send DIR [--listen MULTIADDR]                        offer this phone's history; prints a pairing link
  chat.js receive DIR LINK [--listen MULTIADDR]                receive a history from the phone that showed LINK`

/** @typedef {import('chat-ferry').FerryEvent} FerryEvent */

/**
 * @param {number} n
 * @param {string} thing
 */
const counted = (n, thing) => `${n} ${thing}${n === 1 ? '' : 's'}`

/** @param {FerryEvent} e */
function report (e) {
  if (e.type === 'paired') console.error(`paired with ${e.peer}`)
  if (e.type === 'chats-ready') console.error(`every message is here (${e.messages}); attachments follow`)
  if (e.type === 'interrupted') console.error(`link lost (${e.error.message}); reconnecting`)
  if (e.type === 'verified') {
    const { stats } = e
    // The new phone names the chats it verified; the old phone hears only that it did.
    const chats = e.summary.length > 0 ? ` in ${counted(e.summary.length, 'chat')}` : ''
    console.log(`verified: ${counted(e.progress.totalMessages, 'message')}${chats} ` +
      `(${stats.messagesSent} sent, ${stats.messagesHeld} already there; ${counted(stats.mediaFilesSent, 'attachment')} sent)`)
  }
}

/** @param {string[]} args */
function parse (args) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: { listen: { type: 'string', multiple: true }, file: { type: 'string' }, mime: { type: 'string' } }
    })
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
}

async function main () {
  const { positionals, values } = parse(process.argv.slice(2))
  const [command, dir, ...rest] = positionals
  if (command === undefined || dir === undefined) throw new UsageError('a command and a directory are needed')
  if (!['post', 'show', 'send', 'receive'].includes(command)) throw new UsageError(`unknown command '${command}'`)
  if (command === 'receive' && rest[0] === undefined) throw new UsageError('receive wants the pairing link the old phone shows')
  // The link is checked before anything is made: a mistyped one is BAD_INPUT, and no empty phone is left.
  const pairing = command === 'receive' ? parseQrPayload(rest[0]) : undefined
  const app = ChatDb.open(dir)
  try {
    if (command === 'post') {
      const [title, author, body] = rest
      if (body === undefined) throw new UsageError('post wants CHAT AUTHOR TEXT')
      const chatId = app.chatByTitle(title) ?? app.startChat({ title, members: [author] })
      const attachmentId = values.file === undefined ? undefined : await app.attach(readFileSync(values.file), values.mime ?? 'application/octet-stream')
      app.post(chatId, { author, body, kind: attachmentId === undefined ? 'text' : 'file', attachmentId })
    } else if (command === 'show') {
      for (const chat of app.chats()) {
        console.log(`# ${chat.title} (${counted(chat.posts, 'post')})`)
        for (const p of app.timeline(chat.chat_id)) {
          console.log(`  ${new Date(p.sent_at).toISOString()} ${p.author}: ${p.body ?? `[${p.kind}]`}${p.edited_at !== null ? ' (edited)' : ''}`)
        }
      }
    } else if (command === 'send') {
      const phone = await startFerry(app, { listen: values.listen })
      try {
        const code = generateCode()
        // A key of the link's own: a phone with the link pairs outside the typed code's three guesses,
        // so no neighbour guessing the code can spend it first.
        const key = generateQrKey()
        const link = buildQrPayload({ code, key, peerId: phone.node.peerId.toString(), addrs: phone.node.getMultiaddrs().map(a => a.toString()) })
        console.log(`pairing link: ${link}`)
        await phone.ferry.offer({ code, qrKey: key, onEvent: report })
      } finally {
        await phone.stop()
      }
    } else if (pairing !== undefined) {
      const { code, key, peerId, addrs } = pairing
      const phone = await startFerry(app, { listen: values.listen })
      try {
        await phone.ferry.receive({ code, qrKey: key, addrs: addrs.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`)), onEvent: report })
      } finally {
        await phone.stop()
      }
    }
  } finally {
    app.close()
  }
}

class UsageError extends Error {}

try {
  await main()
} catch (err) {
  // People read messages, not stack traces: Ferry's errors carry a code and a sentence.
  if (err instanceof UsageError) console.error(`${err.message}\n\n${USAGE}`)
  else if (isFerryError(err)) console.error(`error (${err.code}): ${err.message}`)
  else console.error(`error: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
}
