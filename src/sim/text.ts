import type { Rng } from './prng.js'

// Names, phone numbers and chat lines in several scripts. The mix is chosen to exercise what breaks
// text handling: CJK without spaces, right-to-left Arabic and Hebrew, combining Devanagari, Latin with
// diacritics, emoji beyond the BMP (surrogate pairs, skin tones, ZWJ sequences, flags).

/** Script families: contacts are spread over all of them so even a tiny history has each. */
export type ScriptFamily = 'latin' | 'cjk' | 'rtl' | 'other'

export interface Locale {
  tag: string
  script: ScriptFamily
  given: readonly string[]
  family: readonly string[]
  /** Family name first and no space between the parts (zh, ja, ko). */
  familyFirst: boolean
  /** `#` is replaced by a random digit; ranges are the ones reserved for fiction where a country has them. */
  phone: string
  phrases: readonly string[]
  /** Between phrases of one message: CJK runs sentences together. */
  join: string
  groupTitles: readonly string[]
}

export const LOCALES: readonly Locale[] = [
  {
    tag: 'en',
    script: 'latin',
    given: ['Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'James', 'Sophia', 'Lucas', 'Mia', 'Ethan', 'Chloe', 'Jack'],
    family: ['Smith', 'Johnson', "O'Brien", 'Williams', 'Brown', 'Taylor', 'Clarke', 'Nguyen', 'Patel', 'Walker'],
    familyFirst: false,
    phone: '+1 415 555 01##',
    phrases: ['hey!', 'Are you still coming tonight?', 'lol', 'Running 10 minutes late, sorry', 'Did you see the game yesterday?',
      'Can you send me the address?', 'Happy birthday!!', 'ok', 'Thanks so much', "I'll call you later", 'Where are you?',
      "That's hilarious", 'Let me check and get back to you', 'Good morning ☀️', 'Sounds good to me', "Don't forget the tickets",
      'Miss you', 'See you at 7', 'What time is the meeting tomorrow?', "I'm on the train now"],
    join: ' ',
    groupTitles: ['Family', 'Book club 📚', 'Football ⚽ Sunday', 'Trip to Lisbon 2023', 'Flat 4B', 'Work — Project Falcon', 'Uni friends 🎓']
  },
  {
    tag: 'es',
    script: 'latin',
    given: ['José', 'María', 'Lucía', 'Sofía', 'Martín', 'Alejandro', 'Carmen', 'Pablo', 'Inés', 'Andrés'],
    family: ['García', 'Fernández', 'López', 'Martínez', 'Sánchez', 'Pérez', 'Gómez', 'Núñez', 'Ibáñez'],
    familyFirst: false,
    phone: '+34 6## ### ###',
    phrases: ['¡Hola! ¿Qué tal?', '¿Quedamos mañana?', 'Ya voy, estoy en el metro', 'jajaja', '¡Feliz cumpleaños!', 'Vale, perfecto',
      '¿Has visto el partido?', 'Te llamo luego', 'Llego en diez minutos', 'Gracias, de verdad', '¿Dónde estás?', 'Qué pasada',
      'Buenos días', 'No te olvides de las entradas', 'Te echo de menos', 'Nos vemos a las ocho'],
    join: ' ',
    groupTitles: ['Familia 👨‍👩‍👧', 'Cumple de Lucía 🎂', 'Fútbol los martes', 'Vecinos del 3º']
  },
  {
    tag: 'de',
    script: 'latin',
    given: ['Jürgen', 'Lena', 'Lukas', 'Sophie', 'Maximilian', 'Hannah', 'Felix', 'Jörg', 'Anna', 'Björn'],
    family: ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weiß', 'Wagner', 'Becker', 'Schäfer', 'Groß'],
    familyFirst: false,
    phone: '+49 15# #######',
    phrases: ["Hallo! Wie geht's?", 'Bin gleich da', 'Kommst du heute Abend noch?', 'Alles Gute zum Geburtstag!', 'Danke dir!',
      'Ich ruf dich später an', 'Wo bist du gerade?', 'Passt, bis morgen', 'Der Zug hat wieder Verspätung 🙄', 'Hast du die Schlüssel?',
      'Schönes Wochenende!', 'Grüße an die Familie', 'Können wir das auf Donnerstag verschieben?',
      'Straße ist gesperrt, ich nehme die Umleitung', 'Süß! 😍', 'Gute Nacht'],
    join: ' ',
    groupTitles: ['Familie', 'Wandergruppe 🥾', 'WG Küche', 'Elternabend 3b']
  },
  {
    tag: 'zh',
    script: 'cjk',
    given: ['伟', '芳', '娜', '秀英', '敏', '静', '丽', '强', '磊', '洋', '艳', '勇', '杰', '娟'],
    family: ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周'],
    familyFirst: true,
    phone: '+86 13# #### ####',
    phrases: ['你好！', '今天晚上一起吃饭吗？', '我已经到了', '哈哈哈哈', '生日快乐！🎂', '好的，没问题', '你在哪儿？', '等我十分钟',
      '谢谢你', '明天见', '周末有空吗？', '我在地铁上', '这个太好笑了', '记得带伞，今天会下雨', '早上好', '晚安'],
    join: '',
    groupTitles: ['相亲相爱一家人', '大学同学群', '周末爬山', '公司年会筹备']
  },
  {
    tag: 'ja',
    script: 'cjk',
    given: ['翔太', '陽菜', '蓮', '結衣', '大翔', 'さくら', '悠真', '美咲', '健太', '愛'],
    family: ['佐藤', '鈴木', '高橋', '田中', '伊藤', '渡辺', '山本', '中村', '小林'],
    familyFirst: true,
    phone: '+81 90-####-####',
    phrases: ['おはよう！', '今日の夜、空いてる？', 'ちょっと遅れます、ごめん🙏', 'ありがとう！', '了解です', '誕生日おめでとう🎉',
      'どこにいるの？', '駅に着いたよ', 'また明日ね', 'それめっちゃ面白い笑', '週末どうする？', 'お疲れさまです', '傘持ってきてね',
      '写真送るね', '楽しみにしてる！', 'おやすみ'],
    join: '',
    groupTitles: ['家族', '大学サークル', '週末フットサル⚽', '同期会']
  },
  {
    tag: 'ko',
    script: 'cjk',
    given: ['민준', '서연', '도윤', '지우', '하준', '서윤', '지호', '수아', '예준', '하은'],
    family: ['김', '이', '박', '최', '정', '강', '조', '윤', '장'],
    familyFirst: true,
    phone: '+82 10-####-####',
    phrases: ['안녕!', '오늘 저녁에 시간 있어?', '지금 가는 중이야', 'ㅋㅋㅋㅋ', '생일 축하해! 🎂', '고마워', '어디야?', '10분만 기다려줘',
      '내일 봐', '주말에 뭐 해?', '알겠어', '진짜 웃기다', '사진 보내줄게', '잘 자', '회의 몇 시야?', '수고했어'],
    join: ' ',
    groupTitles: ['가족', '대학 동기', '주말 등산 모임']
  },
  {
    tag: 'ar',
    script: 'rtl',
    given: ['محمد', 'فاطمة', 'أحمد', 'مريم', 'علي', 'نور', 'عمر', 'ليلى', 'يوسف', 'سارة', 'خالد', 'هدى'],
    family: ['العلي', 'الحسن', 'منصور', 'الخطيب', 'حداد', 'النجار', 'صالح', 'عبد الله'],
    familyFirst: false,
    phone: '+966 5# ### ####',
    phrases: ['مرحبا! كيف حالك؟', 'هل أنت قادم الليلة؟', 'أنا في الطريق', 'كل عام وأنت بخير 🎉', 'شكرا جزيلا', 'أين أنت؟',
      'سأتصل بك لاحقا', 'تمام، اتفقنا', 'صباح الخير', 'تصبح على خير', 'انتظرني عشر دقائق', 'هههههه', 'لا تنسَ التذاكر',
      'اشتقت لك', 'نلتقي الساعة السابعة', 'إن شاء الله'],
    join: ' ',
    groupTitles: ['العائلة', 'أصدقاء الجامعة', 'رحلة رمضان 🌙']
  },
  {
    tag: 'he',
    script: 'rtl',
    given: ['נועה', 'יוסי', 'תמר', 'דוד', 'מאיה', 'איתי', 'שירה', 'אורי', 'רותם', 'עומר'],
    family: ['כהן', 'לוי', 'מזרחי', 'פרץ', 'ביטון', 'אברהם', 'פרידמן', 'שפירא'],
    familyFirst: false,
    phone: '+972 5#-###-####',
    phrases: ['היי! מה נשמע?', 'אתה בא הערב?', 'אני בדרך', 'יום הולדת שמח! 🎉', 'תודה רבה', 'איפה אתה?', 'אתקשר אליך אחר כך',
      'סבבה, מסכים', 'בוקר טוב', 'לילה טוב', 'חכה לי עשר דקות', 'חחחחח', 'אל תשכח את הכרטיסים', 'מתגעגע', 'נתראה בשבע', 'שבת שלום'],
    join: ' ',
    groupTitles: ['המשפחה', 'חברים מהצבא', 'ועד בית']
  },
  {
    tag: 'ru',
    script: 'other',
    given: ['Александр', 'Дмитрий', 'Сергей', 'Иван', 'Михаил', 'Андрей', 'Никита', 'Павел'],
    family: ['Иванов', 'Смирнов', 'Кузнецов', 'Попов', 'Соколов', 'Лебедев', 'Новиков', 'Морозов'],
    familyFirst: false,
    phone: '+7 9## ###-##-##',
    phrases: ['Привет! Как дела?', 'Ты сегодня придёшь?', 'Уже еду', 'С днём рождения! 🎉', 'Спасибо большое', 'Ты где?',
      'Перезвоню позже', 'Хорошо, договорились', 'Доброе утро', 'Спокойной ночи', 'Подожди десять минут', 'ахахах',
      'Не забудь билеты', 'Скучаю', 'Встретимся в семь', 'Ключи у тебя?'],
    join: ' ',
    groupTitles: ['Семья', 'Дача 🌲', 'Однокурсники']
  },
  {
    tag: 'hi',
    script: 'other',
    given: ['आरव', 'अनन्या', 'विवान', 'दिया', 'अर्जुन', 'प्रिया', 'रोहन', 'सान्वी', 'कबीर', 'ईशा'],
    family: ['शर्मा', 'वर्मा', 'गुप्ता', 'सिंह', 'पटेल', 'कुमार', 'मेहता', 'जोशी'],
    familyFirst: false,
    phone: '+91 9#### #####',
    phrases: ['नमस्ते! कैसे हो?', 'आज शाम को आ रहे हो?', 'मैं रास्ते में हूँ', 'जन्मदिन मुबारक हो! 🎉', 'बहुत धन्यवाद', 'कहाँ हो?',
      'बाद में फ़ोन करता हूँ', 'ठीक है', 'सुप्रभात', 'शुभ रात्रि', 'दस मिनट रुको', 'हाहाहा', 'टिकट मत भूलना', 'याद आ रही है',
      'सात बजे मिलते हैं', 'चाय पीने चलें?'],
    join: ' ',
    groupTitles: ['परिवार', 'कॉलेज के दोस्त', 'क्रिकेट 🏏']
  }
]

/** Skin tones, ZWJ families, flags and variation selectors: every way an emoji spans several code units. */
const EMOJI = ['😀', '😂', '🥲', '😍', '🙏', '👍', '👍🏽', '🎉', '❤️', '🔥', '😅', '🤔', '👀', '💪🏿', '🙈', '🥳', '😭', '✨',
  '👨‍👩‍👧', '🇯🇵', '🇧🇷', '🫶', '🧑🏾‍💻', '☕']

/** How people save a few contacts: by role, with emoji. */
const NICKNAMES = ['Mom ❤️', 'Dad 👨‍🦳', 'Oma 👵', 'Landlord', 'Plumber 🔧', 'Pizza Napoli 🍕', 'Dr. Weiß (dentist)', 'Tía Carmen 💐', '🏋️ Gym Tom']

/** A file message's text is its file name; the extension decides the media type. */
const FILE_NAMES = ['Boarding pass.pdf', 'Rechnung_2023-04.pdf', '合同.pdf', 'CV – María López.docx', 'Budget 2024.xlsx', 'photos.zip',
  'تقرير.pdf', 'menu.pdf', 'Договор аренды.pdf', 'slides-final-FINAL.pdf']

export function fillDigits (rng: Rng, template: string): string {
  return template.replace(/#/g, () => String(rng.int(10)))
}

export function personName (rng: Rng, locale: Locale): string {
  const given = rng.pick(locale.given)
  const family = rng.pick(locale.family)
  return locale.familyFirst ? `${family}${given}` : `${given} ${family}`
}

export function nickname (rng: Rng): string {
  return rng.pick(NICKNAMES)
}

export function fileName (rng: Rng): string {
  return rng.pick(FILE_NAMES)
}

export function emoji (rng: Rng, count = 1): string {
  let s = ''
  for (let i = 0; i < count; i++) s += rng.pick(EMOJI)
  return s
}

/** An everyday chat line: one to three phrases, sometimes with emoji, sometimes only emoji. */
export function chatLine (rng: Rng, locale: Locale): string {
  const r = rng.float()
  if (r < 0.05) return emoji(rng, rng.range(1, 3))
  let last = rng.pick(locale.phrases)
  let s = last
  const extra = r < 0.55 ? 0 : r < 0.85 ? 1 : 2
  for (let i = 0; i < extra; i++) {
    let next = rng.pick(locale.phrases)
    if (next === last) next = rng.pick(locale.phrases) // people rarely say the same thing twice in a row
    s += locale.join + next
    last = next
  }
  if (rng.chance(0.2)) s += ' ' + emoji(rng, rng.range(1, 2))
  return s
}

/** A pasted article or a long dictated message: paragraphs, from 1 to about 8 KB of UTF-8. */
export function longText (rng: Rng, locale: Locale): string {
  const target = rng.range(1000, 6000) // UTF-16 units; UTF-8 never takes fewer bytes
  let text = ''
  while (text.length < target) {
    const sentences: string[] = []
    for (let i = rng.range(4, 20); i > 0; i--) sentences.push(rng.pick(locale.phrases))
    text += (text === '' ? '' : '\n\n') + sentences.join(locale.join)
  }
  return text
}

export function caption (rng: Rng, locale: Locale): string | undefined {
  return rng.chance(0.2) ? chatLine(rng, locale) : undefined
}

export function groupTitle (rng: Rng, locale: Locale): string {
  return rng.pick(locale.groupTitles)
}

/** Notices the app itself writes into a chat. `actor` is a display name, "You" for the owner. */
export function groupCreated (actor: string, title: string): string {
  return `${actor} created group “${title}”`
}

export function membersAdded (actor: string, names: string[]): string {
  return `${actor} added ${names.join(', ')}`
}

const GROUP_NOTICES = [
  (a: string) => `${a} changed this group's icon`,
  (a: string) => `${a} changed the group description`,
  (a: string) => `${a} pinned a message`,
  (a: string) => `${a} turned on disappearing messages. New messages will disappear from this chat 7 days after they're sent.`,
  (a: string) => `${a} turned off disappearing messages.`
]

const DIRECT_NOTICES = [
  () => 'Missed voice call',
  () => 'Missed video call',
  (a: string) => `Your security code with ${a} changed. Tap to learn more.`,
  () => 'Voice call · 12 min'
]

export function notice (rng: Rng, group: boolean, actor: string): string {
  return rng.pick(group ? GROUP_NOTICES : DIRECT_NOTICES)(actor)
}

export interface Place {
  lat: number
  lon: number
  label: string
}

/** Both hemispheres and both sides of Greenwich, labelled in their own scripts. */
export const PLACES: readonly Place[] = [
  { lat: 52.525084, lon: 13.369402, label: 'Berlin Hauptbahnhof' },
  { lat: 35.659482, lon: 139.700547, label: '渋谷スクランブル交差点' },
  { lat: 48.854027, lon: 2.332519, label: 'Café de Flore' },
  { lat: 31.776719, lon: 35.234508, label: 'הכותל המערבי' },
  { lat: 25.197197, lon: 55.274376, label: 'برج خليفة' },
  { lat: 39.865208, lon: 116.378596, label: '北京南站' },
  { lat: -33.856784, lon: 151.215297, label: 'Sydney Opera House' },
  { lat: 40.415511, lon: -3.707400, label: 'Plaza Mayor, Madrid' },
  { lat: 55.753930, lon: 37.620795, label: 'Красная площадь' },
  { lat: 28.612912, lon: 77.229510, label: 'इंडिया गेट' },
  { lat: 37.819929, lon: -122.478255, label: 'Golden Gate Bridge' },
  { lat: -23.561414, lon: -46.655881, label: 'Avenida Paulista' },
  { lat: 37.566535, lon: 126.977969, label: '서울시청' },
  { lat: 64.141703, lon: -21.926600, label: 'Hallgrímskirkja' }
]
