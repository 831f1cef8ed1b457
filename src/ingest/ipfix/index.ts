/**
 * Flow export as an input: IPFIX, NetFlow v9 and v5 messages decoded (decoder.ts), IPFIX files read
 * (file.ts), and the records stitched into flowaudit's bidirectional flows (stitch.ts); and as an
 * output: flowaudit's flows as IPFIX messages (encode.ts), written to files (file.ts).
 */
export { FlowExportDecoder, PENDING_BYTES, PENDING_MESSAGES, TEMPLATE_LIFETIME_MS, type DecoderOptions, type DecoderStats } from './decoder.js';
export { FlowStitcher, IDLE_MS, MAX_CONVERSATIONS, type StitcherOptions, type StitcherStats } from './stitch.js';
export { IpfixFileReader, IpfixFileWriter, IpfixFlowReader, plainRecord, readIpfixFile, readIpfixFlows, writeIpfixFile } from './file.js';
export { encodeFlows, IpfixEncoder, MESSAGE_BYTES, TEMPLATE_REFRESH_MESSAGES, TEMPLATE_REFRESH_MS, type EncoderOptions, type EncoderStats } from './encode.js';
export { ExportRecordView, type ExportRecord } from './view.js';
export type { DomainState } from './templates.js';
export { DIRECTION_CODES, ELEMENTS, FLOWAUDIT_PEN, OUTCOME_CODES, REVERSE_PEN } from './elements.js';
export { addConversation, exportSourceFacts, readIpfixRun } from './run.js';
