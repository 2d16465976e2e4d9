// Path canonicalisation, source-to-target mapping, replica-root safety and validation checks.
export {
  AbsolutePathSchema, normalizeAbsolutePath, pathSegments, isSameOrInside, joinAbsolute, relativeBelow, outermostPaths,
} from './absolute-path';
export { assertSafeRelativePath, relativeInsideRoot } from './safe-relative';
export { PathMappingSchema, type PathMapping, mapSourcePath, unmapTargetPath } from './mapping';
export {
  pathsOverlap, mappedTargetRoots, findUnmappedRoots, findMappingLoops, findOverlappingTargets, type MappingLoop,
} from './overlap';
