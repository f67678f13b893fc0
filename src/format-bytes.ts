/**
 * A byte count as people read it, in decimal (SI) units as disks and networks are sold: "950 B",
 * "1.2 kB", "3.4 MB", "1.69 GB". One function for the CLI and the page, so a phone and a terminal
 * watching the same transfer say the same size.
 */
export function formatBytes (n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let i = 0
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++ }
  return `${n.toFixed(i === 0 ? 0 : i >= 3 ? 2 : 1)} ${units[i]}`
}
