// The error classes of docs/FORMAT.md ("Errors"); messages match the Python reader's where they can.

export class CompactError extends Error {
  get name() { return this.constructor.name; }
}
export class FormatError extends CompactError {}
export class TruncatedStreamError extends FormatError {}
export class ChecksumError extends FormatError {}
export class ModelMismatchError extends CompactError {}
export class ModelError extends CompactError {}
export class ImageError extends CompactError {}
