import { buildCli, CLI_ENTRY } from '../scripts/build/cli.js'
import { buildPage, PAGE_DIR } from '../scripts/build/page.js'
import { isStale } from '../scripts/build/paths.js'
import { join } from 'node:path'

// Tests run the CLI as users do, from its build (bin/ferry.js runs dist/cli/), and `ferry web` serves
// the built page. Build them here, once, when the sources changed since: the CLI itself never checks.
export async function setup (): Promise<void> {
  if (isStale(CLI_ENTRY)) await buildCli()
  if (isStale(join(PAGE_DIR, 'app.js'))) await buildPage()
}
