/** The fault-tolerance channel's wire format (docs/PROTOCOL.md, "Fault-tolerance channel"). */
export { FtAuthError, FtPeerMismatchError, FtStreamEndedError, FtWireError } from './errors.js';
export { channelKeys, FRAME_TAG_SIZE, type ChannelKeys } from './frame-auth.js';
export { FT_CHANNEL_VERSION, PAGE_SIZE, type FtRole } from './format.js';
export type {
  ChannelMessage, DiskDiscard, DiskOp, DiskWrite, EpochContent, EpochPages, Hello, StagedPages,
} from './messages.js';
export { localHello } from './hello.js';
export { encodeMessage } from './encode.js';
export { ChannelReader, type ChannelReaderOptions } from './channel-reader.js';
export { ChannelWriter } from './channel-writer.js';
export { applyPages, stagePages } from './stage-pages.js';
export {
  MAX_VERIFY_RANGES, verifyChunkCount, type PageRange, type VerifyRequest, type VerifyResult,
} from './verify-messages.js';
