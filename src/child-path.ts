import { sep } from 'node:path'

/**
 * `dir`/`name`, for a folder already resolved (absolute and normalised) and a name that is one path
 * segment (a sha256, a name made from one): what path.join gives, without normalising the whole path
 * again, which a photo-heavy transfer did several times a file.
 */
export function childPath (dir: string, name: string): string {
  return dir.endsWith(sep) ? dir + name : dir + sep + name
}
