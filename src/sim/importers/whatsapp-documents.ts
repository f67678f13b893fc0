import { basename } from 'node:path'

// What WhatsApp writes about a shared document besides its file:
//   Android  Budget 2024.pdf (file attached)    the title on the next line is the file's name again, no caption
//            Budget 2024
//   iOS      Budget 2024.pdf • 3 pages <attached: 00000013-Budget 2024.pdf>    its description, kept as text
//            Minutes.pdf • 1 page document omitted                           the same, for a document left out

/** The separator iOS writes between a document's name and its page count. */
const BULLET = ' • '

/**
 * The caption of an attachment: what stands before its marker (iOS) and the lines after it, without the
 * document's title Android writes on the line after its marker, the file's name with or without its extension.
 */
export function captionOf (before: string, after: string, file: string): string {
  if (!after.startsWith('\n')) return `${before}${after}`
  const [first, ...rest] = after.slice(1).split('\n')
  const name = basename(file)
  const title = first.trim() === name || first.trim() === name.replace(/\.[^.]*$/, '')
  return title && before.trim() === '' ? `${before}\n${rest.join('\n')}` : `${before}${after}`
}

/**
 * A document iOS left out of the export, from the description it writes before the marker that starts at
 * `markerAt`: its name and that description ("Minutes.pdf • 1 page"), or undefined when the text holds none.
 */
export function omittedDocument (content: string, markerAt: number | undefined): { name: string, description: string } | undefined {
  if (markerAt === undefined || content.includes('\n')) return undefined
  const description = content.slice(0, markerAt).trim()
  const at = description.indexOf(BULLET)
  const name = at > 0 ? description.slice(0, at).trim() : ''
  return /\.[A-Za-z0-9]{1,8}$/.test(name) && name.length <= 255 ? { name, description } : undefined
}
