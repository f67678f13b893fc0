// npm run web:build: bundles the browser phone (src/web) into web-dist/ (or the directory given).
import { buildWeb } from '../src/web/build.js'

const out = process.argv[2]
const r = await buildWeb(out)
process.stdout.write(`built ${r.outDir}/app.js (${(r.bytes / 1e6).toFixed(2)} MB) in ${Math.round(r.ms)} ms\n`)
