// Independent writer of gain-map JPEGs, used by tests/test_ultrahdr.py to check our reader.
//
//   node encode.mjs SDR.jpg GAINMAP.jpg METADATA.json OUT.jpg
//
// Assembles an Ultra HDR file with @monogrid/gainmap-js's encodeJPEGMetadata (a JavaScript port of
// Google's libultrahdr container writer: primary XMP with GContainer directory, MPF, gain map XMP).
// METADATA.json: {gainMapMin, gainMapMax, gamma, offsetSdr, offsetHdr (arrays of 3),
// hdrCapacityMin, hdrCapacityMax, width, height, gainMapWidth, gainMapHeight}.
import { readFileSync, writeFileSync } from 'node:fs'
import { encodeJPEGMetadata } from '@monogrid/gainmap-js/libultrahdr'

const [, , sdrPath, gainPath, metaPath, outPath] = process.argv
if (!outPath) {
  console.error('usage: node encode.mjs SDR.jpg GAINMAP.jpg METADATA.json OUT.jpg')
  process.exit(2)
}
const m = JSON.parse(readFileSync(metaPath, 'utf8'))
const jpeg = encodeJPEGMetadata({
  ...m,
  sdr: { data: new Uint8Array(readFileSync(sdrPath)), mimeType: 'image/jpeg', width: m.width, height: m.height },
  gainMap: { data: new Uint8Array(readFileSync(gainPath)), mimeType: 'image/jpeg', width: m.gainMapWidth, height: m.gainMapHeight }
})
writeFileSync(outPath, jpeg)
