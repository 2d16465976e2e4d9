// Licensing, pure parts: code format, licence files, the state machine and edition gating.
export * from './model';
export * from './checked-code';
export * from './codes';
export * from './licence-file';
export * from './lifecycle';
export * from './editions';
export * from './gate';
export * from './report';
export * from './api';
