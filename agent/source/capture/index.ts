// Change capture on the source: watch the protected set and emit ordered FileOps with only changed bytes.
export {
  ChangeCapture, type ChangeCaptureOptions, type StartOptions, type CaptureStats, type CaptureLogger,
} from './change-capture';
export type { CapturedOp, CaptureWarning, CaptureWarningCode, Observation, Observed, PlannedOp, EntryKind } from './types';
export { planOps, needsContentCheck, RACY_MARGIN_MS, TEMP_INFIX } from './plan-ops';
export { TreeIndex, type TreeNode, type FileHashes } from './tree-index';
export { BlockDiffer, shouldRegrade } from './block-diff';
export { MAX_CHUNK_BYTES } from './file-content';
export { fsWatchDir, type WatchFunction, type WatchListener, type DirWatch } from './dir-watcher';
