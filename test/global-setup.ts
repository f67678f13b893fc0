import { buildCli, isFresh } from '../bin/cli-bundle.js'

// Tests spawn `ferry` processes in parallel: build the CLI bundle once here, rather than in each of them.
export async function setup (): Promise<void> {
  if (!isFresh()) await buildCli()
}
