// npx tsx scripts/check-exports.ts [DIST]: lists every type of the package's own that a public export's
// declaration names but the entry point it is imported from does not export. An app can call such a
// function, but cannot write the type of its argument or result, nor of an event it handles.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { withoutUnusedLong } from './build/library.js'
import { scriptArgsAndPositionals, usageError } from './lib/script-args.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../..')

const USAGE = `Usage: npx tsx scripts/check-exports.ts [DIST]

Walks the declarations (.d.ts) of each entry point package.json exports and lists each type of the
package's own that a public export names (a parameter, a result, a property, a base, an event) but
that entry point does not export, with the export that names it.

  DIST   a built dist/ folder to check (npm run build -- lib). Without it, the declarations are
         emitted afresh from src/ into a temporary folder.

Exit code: 0 when every named type is exported, 1 when some are not (listed on stdout), 2 on bad usage.`

/** One type an app meets through `via` (a public export) but cannot import from `entry`. */
export interface Unexported {
  entry: string
  name: string
  file: string
  via: string
}

/** The package's entry points that have declarations: export path ('.', './node') to its .d.ts, relative to the package. */
export function declaredEntries (pkg: { exports: Record<string, unknown> }): Array<{ entry: string, types: string }> {
  const out: Array<{ entry: string, types: string }> = []
  for (const [entry, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'object' && target !== null ? (target as { types?: unknown }).types : undefined
    if (typeof types === 'string') out.push({ entry, types })
  }
  return out
}

/** Emits the library's declarations (as scripts/build/library.ts does, without the JavaScript) into `outDir`. */
export function emitDeclarations (outDir: string): void {
  const configPath = join(ROOT, 'tsconfig.build.json')
  const config = ts.getParsedCommandLineOfConfigFile(configPath, { outDir, declaration: true, emitDeclarationOnly: true, noEmit: false }, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: d => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) }
  })
  if (config === undefined) throw new Error(`cannot read ${configPath}`)
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })
  const result = program.emit()
  const errors = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter(d => d.category === ts.DiagnosticCategory.Error)
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: f => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }))
  // The generated protobuf code keeps its hand-made declarations (tsc only reads them).
  mkdirSync(join(outDir, 'wire', 'gen'), { recursive: true })
  writeFileSync(join(outDir, 'wire', 'gen', 'ferry.d.ts'), withoutUnusedLong(readFileSync(join(ROOT, 'src', 'wire', 'gen', 'ferry.d.ts'), 'utf8')))
  // The declarations import the dependencies, found as an installed package finds them.
  symlinkSync(join(ROOT, 'node_modules'), join(outDir, 'node_modules'))
}

/**
 * Every type declared under `dist` that a declaration reachable from an entry's exports names, and that
 * the entry does not export. Reachable: the exports' own declarations and, through them, the
 * declarations of each unexported type they name (so a type named only by an unexported one counts).
 */
export function unexportedTypes (dist: string, entries: Array<{ entry: string, types: string }>): Unexported[] {
  const files = entries.map(e => join(dist, relative('dist', e.types)))
  const program = ts.createProgram({ rootNames: files, options: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, lib: ['lib.es2024.d.ts', 'lib.dom.d.ts'], types: ['node'], strict: true, noEmit: true } })
  const own = (d: ts.Node): boolean => {
    const path = relative(dist, d.getSourceFile().fileName)
    return !path.startsWith('..') && !path.split(sep).includes('node_modules')
  }
  // Declarations that do not compile (a type left out of them, a module missing) would hide what they name.
  const broken = program.getSourceFiles().filter(own).flatMap(f => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)])
  if (broken.length > 0) throw new Error(`the declarations do not compile:\n${ts.formatDiagnostics(broken, { getCanonicalFileName: f => f, getCurrentDirectory: () => dist, getNewLine: () => '\n' })}`)
  const checker = program.getTypeChecker()
  const resolveAlias = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(s) : s

  const found: Unexported[] = []
  entries.forEach((e, i) => {
    const source = program.getSourceFile(files[i])
    const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source)
    if (moduleSymbol === undefined) throw new Error(`${files[i]} is not a module (is the build there?)`)
    const exported = new Set(checker.getExportsOfModule(moduleSymbol).map(resolveAlias))
    const seen = new Set<ts.Symbol>()
    const queue: Array<{ symbol: ts.Symbol, via: string }> = [...exported].map(symbol => ({ symbol, via: symbol.name }))

    const named = (node: ts.Node, via: string): void => {
      let symbol = checker.getSymbolAtLocation(node)
      if (symbol === undefined) return
      symbol = resolveAlias(symbol)
      if ((symbol.flags & ts.SymbolFlags.TypeParameter) !== 0) return
      const decls = symbol.declarations ?? []
      if (decls.length === 0 || !decls.some(own)) return
      if (exported.has(symbol) || seen.has(symbol)) return
      seen.add(symbol)
      found.push({ entry: e.entry, name: symbol.name, file: relative(dist, decls.find(own)!.getSourceFile().fileName), via })
      queue.push({ symbol, via: `${via} > ${symbol.name}` })
    }
    const leftmost = (n: ts.EntityName | ts.Expression): ts.Node =>
      ts.isQualifiedName(n) ? leftmost(n.left) : ts.isPropertyAccessExpression(n) ? leftmost(n.expression) : n
    const visit = (node: ts.Node, via: string): void => {
      // What a class or an object keeps private is no part of what an app writes.
      if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some(m => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword) === true) return
      if ((ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node)) && ts.isPrivateIdentifier(node.name)) return
      // A qualified name (`ErrorCode.BAD_INPUT`, `ns.Type`): its leftmost part is what an app imports.
      if (ts.isTypeReferenceNode(node)) named(leftmost(node.typeName), via)
      else if (ts.isExpressionWithTypeArguments(node)) named(leftmost(node.expression), via)
      else if (ts.isTypeQueryNode(node)) named(leftmost(node.exprName), via)
      else if (ts.isImportTypeNode(node) && node.qualifier !== undefined) named(leftmost(node.qualifier), via)
      ts.forEachChild(node, child => { visit(child, via) })
    }

    for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
      for (const d of q.symbol.declarations ?? []) if (own(d)) visit(d, q.via)
    }
  })
  return found
}

function main (): void {
  const { positionals } = scriptArgsAndPositionals(USAGE, {})
  if (positionals.length > 1) usageError(USAGE, `one DIST at most, not ${positionals.length}`)
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string, exports: Record<string, unknown> }
  const entries = declaredEntries(pkg)
  let dist = positionals[0] === undefined ? undefined : resolve(positionals[0])
  const temp = dist === undefined ? mkdtempSync(join(tmpdir(), 'ferry-check-exports-')) : undefined
  try {
    if (temp !== undefined) {
      emitDeclarations(temp)
      dist = temp
    }
    const found = unexportedTypes(dist!, entries)
    for (const entry of new Set(found.map(f => f.entry))) {
      const here = found.filter(f => f.entry === entry)
      process.stdout.write(`${join(pkg.name, entry)}: ${here.length} type${here.length === 1 ? '' : 's'} named by its exports but not exported\n`)
      for (const f of here) process.stdout.write(`  ${f.name} (${f.file}), named by ${f.via}\n`)
    }
    if (found.length === 0) process.stderr.write(`every type the exports of ${entries.map(e => join(pkg.name, e.entry)).join(' and ')} name is exported\n`)
    process.exitCode = found.length === 0 ? 0 : 1
  } catch (err) {
    process.stderr.write(`check-exports: ${(err as Error).message}\n`)
    process.exitCode = 2
  } finally {
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
