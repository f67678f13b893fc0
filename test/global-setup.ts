import { buildCli, CLI_ENTRY } from '../scripts/build/cli.js'
import { buildLibrary } from '../scripts/build/library.js'
import { buildPage, PAGE_DIR } from '../scripts/build/page.js'
import { DIST, isStale } from '../scripts/build/paths.js'
import { join } from 'node:path'

// Tests run the CLI as users do, from its build (bin/ferry.js runs dist/cli/), and `ferry web` serves
// the built page; the examples (test/examples) import the package by its name, which resolves to the
// library's build (dist/). Build them here, once, when the sources changed since: none of them checks.
export async function setup (): Promise<void> {
  if (isStale(join(DIST, 'index.js'))) buildLibrary()
  if (isStale(CLI_ENTRY)) await buildCli()
  if (isStale(join(PAGE_DIR, 'app.js'))) await buildPage()
}
