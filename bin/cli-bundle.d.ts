export const ROOT: string
export const BUNDLE: string
export function isFresh (): boolean
export function latin1Source (text: string): string
export function buildCli (): Promise<void>
export function cliBundle (): Promise<string | undefined>
