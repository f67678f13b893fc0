// Group events in languages whose wording no single word gives away: Thai, Persian and Korean put the
// verb after its object or fuse the name with a particle ("지민님이", "رضا را"), and their words for
// "added" or "left" are everyday words. So a line is such an event only when it is the whole of one of
// WhatsApp's own sentences, as its Android and iOS strings word them (gathered by whats_json), with
// names where the sentence has them.
//
// In a sentence, {A} is who acted, {X} anyone or anything else (a member, the group's subject). A
// quote stands for any quote WhatsApp writes, a space for any run of spaces, and a final dot may be
// left out.

interface Sentences {
  /** Someone in the chat acted: {A} names them. */
  by: readonly string[]
  /** The exporter acted, worded in the second person. */
  you: readonly string[]
  /** Nobody is named as having acted ("X was added"). */
  done: readonly string[]
}

const SENTENCES: Record<'th' | 'fa' | 'ko', Sentences> = {
  th: {
    by: [
      '{A} ได้สร้างกลุ่ม "{X}"', '{A} ได้สร้างกลุ่มนี้', '{A} เข้าร่วมโดยใช้ลิงค์เชิญของกลุ่มนี้', '{A} เข้าร่วมกลุ่มโดยใช้ลิงก์เชิญของกลุ่มนี้',
      '{A} ออกจากกลุ่ม', '{A} ได้เพิ่ม {X} เข้ากลุ่ม', '{A} ได้เพิ่มคุณเข้ากลุ่ม', '{A} ได้ลบ {X} ออก', '{A} ได้ลบคุณออก',
      '{A} ได้เปลี่ยนหัวข้อเป็น "{X}"', '{A} ได้เปลี่ยนหัวข้อ "{X}" เป็น "{X}"', '{A} เปลี่ยนหัวข้อเป็น "{X}"',
      '{A} ได้เปลี่ยนไอคอนกลุ่มนี้', '{A} ได้เปลี่ยนไอคอนกลุ่มนี้แล้ว', '{A} ได้ลบไอคอนกลุ่มนี้', '{A} ได้ลบไอคอนกลุ่มนี้แล้ว'
    ],
    you: [
      'คุณได้สร้างกลุ่ม "{X}"', 'คุณได้สร้างกลุ่มนี้', 'คุณเข้าร่วมโดยใช้ลิงค์เชิญของกลุ่มนี้', 'คุณเข้าร่วมโดยใช้ลิงก์เชิญของกลุ่มนี้',
      'คุณออกจากกลุ่มแล้ว', 'คุณได้เพิ่ม {X} เข้ากลุ่ม', 'คุณได้ลบ {X} ออก', 'คุณได้เปลี่ยนหัวข้อเป็น "{X}"',
      'คุณได้เปลี่ยนหัวข้อจาก "{X}" เป็น "{X}"', 'คุณได้เปลี่ยนหัวข้อการสนทนาเป็น "{X}"',
      'คุณได้เปลี่ยนไอคอนกลุ่มนี้', 'คุณได้เปลี่ยนไอคอนกลุ่มนี้แล้ว', 'คุณได้ลบไอคอนกลุ่มนี้', 'คุณได้ลบไอคอนกลุ่มนี้แล้ว'
    ],
    done: ['{X} ได้เข้าร่วมในกลุ่ม', '{X} ได้ถูกลบออกแล้ว']
  },
  // iOS spells one "removed" with the Arabic kaf (كرد): both spellings are read. Android's "X was
  // added" and "X was removed" (اضافه شد, حذف شد) are left out: they end sentences of every kind.
  fa: {
    by: [
      '{A} گروه "{X}" را به وجود آورد', '{A} گروه "{X}" را ایجاد کرد', '{A} این گروه را ایجاد کرد',
      '{A} با استفاده از لینک دعوت به گروه ملحق شد', '{A} با لینک دعوت به گروه پیوست', '{A} ترک کرد', '{A} گروه را ترک کرد',
      '{X} توسط {A} اضافه شد', '{A} شما را اضافه کرد', '{A} {X} را حذف کرد', '{A} {X} را حذف كرد',
      '{A} موضوع را به "{X}" تغییر داد', '{A} موضوع را از "{X}" به "{X}" تغییر داد',
      '{A} علامت گروه را تغییر داد', '{A} علامت این گروه را تغییر داد', '{A} علامت این گروه را پاک کرد'
    ],
    you: [
      'شما گروه "{X}" را ایجاد کردید', 'شما این گروه را ایجاد کردید', 'شما با استفاده از لینک دعوت به گروه ملحق شدید',
      'شما با استفاده از پیوند دعوت این گروه پیوستید', 'شما از گروه رفتید', 'شما گروه را ترک کردید', 'شما {X} را اضافه کردید',
      'شما {X} را حذف کردید', 'شما موضوع را به "{X}" تغییر داده اید', 'شما موضوع را به "{X}" تغییر دادید',
      'شما موضوع را از "{X}" به "{X}" تغییر دادید', 'شما آیکون گروه را تغییر دادید', 'شما علامت این گروه را تغییر دادید',
      'شما آیکون گروه را حذف کردید', 'شما علامت این گروه را حذف کردید'
    ],
    done: []
  },
  ko: {
    by: [
      '{A}님이 "{X}"그룹을 만들었습니다', '{A}님이 "{X}" 그룹을 만들었습니다', '{A}님이 이 그룹을 만들었습니다',
      '{A}님이 이 그룹 초대 링크로 참여했습니다', '{A}님이 퇴장하였습니다', '{A}님이 그룹에서 나갔습니다',
      '{A}님이 {X}님을 추가했습니다', '{A}님이 {X}을(를) 추가했습니다', '{A}님에게 초대받았습니다',
      '{A}님이 {X}님을 그룹에서 퇴장시켰습니다', '{A}님이 {X}님을 퇴장시켰습니다', '{A}님에게 퇴장당했습니다',
      '{A}님이 그룹 이름을 "{X}"로 변경했습니다.', '{A}님이 그룹 이름을 "{X}"(으)로 변경했습니다.', '{A}님이 그룹 이름을 "{X}"에서 "{X}"로 변경했습니다.',
      '{A}님이 그룹아이콘을 변경했습니다', '{A}님이 그룹 아이콘을 변경했습니다', '{A}님이 그룹 아이콘을 변경하였습니다', '{A}님이 그룹 아이콘을 삭제했습니다'
    ],
    you: [
      '"{X}"그룹을 만들었습니다', '"{X}" 그룹을 만들었습니다.', '내가 만든 그룹입니다', '이 그룹 초대 링크로 참여했습니다', '퇴장했습니다',
      '{X}님을 추가했습니다.', '{X}님을 퇴장 시켰습니다', '{X}님을 퇴장시켰습니다', '그룹 이름을 "{X}"(으)로 변경했습니다.',
      '그룹 이름을 "{X}"에서 "{X}"로 변경했습니다.', '그룹아이콘을 변경하였습니다', '그룹 아이콘을 변경했습니다',
      '그룹 아이콘을 삭제하였습니다', '그룹 아이콘을 삭제했습니다.'
    ],
    done: ['{X}님이 추가되었습니다.', '{X}님 강제 퇴장']
  }
}

/**
 * Sentences whose fixed words are everyday ones around an open actor: "{A} ترک کرد" (A left) is also
 * "بابا سیگار را ترک کرد" (Dad quit smoking), "{A} {X} را حذف کرد" (A removed X) "مامان عکس‌ها را حذف
 * کرد" (Mum deleted the photos), "{X} توسط {A} اضافه شد" (X was added by A) any "added by". Where
 * nothing but the words tells WhatsApp's line from a person's, such a sentence counts only with who
 * acted known (isGroupLineBy); the others are WhatsApp's by their shape alone.
 */
const OPEN = new Set(['{A} ترک کرد', '{X} توسط {A} اضافه شد', '{A} {X} را حذف کرد', '{A} {X} را حذف كرد'])

const QUOTE = /["“”„«»']/
const QUOTES = /["“”„«»']/g
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// Every part of a sentence is bounded, so a long message is rejected at once and never searched for
// the many ways its words could fill the sentence's open parts.
/** Longest name read as who acted ({A}): names are short. */
const NAME = 100
/** Longest anything else ({X}): a member, several members added at once, a group's subject. */
const WHAT = 1000
/** Most spaces (or U+200C) read where a sentence has one. */
const SPACES = 8

/** A sentence's words as a pattern: any quote for a quote, a run of spaces (or U+200C, which Persian writes between parts of a word) for a space. */
const literal = (s: string): string =>
  [...s].map(c => QUOTE.test(c) ? '["“”„«»\']' : c === ' ' ? `[\\s\\u200c]{1,${SPACES}}` : escape(c)).join('')

/** The pattern of a sentence, `actor` standing for {A}; its final dot may be left out. */
function pattern (sentence: string, actor: string): string {
  return sentence.replace(/\.$/, '').split(/(\{[AX]\})/).map(part => part === '{A}' ? actor : part === '{X}' ? `.{1,${WHAT}}` : literal(part)).join('') + '\\.?'
}

/** The line with every run of spaces (or U+200C) one space and every quote a straight one, as a sentence's fixed words are compared. */
const plain = (line: string): string => line.replace(/[\s\u200c]+/g, ' ').replace(QUOTES, '"')

interface Sentence {
  /** One of the OPEN sentences. */
  open: boolean
  /** Its fixed words before its first open part and after its last, plain. */
  head: string
  tail: string
  /** The longest line it can be. */
  longest: number
  /** The whole line as the sentence, whoever acted. */
  whole: RegExp
  /** For {A} at the start: the sentence after the actor. */
  after?: RegExp
  /** For {A} elsewhere: the sentence, the actor captured. */
  actor?: RegExp
}

function compile (sentence: string): Sentence {
  const parts = sentence.replace(/\.$/, '').split(/(\{[AX]\})/)
  return {
    open: OPEN.has(sentence),
    head: plain(parts[0]),
    tail: plain(parts[parts.length - 1]),
    longest: parts.reduce((n, part) => n + (part === '{A}' ? NAME : part === '{X}' ? WHAT : [...part].reduce((m, c) => m + (c === ' ' ? SPACES : c.length), 0)), 1),
    whole: new RegExp(`^${pattern(sentence, `.{1,${NAME}}`)}$`, 'iu'),
    ...(sentence.startsWith('{A}')
      ? { after: new RegExp(`^${pattern(sentence.slice('{A}'.length), '')}$`, 'iu') }
      : sentence.includes('{A}') ? { actor: new RegExp(`^${pattern(sentence, `(.{1,${NAME}})`)}$`, 'iu') } : {})
  }
}

/** Is the line, whole, the sentence? Its length and fixed words are checked first, which costs no more than reading the line once. */
const fits = (s: Sentence, line: string, words: string): boolean =>
  line.length <= s.longest && words.startsWith(s.head) && (words.endsWith(s.tail) || words.endsWith(`${s.tail}.`)) && s.whole.test(line)

const all = Object.values(SENTENCES)
const BY = all.flatMap(s => s.by).map(compile)
const YOU = all.flatMap(s => s.you).map(compile)
const DONE = all.flatMap(s => s.done).map(compile)

const LONGEST = Math.max(...[...BY, ...YOU, ...DONE].map(s => s.longest))

/** Is the line, whole, one of these group events? `specific`: one whose shape alone tells it is WhatsApp's, not one of the OPEN sentences. */
export function isGroupLine (line: string, specific = false): boolean {
  if (line.length > LONGEST) return false
  const words = plain(line)
  return [BY, YOU, DONE].some(list => list.some(s => !(specific && s.open) && fits(s, line, words)))
}

/**
 * Is the line, whole, one of these group events done by the exporter or by one of `members`? A name
 * may hold spaces, and Persian puts one between who acted and whom ("علی رضا را حذف کرد"): every
 * member the line begins with is tried. A sentence naming who acted is judged by that name, though a
 * second-person one may read it too (Korean "X님을 추가했습니다", you added X, ends "A님이 X님을
 * 추가했습니다", A added X).
 */
export function isGroupLineBy (line: string, members: ReadonlySet<string>): boolean {
  if (line.length > LONGEST) return false
  const words = plain(line)
  const by = BY.filter(s => fits(s, line, words))
  if (by.length === 0) return YOU.some(s => fits(s, line, words))
  return by.some(s => {
    if (s.after !== undefined) {
      const after = s.after
      return [...members].some(m => m !== '' && line.startsWith(m) && after.test(line.slice(m.length)))
    }
    const actor = s.actor?.exec(line)?.[1].trim()
    return actor !== undefined && members.has(actor)
  })
}
