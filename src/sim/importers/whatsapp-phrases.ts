import type { MessageKind } from '../../store/model.js'
import { isGroupLine, isGroupLineBy } from './whatsapp-group-lines.js'

// What WhatsApp writes itself into an export, in the phone's language: attachment markers, "media
// omitted", deleted messages, polls, and system lines. Gathered from public parsers' documentation and
// test data (see docs/importers.md for the list and sources). Where a language is missing, the
// language-free shapes still work: WhatsApp's own file names (IMG-20231231-WA0001.jpg,
// 00000012-PHOTO-2023-12-31-21-05-33.jpg) mark an attachment in any language.

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const anyOf = (words: readonly string[]): string => words.map(escape).join('|')

/** The languages the tables below hold WhatsApp's wording in (ISO 639-1). */
export type Language = 'en' | 'es' | 'pt' | 'it' | 'fr' | 'de' | 'nl' | 'ru' | 'tr' | 'id' | 'ar' | 'th' | 'fa' | 'ko'
/** Phrases by language: which language a line is written in is evidence of how the phone writes dates. */
type Wording = Partial<Record<Language, readonly string[]>>
const inAnyLanguage = (w: Wording): string[] => Object.values(w).flat()

/** Android: "FILE (file attached)" — the words in the brackets. */
const ATTACHED_SUFFIX: Wording = {
  en: ['file attached'],
  es: ['archivo adjunto'],
  pt: ['arquivo anexado', 'ficheiro anexado'],
  it: ['file allegato'],
  fr: ['fichier joint'],
  de: ['Datei angehängt'],
  nl: ['bestand bijgevoegd'],
  ru: ['файл добавлен', 'файл прикреплен'],
  tr: ['dosya ekli'],
  id: ['file terlampir'],
  ar: ['الملف مرفق', 'ملف مرفق'],
  th: ['ไฟล์ที่แนบ'],
  ko: ['파일 첨부됨']
}

/** Android in Persian puts its words before the file: "فایل پیوست شد FILE". */
const ATTACHED_BEFORE: Wording = {
  fa: ['فایل پیوست شد']
}

/** iOS: "<attached: FILE>" — the word before the colon. */
const ATTACHED_PREFIX: Wording = {
  en: ['attached'],
  es: ['adjunto'],
  pt: ['anexado', 'anexo'],
  it: ['allegato'],
  fr: ['pièce jointe', 'joint'],
  de: ['Anhang'],
  nl: ['bijgevoegd'],
  ru: ['вложение', 'прикреплено'],
  tr: ['ekli', 'ek'],
  id: ['terlampir', 'lampiran'],
  ar: ['المُرفق', 'المرفق'],
  th: ['แนบ'],
  fa: ['پیوست'],
  ko: ['첨부됨']
}

/** Android: the whole message when media was left out of the export. */
const MEDIA_OMITTED: Wording = {
  en: ['<Media omitted>'],
  es: ['<Multimedia omitido>', '<Archivo omitido>'],
  pt: ['<Mídia oculta>', '<Arquivo de mídia oculto>', '<Mídia omitida>'],
  it: ['<Media omessi>', '<Media omesso>'],
  fr: ['<Médias omis>'],
  de: ['<Medien ausgeschlossen>', '<Medien weggelassen>'],
  nl: ['<Media weggelaten>'],
  ru: ['<Без медиафайлов>'],
  tr: ['<Medya dahil edilmedi>'],
  id: ['<Media tidak disertakan>'],
  ar: ['<تم استبعاد الوسائط>', '<الوسائط غير مضمنة>', '<الوسائط غير مضمّنة>'],
  th: ['<สื่อถูกลบ>', '<ไฟล์สื่อถูกลบ>'],
  fa: ['<رسانه حذف شد>', '< پيوست نما/آهنگ حذف شد >'],
  ko: ['<미디어 파일 제외됨>', '<미디어 파일을 생략한 대화내용>']
}

/** iOS: "image omitted" and its siblings: a type word and an "omitted" word, per language. */
const OMITTED_WORD = [
  'omitted', // en
  'omitido', 'omitida', // es
  'oculto', 'oculta', 'ocultado', 'ocultada', 'omitido', 'omitida', // pt
  'omesso', 'omessa', 'omessi', 'esclusa', 'escluso', 'non incluso', // it
  'absent', 'absente', 'omis', 'omise', 'retiré', 'retirée', // fr
  'weggelassen', 'ausgelassen', // de
  'weggelaten', // nl
  'отсутствует', 'пропущено', 'пропущен', // ru
  'dahil edilmedi', // tr
  'tidak disertakan' // id
]

const OMITTED_TYPES: Array<[MessageKind | 'contact', readonly string[]]> = [
  ['image', ['image', 'imagen', 'imagem', 'immagine', 'Bild', 'afbeelding', 'изображение', 'фото', 'görüntü', 'gambar', 'foto', 'photo']],
  ['video', ['video', 'vídeo', 'vidéo', 'Video', 'видео', 'GIF', 'video note']],
  ['voice', ['audio', 'áudio', 'Audio', 'аудио', 'аудиофайл', 'ses']],
  ['sticker', ['sticker', 'figurinha', 'autocollant', 'стикер', 'çıkartma', 'stiker']],
  ['file', ['document', 'documento', 'Dokument', 'документ', 'belge', 'dokumen']],
  ['contact', ['Contact card', 'tarjeta de contacto', 'cartão de contato', 'scheda contatto', 'fiche contact', 'Kontaktkarte', 'contactkaart',
    'карточка контакта', 'kişi kartı', 'kartu kontak']]
]

/**
 * iOS: media left out, in languages that word it as a phrase of its own rather than a type word and
 * an "omitted" word. A document's name may stand before it.
 */
const OMITTED_PHRASES: Array<[MessageKind | 'contact', Wording]> = [
  ['image', { ar: ['لم يتم إدراج الصورة'], th: ['ไม่มีรูปภาพ'] }],
  ['video', { ar: ['لم يتم إدراج الفيديوهات', 'لم يتم إدراج صورة GIF'], th: ['วิดีโอถูกลบ', 'ละเว้น GIF'] }],
  ['voice', { ar: ['لم يتم إدراج المقاطع الصوتية'], th: ['ไม่มีไฟล์เสียง'] }],
  ['sticker', { ar: ['تم حذف الملصقات'], th: ['ไม่มีสติกเกอร์'] }],
  ['file', { ar: ['لم يتم إدراج المستند'], th: ['ละเว้นเอกสาร'] }],
  ['contact', { ar: ['لم يتم إدراج بطاقة جهة اتصال'], th: ['บัตรรายชื่อที่ละเว้น'] }]
]
/**
 * iOS in Persian and Korean: media left out, worded as phrases people say too ("تصویر حذف شد", the
 * image was deleted). They count only after U+200E, the mark iOS puts before what it wrote, as the
 * whole message or after a document's name. U+200F, which a phone in Persian writes there, is no
 * sign: a person's right-to-left message may begin with it, and iOS may begin any header line with
 * it, so after U+200F alone the phrase stays text, WhatsApp's words kept rather than a person's lost.
 */
const OMITTED_MARKED: Array<[MessageKind | 'contact', Wording]> = [
  ['image', { fa: ['تصویر حذف شد'], ko: ['이미지 생략됨'] }],
  ['video', { fa: ['ویدیو حذف شد', 'GIF حذف شد'], ko: ['비디오 생략됨', 'GIF 생략됨'] }],
  ['voice', { fa: ['صدا حذف شد'], ko: ['오디오 생략됨'] }],
  ['sticker', { fa: ['استیکر حذف شد'], ko: ['스티커 제외됨'] }],
  ['file', { fa: ['سند حذف شد'], ko: ['문서 생략됨'] }],
  ['contact', { fa: ['برگ مخاطب حذف شد'], ko: ['연락처 카드 생략됨'] }]
]
/** The same phrases by language, whatever the kind. */
const OMITTED_PHRASE: Wording = {
  ar: OMITTED_PHRASES.flatMap(([, w]) => w.ar ?? []),
  th: OMITTED_PHRASES.flatMap(([, w]) => w.th ?? [])
}

/** Deleted messages, by someone else and by the exporter. */
const DELETED: Wording = {
  en: ['This message was deleted', 'You deleted this message'],
  es: ['Se eliminó este mensaje', 'Eliminaste este mensaje', 'Este mensaje fue eliminado'],
  pt: ['Mensagem apagada', 'Esta mensagem foi apagada', 'Você apagou esta mensagem'],
  it: ['Questo messaggio è stato eliminato', 'Hai eliminato questo messaggio'],
  fr: ['Ce message a été supprimé', 'Vous avez supprimé ce message'],
  de: ['Diese Nachricht wurde gelöscht', 'Du hast diese Nachricht gelöscht'],
  nl: ['Dit bericht is verwijderd', 'Je hebt dit bericht verwijderd'],
  ru: ['Данное сообщение удалено', 'Это сообщение удалено', 'Вы удалили это сообщение'],
  tr: ['Bu mesaj silindi', 'Bu mesajı sildiniz'],
  id: ['Pesan ini telah dihapus', 'Pesan ini dihapus', 'Anda menghapus pesan ini'],
  ar: ['تم حذف هذه الرسالة', 'لقد حذفت هذه الرسالة', 'لقد حذَفت هذه الرسالة', 'أنت حذفت هذه الرسالة'],
  th: ['ข้อความนี้ถูกลบแล้ว', 'ข้อความนี้ได้ถูกลบ', 'คุณได้ลบข้อความนี้', 'คุณลบข้อความนี้'],
  fa: ['این پیام حذف شد', 'این پیام حذف شده است', 'شما این پیام را حذف کردید'],
  ko: ['이 메시지는 삭제되었습니다', '이 메시지를 삭제했습니다', '삭제한 메시지입니다']
}

/** The mark WhatsApp puts after an edited message ("text <This message was edited>"), per language. */
const EDITED: Wording = {
  en: ['This message was edited'],
  es: ['Se editó este mensaje'],
  pt: ['Mensagem editada', 'Esta mensagem foi editada'],
  it: ['Questo messaggio è stato modificato'],
  fr: ['Ce message a été modifié'],
  de: ['Diese Nachricht wurde bearbeitet'],
  nl: ['Dit bericht is bewerkt'],
  ru: ['Сообщение изменено'],
  tr: ['Bu mesaj düzenlendi'],
  id: ['Pesan ini diedit'],
  ar: ['تم تعديل هذه الرسالة']
}

/** The first line of a poll ("POLL:"), per language. */
const POLL = ['POLL', 'ENCUESTA', 'ENQUETE', 'SONDAGGIO', 'SONDAGE', 'UMFRAGE', 'PEILING', 'ОПРОС', 'ANKET', 'POLLING', 'JAJAK PENDAPAT']

/**
 * System phrases distinctive enough to mark a line as WhatsApp's own wherever it appears: the
 * encryption notice and the security-code change, in each language. Italian, Dutch and Indonesian
 * keep the English "end-to-end" in their notice.
 */
const SYSTEM_DISTINCT: Wording = {
  en: ['end-to-end', 'security code'],
  es: ['extremo a extremo', 'código de seguridad'],
  pt: ['ponta a ponta', 'código de segurança'],
  it: ['end-to-end', 'codice di sicurezza'],
  fr: ['bout en bout', 'code de sécurité'],
  de: ['Ende-zu-Ende', 'Sicherheitsnummer'],
  nl: ['end-to-end', 'beveiligingscode'],
  ru: ['сквозным шифрованием', 'код безопасности'],
  tr: ['uçtan uca', 'güvenlik kodu'],
  id: ['end-to-end', 'kode keamanan'],
  ar: ['الرسائل والمكالمات مشفرة', 'تغيّر رمز أمانك'],
  th: ['ข้อความและการโทรได้รับการเข้ารหัส', 'รหัสความปลอดภัยของคุณกับ']
}

/**
 * Missed and silenced calls: a system line that still belongs to the caller. Thai, Persian and Korean
 * as WhatsApp's iOS and Android strings word them.
 */
const CALL: Wording = {
  en: ['Missed voice call', 'Missed video call', 'Missed group voice call', 'Missed group video call', 'Silenced voice call', 'Silenced video call'],
  es: ['Llamada perdida', 'Videollamada perdida', 'Llamada de voz perdida'],
  pt: ['Chamada de voz perdida', 'Chamada de vídeo perdida'],
  it: ['Chiamata vocale persa', 'Videochiamata persa'],
  fr: ['Appel vocal manqué', 'Appel vidéo manqué'],
  de: ['Verpasster Sprachanruf', 'Verpasster Videoanruf'],
  nl: ['Gemiste spraakoproep', 'Gemiste video-oproep'],
  ru: ['Пропущенный аудиозвонок', 'Пропущенный видеозвонок'],
  tr: ['Cevapsız sesli arama', 'Cevapsız görüntülü arama'],
  id: ['Panggilan suara tak terjawab', 'Panggilan video tak terjawab'],
  th: ['สายที่ไม่ได้รับ', 'วิดีโอคอลที่ไม่ได้รับ', 'สายโทรวิดีโอที่ไม่ได้รับ', 'สายโทรเสียงแบบกลุ่มที่ไม่ได้รับ', 'วิดีโอคอลกลุ่มที่ไม่ได้รับ'],
  fa: ['تماس صوتی پاسخ داده نشده', 'تماس تصویری پاسخ داده نشده', 'تماس تصویری بی\u200cپاسخ', 'تماس صوتی گروهی پاسخ داده نشده',
    'تماس تصویری گروهی پاسخ داده نشده'],
  ko: ['부재중 전화', '부재중 영상통화', '부재중 그룹 통화', '부재중 그룹 영상통화']
}

/**
 * The exporter blocking or unblocking the other person of a direct chat. iOS attributes the line to
 * that person, so only its wording tells it from what they wrote. Languages are listed only where the
 * wording is known for certain (Portuguese: Brazil's, with "este" and with "esse", as WhatsApp's iOS
 * strings word it); French, Russian, Turkish, Dutch, Indonesian, Arabic, Thai, Persian and Korean as
 * WhatsApp's iOS strings word them (Dutch with the formal "U", as the app writes it; Persian's unblocking
 * as "you added this person back to your contacts").
 */
const BLOCKED: Wording = {
  en: ['You blocked this contact', 'You unblocked this contact'],
  es: ['Bloqueaste a este contacto', 'Desbloqueaste a este contacto'],
  pt: ['Você bloqueou este contato', 'Você desbloqueou este contato', 'Você bloqueou esse contato', 'Você desbloqueou esse contato'],
  it: ['Hai bloccato questo contatto', 'Hai sbloccato questo contatto'],
  fr: ['Vous avez bloqué ce contact', 'Vous avez débloqué ce contact'],
  de: ['Du hast diesen Kontakt blockiert', 'Du hast diesen Kontakt freigegeben'],
  nl: ['U hebt dit contact geblokkeerd', 'U hebt dit contact gedeblokkeerd'],
  ru: ['Вы заблокировали этот контакт', 'Вы разблокировали этот контакт'],
  tr: ['Bu kişiyi engellediniz', 'Bu kişinin engelini kaldırdınız'],
  id: ['Anda telah memblokir kontak ini', 'Anda membuka blokir kontak ini'],
  ar: ['لقد حظرت جهة الاتصال هذه', 'لقد رفعت الحظر عن جهة الاتصال هذه'],
  th: ['คุณได้บล็อครายชื่อนี้', 'คุณเลิกบล็อครายชื่อนี้แล้ว'],
  fa: ['شما این مخاطب را مسدود کردید', 'این فرد را دوباره به فهرست مخاطبان خود افزودید'],
  ko: ['이 연락처를 차단했습니다', '이 연락처가 차단해제되었습니다']
}

/** Arabic group events: created the group, added, removed, left, joined, changed the subject. */
const GROUP_EVENT_AR = ['أنشأ المجموعة', 'أضاف', 'أزال', 'غادر', 'انضم', 'غيّر الموضوع']

/** Group events ("X added Y"): words too common to trust alone, so only on lines WhatsApp marked or left without an author. */
const GROUP_EVENT = [
  'created group', 'created this group', 'added', 'removed', 'left', 'joined using', 'changed the subject', "changed this group's",
  'changed the group', 'now an admin', "deleted this group's",
  'creó el grupo', 'creó este grupo', 'añadió', 'eliminó a', 'salió', 'se unió', 'cambió el asunto', 'cambió el ícono', 'cambió la descripción',
  'criou o grupo', 'adicionou', 'removeu', 'saiu', 'entrou', 'mudou o assunto', 'alterou o assunto', 'mudou a imagem', 'alterou a imagem',
  'ha creato il gruppo', 'ha aggiunto', 'ha rimosso', 'è uscito', 'ha abbandonato', 'ha cambiato l’oggetto', "ha cambiato l'oggetto", 'ha cambiato l’immagine',
  "ha cambiato l'immagine",
  'a créé le groupe', 'a ajouté', 'a retiré', 'est parti', 'a quitté', 'a changé le sujet', "a changé l'icône", 'a changé l’icône',
  'hat die Gruppe', 'hinzugefügt', 'entfernt', 'verlassen', 'beigetreten', 'hat den Betreff', 'hat das Gruppenbild',
  'heeft de groep', 'toegevoegd', 'verwijderd', 'heeft het onderwerp', 'heeft de groepsafbeelding',
  'создал(а) группу', 'создал группу', 'добавил(а)', 'добавил', 'удалил(а)', 'вышел(-ла)', 'вышел', 'изменил(а) тему', 'изменил(а) название',
  'grubu oluşturdu', 'ekledi', 'çıkardı', 'ayrıldı', 'katıldı', 'konuyu değiştirdi',
  'membuat grup', 'menambahkan', 'mengeluarkan', 'keluar', 'bergabung', 'mengubah subjek',
  ...GROUP_EVENT_AR
]

/**
 * The exporter's own group events. English, Portuguese and Indonesian put "You" before the verb of
 * the third person ("You added", "Você adicionou", "Anda menambahkan"); the other languages conjugate
 * the verb itself, which names the exporter as who acted.
 */
const GROUP_EVENT_YOU = [
  'Creaste el grupo', 'Creaste este grupo', 'Has creado el grupo', 'Has creado este grupo', 'Añadiste a', 'Has añadido a', 'Eliminaste a',
  'Has eliminado a', 'Saliste del grupo', 'Has salido del grupo', 'Te uniste', 'Cambiaste el asunto', 'Has cambiado el asunto',
  'Cambiaste el ícono', 'Cambiaste el icono', 'Has cambiado el icono', 'Cambiaste la descripción', 'Has cambiado la descripción', // es
  'Hai creato il gruppo', 'Hai creato questo gruppo', 'Hai aggiunto', 'Hai rimosso', 'Sei uscito', 'Hai abbandonato',
  'Hai cambiato l’oggetto', "Hai cambiato l'oggetto", 'Hai cambiato l’immagine', "Hai cambiato l'immagine", 'Hai cambiato la descrizione', // it
  'Vous avez créé le groupe', 'Vous avez créé ce groupe', 'Vous avez ajouté', 'Vous avez retiré', 'Vous êtes parti', 'Vous avez quitté',
  'Vous avez rejoint', 'Vous avez changé le sujet', 'Vous avez changé l’icône', "Vous avez changé l'icône", 'Vous avez changé la description', // fr
  'Du hast die Gruppe', 'Du hast diese Gruppe', 'Du hast den Betreff', 'Du hast das Gruppenbild', 'Du hast die Gruppenbeschreibung', // de
  'Je hebt de groep', 'Je hebt deze groep', 'Je hebt het onderwerp', 'Je hebt de groepsafbeelding', 'Je hebt de afbeelding van deze groep', // nl
  'Вы создали группу', 'Вы создали эту группу', 'Вы добавили', 'Вы удалили', 'Вы вышли', 'Вы изменили тему', 'Вы изменили название',
  'Вы изменили изображение', // ru
  'oluşturdunuz', 'eklediniz', 'çıkardınız', 'ayrıldınız', 'katıldınız' // tr
]

/**
 * German and Dutch put the participle last ("Du hast Ann hinzugefügt", "Je hebt Ann toegevoegd"): the
 * group event's word is the third person's, the exporter stands first.
 */
const YOU_BEFORE_PARTICIPLE = /^(?:du hast|je hebt)(?:\s|$)/iu

/**
 * A phone in a right-to-left language writes U+200F around the markers WhatsApp puts in a message
 * ("‏<‏پیوست: FILE>", "‏<تم تعديل هذه الرسالة>"), where left-to-right ones write U+200E, which is
 * taken out of the text before it is read.
 */
const RTL_MARK = '\\u200f?'

// Each shape is built from a table's phrases: those of every language to read a line, those of one
// language to tell which language a line is in.
const attachedAndroid = (w: readonly string[]): RegExp => new RegExp(`^(.+?\\.[\\p{L}\\p{N}]{1,8}) \\((?:${anyOf(w)})\\)$`, 'iu')
/** iOS before 2017: "FILE <attached>". */
const attachedOldIos = (w: readonly string[]): RegExp => new RegExp(`^(\\S.*?\\.[\\p{L}\\p{N}]{1,8}) <${RTL_MARK}(?:${anyOf(w)})>$`, 'iu')
/** Korean iOS writes a space after the bracket ("< 첨부됨: FILE>"). */
const attachedIos = (w: readonly string[]): RegExp => new RegExp(`${RTL_MARK}< ?${RTL_MARK}(?:${anyOf(w)}): ([^<>]+)>`, 'iu')
/** Persian Android: "فایل پیوست شد FILE". WhatsApp's file names end in an ASCII extension, which a sentence in Persian does not. */
const attachedBefore = (w: readonly string[]): RegExp => new RegExp(`^(?:${anyOf(w)}) (\\S.*?\\.[a-z0-9]{1,8})$`, 'iu')
const mediaOmitted = (w: readonly string[]): RegExp => new RegExp(`^(?:${anyOf(w)})$`, 'iu')
const omittedPhrase = (w: readonly string[]): RegExp => new RegExp(`(?:^|\\s)${RTL_MARK}(?:${anyOf(w)})$`, 'iu')
const deleted = (w: readonly string[]): RegExp => new RegExp(`^(?:${anyOf(w)})\\.?$`, 'iu')
const edited = (w: readonly string[]): RegExp => new RegExp(`[\\s\\u200f]*<${RTL_MARK}(?:${anyOf(w)})\\.?>\\s*$`, 'iu')
const distinct = (w: readonly string[]): RegExp => new RegExp(anyOf(w), 'iu')
/** The phrase ends a word: `\b` knows only ASCII letters, and Thai, Persian or Korean end in none. */
const call = (w: readonly string[]): RegExp => new RegExp(`^(?:${anyOf(w)})(?![\\p{L}\\p{N}\\p{M}])`, 'iu')
/** Android adds what to tap ("You blocked this contact. Tap to unblock."): the phrase starts the line and ends a sentence. */
const blocked = (w: readonly string[]): RegExp => new RegExp(`^(?:${anyOf(w)})(?:\\.|$)`, 'iu')

const ATTACHED_ANDROID = attachedAndroid(inAnyLanguage(ATTACHED_SUFFIX))
/** WhatsApp's own names for received and sent media on Android and iOS (iOS before 2017: 2016-09-28-PHOTO-00000004.jpg). */
const WHATSAPP_FILE = /^(?:(?:IMG|VID|AUD|PTT|STK|DOC)-\d{8}-WA\d+|\d{8}-[A-Z]+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}|\d{4}-\d{2}-\d{2}-[A-Z]+-\d+)(?:\.[\w]+|$)/
const ANDROID_ANY_SUFFIX = /^(\S.*?\.[\p{L}\p{N}]{1,8}) \([^()]{2,40}\)$/u
/** Older Android writes some of its own names without their extension ("AUD-20190113-WA0000. (file attached)"). */
const ANDROID_NO_EXTENSION = /^((?:IMG|VID|AUD|PTT|STK|DOC)-\d{8}-WA\d+\.) \([^()]{2,40}\)$/u
const ATTACHED_BEFORE_RE = attachedBefore(inAnyLanguage(ATTACHED_BEFORE))
const ATTACHED_OLD_IOS = attachedOldIos(inAnyLanguage(ATTACHED_PREFIX))
const OLD_IOS_ANY_WORD = /^(\S.*?\.[\p{L}\p{N}]{1,8}) <[^<>:]{2,30}>$/u
const ATTACHED_IOS = attachedIos(inAnyLanguage(ATTACHED_PREFIX))
const IOS_ANY_PREFIX = /<[^<>:]{1,30}: (\d{8}-[^<>]+)>/u
const MEDIA_OMITTED_RE = mediaOmitted(inAnyLanguage(MEDIA_OMITTED))
const OMITTED_RE = new RegExp(`(?:^|\\s|[<‹])(${OMITTED_TYPES.flatMap(([, w]) => w).map(escape).join('|')}) (?:${anyOf(OMITTED_WORD)})[>›]?$`, 'iu')
const OMITTED_PHRASE_RES = OMITTED_PHRASES.map(([kind, w]) => [kind, omittedPhrase(inAnyLanguage(w))] as const)
const OMITTED_PHRASE_RE = omittedPhrase(inAnyLanguage(OMITTED_PHRASE))
/** The whole message, or a document's name before it; U+200E among the marks right before the phrase. */
const OMITTED_MARKED_RES = OMITTED_MARKED.map(([kind, w]) =>
  [kind, new RegExp(`^${kind === 'file' ? '(?:.*?\\.[\\p{L}\\p{N}]{1,8}(?![\\p{L}\\p{N}]).*?\\s)?' : ''}\\u200f*\\u200e[\\u200e\\u200f]*(?:${anyOf(inAnyLanguage(w))})\\.?$`, 'iu')] as const)
const DELETED_RE = deleted(inAnyLanguage(DELETED))
const EDITED_RE = edited(inAnyLanguage(EDITED))
const POLL_RE = new RegExp(`^(?:${anyOf(POLL)}) ?:$`, 'u')
const SYSTEM_DISTINCT_RE = distinct(inAnyLanguage(SYSTEM_DISTINCT))
const CALL_RE = call(inAnyLanguage(CALL))
const BLOCKED_RE = blocked(inAnyLanguage(BLOCKED))
const GROUP_EVENT_RE = new RegExp(`(?:^|\\s)(?:${anyOf(GROUP_EVENT)})(?:\\s|$|[.,:])`, 'iu')
const GROUP_EVENT_YOU_RE = new RegExp(`(?:^|\\s)(?:${anyOf(GROUP_EVENT_YOU)})(?![\\p{L}\\p{N}])`, 'iu')

/** Every language a table holds wording in. */
const LANGUAGES: readonly Language[] = ['en', 'es', 'pt', 'it', 'fr', 'de', 'nl', 'ru', 'tr', 'id', 'ar', 'th', 'fa', 'ko']
/** The patterns of one language's wording in the tables, those it has no wording for left out. */
const inLanguage = (language: Language, tables: Array<[Wording, (w: readonly string[]) => RegExp]>): RegExp[] =>
  tables.flatMap(([wording, pattern]) => (wording[language] ?? []).length > 0 ? [pattern(wording[language] ?? [])] : [])
const WORDING = LANGUAGES.map(language => ({
  language,
  markers: inLanguage(language, [[ATTACHED_SUFFIX, attachedAndroid], [ATTACHED_BEFORE, attachedBefore], [ATTACHED_PREFIX, attachedOldIos], [ATTACHED_PREFIX, attachedIos],
    [MEDIA_OMITTED, mediaOmitted], [OMITTED_PHRASE, omittedPhrase], [DELETED, deleted], [EDITED, edited]]),
  notices: inLanguage(language, [[SYSTEM_DISTINCT, distinct], [CALL, call], [BLOCKED, blocked]])
}))

/**
 * The languages whose WhatsApp wording a line holds. The markers WhatsApp writes into a person's
 * message (an attachment, media left out, a deleted message, the edit mark) count on any line; its
 * notices (encryption, security code, calls, blocking) only on a line WhatsApp wrote itself (`own`:
 * without an author, or marked), where a person's own words are not taken for them. A phrase several
 * languages share ("end-to-end" in English, Italian, Dutch and Indonesian) names them all.
 */
export function languagesOf (content: string, own: boolean): Language[] {
  const firstLine = content.split('\n', 1)[0]
  const reads = (re: RegExp): boolean => re.test(firstLine) || re.test(content)
  // Most lines are a person's text: one pattern for every language tells they hold no marker.
  if (!own && ![ATTACHED_ANDROID, ATTACHED_BEFORE_RE, ATTACHED_OLD_IOS, ATTACHED_IOS, MEDIA_OMITTED_RE, OMITTED_PHRASE_RE, DELETED_RE, EDITED_RE].some(reads)) return []
  return WORDING.filter(w => w.markers.some(reads) || (own && w.notices.some(reads))).map(w => w.language)
}

export interface Attachment {
  file: string
  before: string
  after: string
  /**
   * The marker is words people write too ("فایل پیوست شد ..." is "the file is attached ..."): it names
   * an attachment only when the export holds the file. WhatsApp's own file names need no such proof.
   */
  needsFile: boolean
}

/**
 * An attachment's file name when the text is an attachment marker, with what stands before and after it.
 * A name ending in "." is one whose extension WhatsApp left out.
 */
export function attachment (content: string): Attachment | undefined {
  const firstLine = content.split('\n')[0]
  const ownName = (re: RegExp): RegExpExecArray | null => {
    const m = re.exec(firstLine)
    return m !== null && WHATSAPP_FILE.test(m[1]) ? m : null
  }
  const before = ATTACHED_BEFORE_RE.exec(firstLine)
  const android = ATTACHED_ANDROID.exec(firstLine) ?? before ?? ownName(ANDROID_ANY_SUFFIX) ?? ANDROID_NO_EXTENSION.exec(firstLine) ??
    ATTACHED_OLD_IOS.exec(firstLine) ?? ownName(OLD_IOS_ANY_WORD)
  if (android !== null) {
    const file = android[1].trim()
    return { file, before: '', after: content.slice(firstLine.length), needsFile: android === before && !WHATSAPP_FILE.test(file) }
  }
  const ios = ATTACHED_IOS.exec(content) ?? IOS_ANY_PREFIX.exec(content)
  if (ios !== null) {
    return { file: ios[1].trim(), before: content.slice(0, ios.index), after: content.slice(ios.index + ios[0].length), needsFile: false }
  }
  return undefined
}

/**
 * The kind of media an "omitted" marker stands for ('contact' for a contact card), or undefined.
 * `written` is the message as the export wrote it, with the marks iOS puts before its own words.
 */
export function omitted (content: string, written = content): MessageKind | 'contact' | undefined {
  if (MEDIA_OMITTED_RE.test(content)) return 'file'
  const m = OMITTED_RE.exec(content)
  if (m === null) return OMITTED_PHRASE_RES.find(([, re]) => re.test(content))?.[0] ?? OMITTED_MARKED_RES.find(([, re]) => re.test(written))?.[0]
  const word = m[1].toLowerCase()
  return OMITTED_TYPES.find(([, words]) => words.some(w => w.toLowerCase() === word))?.[0]
}

/**
 * The kind of media the first line of a message of several lines stands for when that line is an
 * "omitted" marker and no more, or a document's description and its marker (`description`): the lines
 * after are the caption the media was sent with. A first line that only ends in the words ("why was
 * the image omitted", then more lines) is a person's. `written` is the line as the export wrote it.
 */
export function omittedLine (line: string, written: string, description: boolean): MessageKind | 'contact' | undefined {
  const kind = omitted(line, written)
  if (kind === undefined || MEDIA_OMITTED_RE.test(line) || description) return kind
  const m = OMITTED_RE.exec(line) ?? OMITTED_PHRASE_RES.map(([, re]) => re.exec(line)).find(r => r !== null)
  // Else a phrase iOS marked as its own (U+200E), which stands alone or after a document's name.
  if (m === null || m === undefined) return kind
  return m.index === 0 ? kind : undefined
}

/** Where an iOS "omitted" marker ("document omitted") starts in the text, or undefined when it holds none. */
export function omittedAt (content: string): number | undefined {
  const m = OMITTED_RE.exec(content)
  return m === null ? undefined : m.index + (m[0].length - m[0].trimStart().length)
}

/** The text without the mark of an edited message at its end, or undefined when it has none. */
export function withoutEditMark (content: string): string | undefined {
  const m = EDITED_RE.exec(content)
  return m === null ? undefined : content.slice(0, m.index)
}

export const isDeleted = (content: string): boolean => DELETED_RE.test(content)

/** A poll: "POLL:" alone on the first line, the question and "OPTION: ... (n votes)" lines after it. */
export const isPoll = (content: string): boolean => {
  const lines = content.split('\n')
  return lines.length >= 2 && POLL_RE.test(lines[0].trim())
}

/** Languages written right to left, in which iOS puts U+200F, not U+200E, before what WhatsApp wrote itself. */
const RIGHT_TO_LEFT: readonly Language[] = ['ar', 'fa']

/**
 * After U+200F, which a person's text may begin with too, a call or a block notice counts only as the
 * whole message (a final dot allowed), as iOS writes it: a person's "تماس صوتی پاسخ داده نشده از طرف
 * مامان داشتم" (I had a missed voice call from Mum) begins with the words of one, and "شما این مخاطب را
 * مسدود کردید. چرا؟" (you blocked this contact. why?) with a notice and its dot. What Android adds
 * after a block notice ("Tap to unblock.") stands on a line without an author, which is WhatsApp's anyway.
 */
const wholeNotice = (w: readonly string[]): RegExp => new RegExp(`^(?:${anyOf(w)})\\.?$`, 'iu')
const CALL_WHOLE_RE = wholeNotice(inAnyLanguage(CALL))
const BLOCKED_WHOLE_RE = wholeNotice(inAnyLanguage(BLOCKED))
/** The markers of each right-to-left language, and its notices as they must stand after U+200F. */
const RIGHT_TO_LEFT_WORDING = WORDING.filter(w => RIGHT_TO_LEFT.includes(w.language)).map(w => ({
  markers: w.markers,
  notices: inLanguage(w.language, [[SYSTEM_DISTINCT, distinct], [CALL, wholeNotice], [BLOCKED, wholeNotice]])
}))

/**
 * Is the text WhatsApp's own wording in a right-to-left language (a marker, a notice)? A phone in
 * Arabic or Persian writes U+200F before such text, and a person's own right-to-left text may begin
 * with U+200F too: only this wording makes that mark WhatsApp's, and a notice that a person's words
 * may begin with must be the whole message. Group events are words a person uses too ("غادر", left):
 * they are left out here.
 */
export function isRightToLeftWording (content: string): boolean {
  const firstLine = content.split('\n', 1)[0]
  return RIGHT_TO_LEFT_WORDING.some(w => w.markers.some(re => re.test(firstLine) || re.test(content)) || w.notices.some(re => re.test(content)))
}

/** A line WhatsApp wrote about the chat (encryption, security code), in any supported language. */
export const isDistinctSystem = (content: string): boolean => SYSTEM_DISTINCT_RE.test(content)

/** The exporter blocked or unblocked the other person of a direct chat; `whole`: the notice must be the whole message, as after U+200F. */
export const isBlockChange = (content: string, whole = false): boolean => (whole ? BLOCKED_WHOLE_RE : BLOCKED_RE).test(content)

/** A missed or silenced call; `whole`: the call's words must be the whole message, as after U+200F. */
export const isCall = (content: string, whole = false): boolean => (whole ? CALL_WHOLE_RE : CALL_RE).test(content)

/** A group event ("X added Y", "X left", "You left", "Hai aggiunto Y"; in Thai, Persian and Korean, one of WhatsApp's whole sentences). */
export const isGroupEvent = (content: string): boolean => GROUP_EVENT_RE.test(content) || GROUP_EVENT_YOU_RE.test(content) || isGroupLine(content)

/**
 * A group event whose wording alone makes it WhatsApp's, whoever acted: any but Persian's sentences
 * around an open actor ("{A} ترک کرد", left), which a person's everyday sentence fills as well.
 * `verbs`: also a group verb anywhere ("أزال", removed), which a person's sentence may hold as well
 * ("أبي أزال الصور", Dad removed the photos); without it, only whole sentences of WhatsApp's.
 */
export const isSpecificGroupEvent = (content: string, verbs = true): boolean =>
  (verbs && GROUP_EVENT_RE.test(content)) || GROUP_EVENT_YOU_RE.test(content) || isGroupLine(content, true)

/** The "~ " WhatsApp puts before the name of someone not in the phone's contacts. */
const NON_CONTACT = /^~[\s\u202f]*/

/** "You" as the actor of a group event, per language. */
const YOU = new Set(['you', 'you’re', "you're", 'tú', 'usted', 'você', 'tu', 'vous', 'du', 'sie', 'je', 'jij', 'u', 'вы', 'ты', 'siz', 'sen', 'anda', 'kamu'])

/**
 * Is this a group event done by someone the chat knows ("Ann added Bob" where Ann is a member, "You
 * left", "Hai aggiunto Bob", "Du hast Bob hinzugefügt")? A person's "I added the photos" is not: "I"
 * is no member.
 */
export function isGroupEventBy (content: string, members: ReadonlySet<string>): boolean {
  if (GROUP_EVENT_YOU_RE.test(content) || isGroupLineBy(content, members)) return true
  const m = GROUP_EVENT_RE.exec(content)
  if (m === null) return false
  // iOS names a non-contact "~ Ann" in the sentence as on the header, where the name is read without it.
  const actor = content.slice(0, m.index).replace(NON_CONTACT, '').trim()
  return actor === '' || members.has(actor) || YOU.has(actor.toLowerCase()) || YOU_BEFORE_PARTICIPLE.test(actor)
}

const LOCATION = /^[^\n:]{0,40}: ?https?:\/\/\S*?[?&](?:q|ll)=(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)/u
/** The "location: URL" line alone, ending the message. */
const LOCATION_LAST = new RegExp(`${LOCATION.source}\\S*$`, 'u')

/**
 * A shared location: "location: https://maps.google.com/?q=LAT,LON" (the word in the phone's language).
 * Android puts a named place's name and address on the lines before it.
 */
export function location (content: string): { lat: number, lon: number } | undefined {
  const lines = content.split('\n')
  const m = LOCATION.exec(content) ?? (lines.length <= 4 ? LOCATION_LAST.exec(lines[lines.length - 1]) : null)
  if (m === null) return undefined
  const lat = Number(m[1])
  const lon = Number(m[2])
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : undefined
}

/** The kind an attachment's name implies. */
export function kindOfFile (file: string, mime: string): MessageKind {
  const f = file.split('/').pop() ?? file
  if (/-PHOTO-|^IMG-/i.test(f)) return 'image'
  if (/-VIDEO-|^VID-|-GIF-/i.test(f)) return 'video'
  if (/-AUDIO-|^PTT-/i.test(f)) return 'voice'
  if (/-STICKER-|^STK-/i.test(f)) return 'sticker'
  if (mime.startsWith('image/') && !/^(AUD|DOC)-/i.test(f)) return 'image'
  if (mime.startsWith('video/')) return 'video'
  return 'file'
}

/** A date inside a WhatsApp media file name (IMG-20231231-WA0001.jpg, 00000012-PHOTO-2023-12-31-21-05-33.jpg, 2016-09-28-PHOTO-00000004.jpg). */
export function dateInFileName (file: string): { year: number, month: number, day: number } | undefined {
  const m = /^(?:IMG|VID|AUD|PTT|STK|DOC)-(\d{4})(\d{2})(\d{2})-WA/.exec(file) ?? /^\d{8}-[A-Z]+-(\d{4})-(\d{2})-(\d{2})-/.exec(file) ??
    /^(\d{4})-(\d{2})-(\d{2})-[A-Z]+-\d/.exec(file)
  return m === null ? undefined : { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) }
}
