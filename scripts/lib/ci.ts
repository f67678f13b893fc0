/**
 * Whether this is a CI run: CI set to anything but '', '0' or 'false' (GitHub Actions, GitLab and
 * others set CI=true). Under CI a suite, a tool or a gauntlet part that cannot run is a failure, so that a
 * green run means everything it claims ran; on a developer's machine it is skipped with the reason.
 */
export function inCI (env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI?.trim().toLowerCase()
  return v !== undefined && v !== '' && v !== '0' && v !== 'false'
}
