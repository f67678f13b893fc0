// Debian's chromium driven by playwright-core (never `npx playwright install`). The test set-up step
// (scripts/test-setup.ts, run by `npm test`) installs it; where it is missing or does not start, the
// browser tests skip with the reason printed, or fail under CI=true.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
  // Debian's Chromium 14x reaches a webrtc-direct listener on 127.0.0.1 without
  // --allow-loopback-in-peer-connection (the browser dials; it gathers no candidates of its own).
]

export interface Browser {
  context: BrowserContext
  close(): Promise<void>
}

/** Why Chromium cannot run here, or undefined when it can. */
export async function chromiumUnavailable (): Promise<string | undefined> {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (Debian package chromium; \`npm test\` installs it when run as root)`
  try {
    const b = await launchChromium()
    await b.close()
    return undefined
  } catch (err) {
    return `Chromium at ${CHROMIUM} does not start: ${(err as Error).message.split('\n')[0]}`
  }
}

/**
 * A fresh headless Chromium with an empty profile (user-data-dir), removed on close. `executable`: a
 * wrapper that starts /usr/bin/chromium elsewhere (in a network namespace); Playwright drives it over
 * a pipe, so it need not share the browser's network. `preferences`: the profile's settings to start with.
 */
export async function launchChromium (extraArgs: string[] = [], executable = CHROMIUM, opts: { preferences?: object } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'ferry-chromium-'))
  try {
    // The profile's settings as a person would have set them (site storage blocked, say).
    if (opts.preferences !== undefined) {
      mkdirSync(join(profile, 'Default'))
      writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify(opts.preferences))
    }
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: executable,
      headless: true,
      args: [...CHROMIUM_FLAGS, ...extraArgs],
      timeout: 60_000
    })
    return {
      context,
      close: async () => {
        await context.close().catch(() => {})
        rmSync(profile, { recursive: true, force: true })
      }
    }
  } catch (err) {
    rmSync(profile, { recursive: true, force: true })
    throw err
  }
}
