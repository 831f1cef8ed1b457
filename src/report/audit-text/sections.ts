import { backgroundSection } from './background.js';
import { brokenSection } from './broken.js';
import { captureSection } from './capture.js';
import { expectedSection } from './expected.js';
import { headerSection } from './header.js';
import { inconclusiveSection } from './inconclusive.js';
import { mismatchSection } from './mismatches.js';
import { rpcCallsSection } from './rpc-calls.js';
import { satisfiedSection } from './satisfied.js';
import { summarySection } from './summary.js';
import { undocumentedSection } from './undocumented.js';
import type { TextSection } from './view.js';
import { waivedSection } from './waived.js';

/**
 * The text report's sections, in the order a reader meets them: what was read, how far it can be
 * trusted, the counts, what is broken, what is unexplained, what is misplaced, what was accepted, the
 * site's infrastructure (background), what was proven (the required flows seen, the documented flows). A section is one function in its own
 * file and one row here; it yields nothing when it has nothing to say.
 */
export const TEXT_SECTIONS: ReadonlyArray<{ name: string; lines: TextSection }> = [
  { name: 'header', lines: headerSection },
  { name: 'capture', lines: captureSection },
  { name: 'summary', lines: summarySection },
  { name: 'missing-failing', lines: brokenSection },
  { name: 'undocumented', lines: undocumentedSection },
  { name: 'role-mismatch', lines: mismatchSection },
  { name: 'inconclusive', lines: inconclusiveSection },
  { name: 'waived', lines: waivedSection },
  { name: 'background', lines: backgroundSection },
  { name: 'dce-rpc-calls', lines: rpcCallsSection },
  { name: 'satisfied', lines: satisfiedSection },
  { name: 'expected', lines: expectedSection },
];
