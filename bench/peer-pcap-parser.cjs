// Peer for the benchmark: pcap-parser (npm), counting packet events only.
const pcapParser = require('pcap-parser');
let n = 0;
const parser = pcapParser.parse(process.argv[2]);
parser.on('packet', () => n++);
parser.on('end', () => console.log(`${n} packets`));
parser.on('error', (e) => {
  console.error(e.message);
  process.exit(1);
});
