/**
 * Flow export as an input: IPFIX, NetFlow v9 and v5 messages decoded (decoder.ts), IPFIX files read
 * (file.ts), and the records stitched into flowaudit's bidirectional flows (stitch.ts).
 */
export { FlowExportDecoder, PENDING_BYTES, PENDING_MESSAGES, TEMPLATE_LIFETIME_MS, type DecoderOptions, type DecoderStats } from './decoder.js';
export { FlowStitcher, IDLE_MS, MAX_CONVERSATIONS, type StitcherOptions, type StitcherStats } from './stitch.js';
export { IpfixFileReader, IpfixFlowReader, plainRecord, readIpfixFile, readIpfixFlows, writeIpfixFile } from './file.js';
export { ExportRecordView, type ExportRecord } from './view.js';
export type { DomainState } from './templates.js';
export { ELEMENTS, REVERSE_PEN } from './elements.js';
export { addConversation, exportSourceFacts, readIpfixRun } from './run.js';
