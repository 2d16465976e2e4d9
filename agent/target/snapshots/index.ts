// Point-in-time snapshots of a job's replica on the target: the store (take/list/delete/revert) and the scheduler.
export { SnapshotManager, type SnapshotManagerOptions, type SnapshotRun } from './snapshot-manager';
export {
  deleteAllSnapshots, deleteSnapshot, listSnapshots, revertToSnapshot, takeSnapshot,
  type SnapshotInfo, type SnapshotStepResult, type TakeSnapshotOptions, type SnapshotIoOptions,
} from './snapshot-store';
export { chooseSnapshotMethod, hostProbe, type BtrfsProbe, type SnapshotMethod } from './btrfs';
