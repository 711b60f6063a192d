#!/usr/bin/env node
import { ignoreClosedPipe, main } from './main.js';

// A file size limit (ulimit -f) would kill the process with SIGXFSZ mid-write; ignored, the
// write fails with EFBIG instead and medcap says which file and how to resume.
process.on('SIGXFSZ', () => {});
ignoreClosedPipe(process.stdout);

// The one place that exits: ONNX Runtime and sharp keep thread pools that would
// otherwise hold the process open after the work is done.
const code = await main(process.argv.slice(2));
process.exit(code);
