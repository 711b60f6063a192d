#!/usr/bin/env node
import { main } from './main.js';

// The one place that exits: ONNX Runtime and sharp keep thread pools that would
// otherwise hold the process open after the work is done.
const code = await main(process.argv.slice(2));
process.exit(code);
