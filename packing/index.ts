// The packing library: the chunkfile engine for one volume directory (format in FORMAT.md).
export {
  CorruptEntryError,
  EntryNotFoundError,
  InvalidInputError,
  PackingError,
  VolumeFormatError,
  VolumeFullError,
} from './errors.ts';
export type * from './types.ts';
export { Volume } from './volume.ts';
