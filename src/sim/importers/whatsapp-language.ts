import type { LanguageHint } from './date-order.js'
import { languagesOf, type Language } from './whatsapp-phrases.js'

// The language a WhatsApp export is written in, as far as it tells the order of day and month where no
// date does (every day 12 or less). Phones write dates in their language's short form (Android and
// iOS format them from CLDR), and some languages put the day before the month in every region they
// are spoken in; English and Spanish put the month first in some (en-US; es-PA and es-PR, "12/31/23,
// 9:05 p. m.") and the day first in the others, so their words cannot decide. Year-first regions
// (fr-CA, 2023-12-31) write four digits first, which decides before any language is asked.
// Evidence comes from the header, which the same formatter wrote as the date (its am/pm, the word
// between date and time, Arabic-Indic digits), and from what WhatsApp wrote itself in the language it
// runs in (whatsapp-phrases.ts), the one its dates are formatted in too. An export that names English
// or Spanish anywhere, even beside a language that puts the day first, is left to the guess, as an
// export whose language nothing names is.

/** The languages told below: those of the phrase tables, and those only a header's words name. */
type Tongue = Language | 'th' | 'el' | 'fi'

/** Languages that put the day before the month in every region (or the year first, with 4 digits). */
const DAY_FIRST: Partial<Record<Tongue, string>> = {
  ar: 'Arabic',
  de: 'German',
  el: 'Greek',
  fi: 'Finnish',
  fr: 'French',
  id: 'Indonesian',
  it: 'Italian',
  nl: 'Dutch',
  pt: 'Portuguese',
  ru: 'Russian',
  th: 'Thai',
  tr: 'Turkish'
}
/** Languages that put the month first in some regions and the day first in others. */
const EITHER_FIRST: Partial<Record<Tongue, string>> = { en: 'English', es: 'Spanish' }

/**
 * Am/pm words only one language writes, as written with single spaces. "AM"/"PM" and "a.m."/"p.m."
 * are written in languages of both kinds (Urdu and Indian English, Dutch and Mexican Spanish), and
 * the Persian "ق.ظ"/"ب.ظ" by a language CLDR writes year first, whose phones' day-month order, when
 * they put the year last, no source states.
 */
const AMPM: Record<string, Tongue> = {
  ص: 'ar',
  م: 'ar',
  'vorm.': 'de',
  'nachm.': 'de',
  öö: 'tr',
  ös: 'tr',
  ก่อนเที่ยง: 'th',
  หลังเที่ยง: 'th',
  'π.μ.': 'el',
  'μ.μ.': 'el',
  'a. m.': 'es',
  'p. m.': 'es'
}
/** The word some languages put between date and time ("31/12/2023 à 21:05"). */
const JOIN: Record<string, Tongue> = { à: 'fr', às: 'pt', klo: 'fi' }

/** What a header's date and time are written with, apart from the numbers. */
export interface HeaderWords {
  /** The am/pm word as written, spaces single (undefined on a 24-hour clock). */
  ampm?: string
  /** The word between date and time, if any. */
  join?: string
  /** The digits' script: Arabic-Indic (U+0660-0669) only Arabic writes; Persian and Urdu write Extended Arabic-Indic. */
  digits: 'latin' | 'arabic-indic' | 'extended-arabic-indic'
}

/** A line of the export and whether WhatsApp wrote it itself (no author, or marked). */
export interface WrittenLine {
  text: string
  own: boolean
}

/**
 * What the export's language says of the order of day and month: the languages its headers and
 * WhatsApp's own lines are written in and what told them, or undefined when nothing names one.
 */
export function languageHint (headers: Iterable<HeaderWords>, lines: Iterable<WrittenLine>): LanguageHint | undefined {
  const dayFirst = new Map<string, Set<string>>()
  const either = new Map<string, Set<string>>()
  const tell = (tongues: readonly Tongue[], what: string): void => {
    // A phrase languages of both kinds share tells nothing.
    const kind = tongues.every(t => DAY_FIRST[t] !== undefined) ? dayFirst : tongues.every(t => EITHER_FIRST[t] !== undefined) ? either : undefined
    if (tongues.length === 0 || kind === undefined) return
    for (const t of tongues) {
      const name = DAY_FIRST[t] ?? EITHER_FIRST[t] ?? t
      const told = kind.get(name) ?? new Set<string>()
      told.add(what)
      kind.set(name, told)
    }
  }
  for (const h of headers) {
    if (h.digits === 'arabic-indic') tell(['ar'], 'Arabic-Indic digits')
    const ampm = h.ampm === undefined ? undefined : AMPM[h.ampm.toLowerCase()]
    if (ampm !== undefined) tell([ampm], 'its am/pm')
    const join = h.join === undefined ? undefined : JOIN[h.join.toLowerCase()]
    if (join !== undefined) tell([join], 'the word before the time')
  }
  for (const line of lines) tell(languagesOf(line.text, line.own), 'WhatsApp\'s wording')
  const named = (m: Map<string, Set<string>>): string => [...m].map(([name, told]) => `${name} (${[...told].join(', ')})`).join(' and ')
  if (either.size > 0) {
    const also = dayFirst.size > 0 ? `, and in ${named(dayFirst)}` : ''
    return { dayFirst: false, said: `the export is in ${named(either)}, which puts the month first in some regions${also}` }
  }
  if (dayFirst.size > 0) return { dayFirst: true, said: `the export is in ${named(dayFirst)}, which puts the day first in every region` }
  return undefined
}
